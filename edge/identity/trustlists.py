"""Pass trust roots and revocations as list content: values, checks, wire form and rows.

Two tables of the list store (schema 2, edge.identity.db): `trusted_keys` (kid, kind
`compound` = an Ed25519 SubjectPublicKeyInfo DER, `dcc` = an X.509 signer certificate DER,
added_ns) and `revocations` (kind, 16-byte hash, added_ns). Compound pass keys are a trust
root of their own: command keys (edge.commands.keys) never land here, and a key of one kind
never verifies a pass of the other (edge.identity.trust).

Wire form inside `lists.snapshot` / `lists.update` (docs/lists.md):

    trust entry:       {"kind": "compound" | "dcc", "der": "<standard base64 of the DER>"}
    kid (to remove):   "<standard base64 of the 8-byte kid>"
    revocation entry:  {"kind": "compound" | "dcc-uci" | "dcc-country-uci" | "dcc-signature",
                        "hashes": "<standard base64 of N concatenated 16-byte hashes>"}

The kid is never sent with a key: the gate computes it (sha256 of the DER, first 8 bytes),
so a key cannot be filed under another key's id. Every change to the tables raises
`meta.trust_serial` in the same transaction.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from numpy.typing import NDArray

from edge.identity.passes.keys import KID_BYTES, kid_of_certificate, kid_of_public_key

KEY_KINDS = ("compound", "dcc")
REVOCATION_KINDS = ("compound", "dcc-uci", "dcc-country-uci", "dcc-signature")
HASH_BYTES = 16
MAX_DER_BYTES = 4096  # a DCC signer certificate is 0.5 to 1.5 KB
MAX_HASHES = 1000  # per revocation entry of one message
MIN_RSA_BITS = 2048


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A pass signer: `kid` = sha256(der)[:8]; `added_ns` 0 in a change not yet stored."""

    kid: bytes
    kind: str  # compound | dcc
    der: bytes
    added_ns: int = 0


@dataclass(frozen=True, slots=True)
class Revocations:
    """Revoked hashes of one kind: `hashes` = N concatenated 16-byte values."""

    kind: str
    hashes: bytes

    @property
    def count(self) -> int:
        return len(self.hashes) // HASH_BYTES


def _parse_der(kind: str, der: bytes) -> tuple[bytes, Any]:
    """(kid, public key) of `der` (compound: Ed25519 SubjectPublicKeyInfo; dcc: an X.509
    certificate with an EC P-256 or RSA >= 2048 key), by the verifier's kid rule;
    ValueError saying why not."""
    if kind == "compound":
        try:
            key = serialization.load_der_public_key(der)
        except (ValueError, UnsupportedAlgorithm):
            raise ValueError("not a DER SubjectPublicKeyInfo public key") from None
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise ValueError(f"a compound pass key must be Ed25519, not {type(key).__name__}")
        if key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo) != der:
            raise ValueError("not the canonical DER of its key (its kid would not match)")
        return kid_of_public_key(key), key
    if kind == "dcc":
        try:
            cert = x509.load_der_x509_certificate(der)
            key = cert.public_key()
        except (ValueError, UnsupportedAlgorithm):
            raise ValueError("not a DER X.509 certificate") from None
        if cert.public_bytes(serialization.Encoding.DER) != der:
            raise ValueError("not the exact DER of a certificate (its kid would not match)")
        if ((isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1))
                or (isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS)):
            return kid_of_certificate(cert), key
        raise ValueError("a DCC signer certificate must hold an EC P-256 (ES256) or an RSA "
                         f">= {MIN_RSA_BITS}-bit (PS256) key")
    raise ValueError(f"key kind {kind!r:.40} is not one of {', '.join(KEY_KINDS)}")


def public_key_of(kind: str, der: bytes) -> Any:
    """The cryptography public key of a stored or received key of `kind`."""
    return _parse_der(kind, der)[1]


def trusted_key(kind: str, der: bytes) -> TrustedKey:
    """A checked TrustedKey with its kid; ValueError when `der` is not a key of `kind`."""
    return TrustedKey(_parse_der(kind, der)[0], kind, der)


# -- wire -----------------------------------------------------------------------------------


def kid_to_wire(kid: bytes) -> str:
    return base64.b64encode(kid).decode()


def kid_from_wire(value: Any, where: str) -> bytes:
    kid = _b64(value, where)
    if len(kid) != KID_BYTES:
        raise ValueError(f"{where}: a kid is {KID_BYTES} bytes, got {len(kid)}")
    return kid


def trusted_to_wire(key: TrustedKey) -> dict[str, Any]:
    return {"kind": key.kind, "der": base64.b64encode(key.der).decode()}


def trusted_from_wire(entry: Any, where: str) -> TrustedKey:
    if not isinstance(entry, Mapping) or set(entry) != {"kind", "der"}:
        raise ValueError(f"{where}: must be an object with kind and der")
    der = _b64(entry["der"], f"{where}.der")
    if not 0 < len(der) <= MAX_DER_BYTES:
        raise ValueError(f"{where}.der: {len(der)} bytes, must be 1 to {MAX_DER_BYTES}")
    try:
        return trusted_key(str(entry["kind"]), der)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def revocations_to_wire(revoked: Revocations) -> dict[str, Any]:
    return {"kind": revoked.kind, "hashes": base64.b64encode(revoked.hashes).decode()}


def revocations_from_wire(entry: Any, where: str) -> Revocations:
    if not isinstance(entry, Mapping) or set(entry) != {"kind", "hashes"}:
        raise ValueError(f"{where}: must be an object with kind and hashes")
    kind = entry["kind"]
    if kind not in REVOCATION_KINDS:
        raise ValueError(f"{where}.kind: {kind!r:.40} is not one of {', '.join(REVOCATION_KINDS)}")
    raw = _b64(entry["hashes"], f"{where}.hashes")
    if not raw or len(raw) % HASH_BYTES or len(raw) > MAX_HASHES * HASH_BYTES:
        raise ValueError(f"{where}.hashes: {len(raw)} bytes is not 1 to {MAX_HASHES} hashes of "
                         f"{HASH_BYTES} bytes")
    return Revocations(kind, raw)


def _b64(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{where}: must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError(f"{where}: not standard base64") from None


# -- checks ---------------------------------------------------------------------------------


def by_kind(revoked: Iterable[Revocations]) -> dict[str, NDArray[np.void]]:
    """kind -> its hashes, unique and in memcmp order (16-byte numpy void values)."""
    parts: dict[str, list[bytes]] = {}
    for r in revoked:
        parts.setdefault(r.kind, []).append(r.hashes)
    return {kind: np.unique(np.frombuffer(b"".join(chunks), f"V{HASH_BYTES}"))
            for kind, chunks in parts.items()}


def keys_problem(keys: Sequence[TrustedKey]) -> str | None:
    """Why these keys cannot be one list (a kid twice)."""
    seen: set[bytes] = set()
    for key in keys:
        if key.kid in seen:
            return f"trusted key {kid_to_wire(key.kid)} appears twice"
        seen.add(key.kid)
    return None


def update_problem(trust_add: Sequence[TrustedKey], trust_remove: Sequence[bytes],
                   revoke_add: Sequence[Revocations],
                   revoke_remove: Sequence[Revocations]) -> str | None:
    """Why an increment's trust sections contradict themselves."""
    if problem := keys_problem(trust_add):
        return problem
    if len(set(trust_remove)) != len(trust_remove):
        return "a kid is removed twice"
    if both := {k.kid for k in trust_add} & set(trust_remove):
        return f"trusted key {kid_to_wire(sorted(both)[0])} is both added and removed"
    added, removed = by_kind(revoke_add), by_kind(revoke_remove)
    for kind in added.keys() & removed.keys():
        if np.isin(added[kind], removed[kind]).any():
            return f"a {kind} hash is both revoked and un-revoked"
    return None


# -- rows -----------------------------------------------------------------------------------


def bump(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE meta SET trust_serial = trust_serial + 1")


def serial(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT trust_serial FROM meta").fetchone()[0])


def put_keys(conn: sqlite3.Connection, keys: Iterable[TrustedKey], now_ns: int) -> int:
    rows = [(k.kid, k.kind, k.der, now_ns) for k in keys]
    conn.executemany("INSERT OR REPLACE INTO trusted_keys VALUES (?, ?, ?, ?)", rows)
    return len(rows)


def delete_keys(conn: sqlite3.Connection, kids: Iterable[bytes]) -> int:
    return sum(conn.execute("DELETE FROM trusted_keys WHERE kid = ?", (kid,)).rowcount
               for kid in kids)


def put_revocations(conn: sqlite3.Connection, revoked: Iterable[Revocations],
                    now_ns: int) -> int:
    """Insert; hashes already stored are kept. Returns how many were new."""
    return sum(_insert(conn, kind, hashes, now_ns)
               for kind, hashes in sorted(by_kind(revoked).items()))


def _insert(conn: sqlite3.Connection, kind: str, hashes: NDArray[np.void], now_ns: int) -> int:
    """Rows in key order: a B-tree filled in order takes 1M rows in ~3 s, not ~9 s."""
    raw = hashes.tobytes()
    before = conn.total_changes
    conn.executemany("INSERT OR IGNORE INTO revocations VALUES (?, ?, ?)",
                     ((kind, raw[i:i + HASH_BYTES], now_ns)
                      for i in range(0, len(raw), HASH_BYTES)))
    return conn.total_changes - before


def delete_revocations(conn: sqlite3.Connection, revoked: Iterable[Revocations]) -> int:
    return sum(_delete(conn, kind, hashes) for kind, hashes in by_kind(revoked).items())


def _delete(conn: sqlite3.Connection, kind: str, hashes: NDArray[np.void]) -> int:
    raw = hashes.tobytes()
    before = conn.total_changes
    conn.executemany("DELETE FROM revocations WHERE kind = ? AND hash = ?",
                     ((kind, raw[i:i + HASH_BYTES]) for i in range(0, len(raw), HASH_BYTES)))
    return conn.total_changes - before


def replace_all(conn: sqlite3.Connection, keys: Sequence[TrustedKey],
                revoked: Sequence[Revocations], now_ns: int) -> None:
    """A snapshot's trust: the stored keys and hashes become exactly these (in the caller's
    transaction). Hashes are diffed against the stored ones, so a re-sent list of a million
    with a few changes rewrites a few rows (and keeps when each was first added)."""
    conn.execute("DELETE FROM trusted_keys")
    put_keys(conn, keys, now_ns)
    wanted = by_kind(revoked)
    for kind in REVOCATION_KINDS:
        stored = np.frombuffer(read_revoked(conn, kind), f"V{HASH_BYTES}")
        new = wanted.get(kind, stored[:0])
        _delete(conn, kind, np.setdiff1d(stored, new, assume_unique=True))
        _insert(conn, kind, np.setdiff1d(new, stored, assume_unique=True), now_ns)
    bump(conn)


def read_keys(conn: sqlite3.Connection) -> list[TrustedKey]:
    rows = conn.execute("SELECT kid, kind, der, added_ns FROM trusted_keys ORDER BY kid")
    return [TrustedKey(bytes(kid), str(kind), bytes(der), int(added))
            for kid, kind, der, added in rows]


def read_revoked(conn: sqlite3.Connection, kind: str) -> bytes:
    """Every hash of `kind`, concatenated in memcmp order (the primary key's)."""
    rows = conn.execute("SELECT hash FROM revocations WHERE kind = ? ORDER BY hash", (kind,))
    return b"".join(bytes(h) for (h,) in rows)


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """trusted_compound, trusted_dcc, and revoked_<kind> per revocation kind."""
    keys = dict(conn.execute("SELECT kind, COUNT(*) FROM trusted_keys GROUP BY kind"))
    revoked = dict(conn.execute("SELECT kind, COUNT(*) FROM revocations GROUP BY kind"))
    out = {f"trusted_{k}": int(keys.get(k, 0)) for k in KEY_KINDS}
    out.update({"revoked_" + k.replace("-", "_"): int(revoked.get(k, 0))
                for k in REVOCATION_KINDS})
    return out
