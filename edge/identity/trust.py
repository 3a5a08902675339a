"""Pass trust over the list store: signer keys by kid and revocation lookups (docs/lists.md).

`StoreTrust(store)` is the `TrustSource` the pass verifier asks (edge.identity.passes):
`public_key(kid)` and `is_revoked(kind, hashes)`. It keeps the store's trusted keys and
revocation hashes in memory and reloads them only when `store.trust_serial` moved (every change
to either table raises it), so a subject's health change costs no reload.

Revocations are held per kind as one sorted numpy array of 16-byte void values (read in the
primary key's memcmp order, so no sort) and looked up with `np.searchsorted`: about 4 us per
call and 16 MB for a million hashes (bench/bench_trust.py). A Python set of bytes is ~20x
faster per lookup (0.1 us) but takes about five times the memory (~85 MB per million) on a
box whose lookups come a few times a second; the array was chosen.

The kid rule and the revocation hashes a pass yields are the verifier's
(edge.identity.passes.keys / .claims); stored keys are filed under the same kid
(edge.identity.trustlists). `combined(static, lists_dir)` is `pass verify --lists`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from edge.identity.store import ListStore
from edge.identity.trustlists import (
    HASH_BYTES,
    REVOCATION_KINDS,
    TrustedKey,
    public_key_of,
    trusted_key,
)

__all__ = ["RevocationIndex", "StoreTrust", "TrustUnion", "combined", "public_key_of",
           "trusted_key", "trusted_keys_from_file"]

# Which stored revocation kinds a pass of each kind is checked against.
PASS_REVOCATION_KINDS = {"compound": ("compound",),
                         "dcc": ("dcc-uci", "dcc-country-uci", "dcc-signature")}


def trusted_keys_from_file(path: Path) -> list[TrustedKey]:
    """The trusted keys in a file: a PEM public key (compound, Ed25519), or PEM (one or more)
    / DER X.509 certificates (dcc). ValueError naming what is wrong."""
    data = Path(path).read_bytes()
    if b"PRIVATE KEY-----" in data:
        raise ValueError("is a private key; trust needs only the public key")
    if b"-----BEGIN PUBLIC KEY-----" in data:
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm):
            raise ValueError("not a readable PEM public key") from None
        der = key.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
        return [trusted_key("compound", der)]
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise ValueError("not readable PEM certificates") from None
        return [trusted_key("dcc", c.public_bytes(serialization.Encoding.DER)) for c in certs]
    try:
        return [trusted_key("dcc", data)]
    except ValueError:
        raise ValueError("neither a PEM public key nor a PEM or DER X.509 certificate") from None


class RevocationIndex:
    """Sorted 16-byte hashes; membership by binary search, vectorised over the queries."""

    def __init__(self, sorted_hashes: bytes) -> None:
        if len(sorted_hashes) % HASH_BYTES:
            raise ValueError(f"{len(sorted_hashes)} bytes is not a whole number of hashes")
        self._hashes = np.frombuffer(sorted_hashes, f"V{HASH_BYTES}")

    def __len__(self) -> int:
        return len(self._hashes)

    @property
    def nbytes(self) -> int:
        return int(self._hashes.nbytes)

    def contains_any(self, hashes: Sequence[bytes]) -> bool:
        if not len(self._hashes) or not hashes:
            return False
        queries = np.frombuffer(b"".join(_hash16(h) for h in hashes), f"V{HASH_BYTES}")
        at = np.minimum(np.searchsorted(self._hashes, queries), len(self._hashes) - 1)
        return bool((self._hashes[at] == queries).any())


def _hash16(value: bytes) -> bytes:
    """A revocation hash: 16 bytes; a longer digest is cut to its first 16 (the lists' rule)."""
    if not isinstance(value, bytes | bytearray) or len(value) < HASH_BYTES:
        raise ValueError(f"a revocation hash is {HASH_BYTES} bytes (sha256, first 16)")
    return bytes(value[:HASH_BYTES])


class StoreTrust:
    """The pass verifier's TrustSource over a list store (any thread)."""

    def __init__(self, store: ListStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._serial: int | None = None
        self._keys: dict[bytes, TrustedKey] = {}
        self._loaded: dict[bytes, Any] = {}
        self._revoked: dict[str, RevocationIndex] = {}
        self.reloads = 0

    def _fresh(self) -> None:
        serial = self._store.trust_serial
        if serial == self._serial:
            return
        keys = {k.kid: k for k in self._store.trusted()}
        revoked = {kind: RevocationIndex(self._store.revoked(kind)) for kind in REVOCATION_KINDS}
        self._keys, self._loaded, self._revoked = keys, {}, revoked
        self._serial = serial
        self.reloads += 1

    def public_key(self, kid: bytes, kind: str | None = None) -> Any | None:
        """The trusted key with this kid (of `kind`, "compound" or "dcc", when given: a
        compound pass must not verify against a DCC certificate, nor the reverse), or None."""
        with self._lock:
            self._fresh()
            entry = self._keys.get(bytes(kid))
            if entry is None or (kind is not None and entry.kind != kind):
                return None
            if entry.kid not in self._loaded:
                self._loaded[entry.kid] = public_key_of(entry.kind, entry.der)
            return self._loaded[entry.kid]

    def is_revoked(self, kind: str, hashes: Sequence[bytes]) -> bool:
        """Whether any of `hashes` is revoked. `kind`: a pass kind ("compound"; "dcc" checks
        the UCI, country + UCI and signature lists) or one revocation kind."""
        kinds = PASS_REVOCATION_KINDS.get(kind) or ((kind,) if kind in REVOCATION_KINDS else ())
        if not kinds:
            raise ValueError(f"revocation kind {kind!r} is not one of compound, dcc, "
                             f"{', '.join(REVOCATION_KINDS[1:])}")
        with self._lock:
            self._fresh()
            return any(self._revoked[k].contains_any(hashes) for k in kinds)

    def sizes(self) -> dict[str, int]:
        """How many keys and hashes are loaded, and the index bytes (for info/metrics)."""
        with self._lock:
            self._fresh()
            return {"keys": len(self._keys),
                    "revoked": sum(len(i) for i in self._revoked.values()),
                    "index_bytes": sum(i.nbytes for i in self._revoked.values())}


class TrustUnion:
    """Several TrustSources as one: the first that knows a kid gives its key; a pass is
    revoked when any source says so."""

    def __init__(self, sources: Sequence[Any]) -> None:
        self.sources = tuple(sources)

    def public_key(self, kid: bytes) -> Any | None:
        return next((k for s in self.sources if (k := s.public_key(kid)) is not None), None)

    def is_revoked(self, kind: str, hashes: Sequence[bytes]) -> bool:
        return any(s.is_revoked(kind, hashes) for s in self.sources)


def combined(static: Any, lists_dir: Path) -> TrustUnion:
    """`pass verify --lists DIR`: `static` (the --trust files) and the list store's keys and
    revocations. IdentityError (exit 6) when there is no usable store in `lists_dir`."""
    return TrustUnion((static, StoreTrust(ListStore.open(Path(lists_dir), create=False))))
