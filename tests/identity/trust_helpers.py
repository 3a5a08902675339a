"""Pass signer keys, DCC-like certificates and revocation hashes for the trust tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from edge.identity.store import ListStore
from edge.identity.trust import trusted_key
from edge.identity.trustlists import REVOCATION_KINDS, Revocations, TrustedKey


def pass_key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"pass%d" % seed).digest())


def spki(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,  # type: ignore[no-any-return]
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def compound_key(seed: int) -> TrustedKey:
    return trusted_key("compound", spki(pass_key(seed).public_key()))


def certificate(private: Any = None, country: str = "XX") -> bytes:
    """A self-signed signer certificate (DER) of `private` (default: a new P-256 key)."""
    private = private or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                      x509.NameAttribute(NameOID.COMMON_NAME, "DSC test")])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + timedelta(days=730))
            .sign(private, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def dcc_key(private: Any = None) -> TrustedKey:
    return trusted_key("dcc", certificate(private))


def rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def random_hashes(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).bytes(16 * n)


def revocations(n: int, seed: int) -> list[Revocations]:
    """n hashes spread over the four kinds (the first kind gets the remainder)."""
    raw = random_hashes(n, seed)
    share = n // len(REVOCATION_KINDS)
    cuts = [0, n - share * 3, n - share * 2, n - share, n]
    return [Revocations(kind, raw[16 * a:16 * b])
            for kind, a, b in zip(REVOCATION_KINDS, cuts[:-1], cuts[1:], strict=True) if b > a]


def trust_contents(store: ListStore) -> tuple[Any, ...]:
    """Everything a trust reader sees: keys (kid, kind, der) and each kind's hashes."""
    keys = [(k.kid, k.kind, k.der) for k in store.trusted()]
    return keys, {kind: store.revoked(kind) for kind in REVOCATION_KINDS}
