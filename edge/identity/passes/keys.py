"""Pass signing keys and trusted signers: the kid rule, key files, `StaticTrust`.

kid = the first 8 bytes of SHA-256 over DER: of the X.509 certificate for DCC signers (the
DCC rule), of the SubjectPublicKeyInfo for a bare public key (the compound's pass keys).
Pass keys are a trust root of their own: `pass-<kid hex>.key.pem` / `.pub.pem`, never the
command keys (`cmd-*`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.errors import ConfigError

__all__ = ["KID_BYTES", "StaticTrust", "generate_pass_keypair", "kid_of_certificate",
           "kid_of_public_key", "load_pass_private_key", "load_trust_file", "parse_trust"]

KID_BYTES = 8
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.S)


def kid_of_certificate(cert: x509.Certificate) -> bytes:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()[:KID_BYTES]


def kid_of_public_key(key: Any) -> bytes:
    spki = key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()[:KID_BYTES]


def _pem_item(kind: bytes, block: bytes) -> tuple[bytes, Any]:
    if kind == b"CERTIFICATE":
        cert = x509.load_pem_x509_certificate(block)
        return kid_of_certificate(cert), cert.public_key()
    if kind == b"PUBLIC KEY":
        key = serialization.load_pem_public_key(block)
        return kid_of_public_key(key), key
    if b"PRIVATE KEY" in kind:
        raise ValueError("is a private key; a gate trusts public keys / certificates only")
    raise ValueError(f"unsupported PEM block {kind.decode()!r}")


def parse_trust(data: bytes) -> dict[bytes, Any]:
    """kid -> public key from PEM (any number of CERTIFICATE / PUBLIC KEY blocks) or DER (one
    X.509 certificate, or one SubjectPublicKeyInfo). Raises ValueError."""
    blocks = [(m.group(1), m.group(0)) for m in _PEM_BLOCK.finditer(data)]
    if blocks:
        return dict(_pem_item(kind, block) for kind, block in blocks)
    if b"-----BEGIN" in data:
        raise ValueError("malformed PEM")
    try:
        cert = x509.load_der_x509_certificate(data)
        return {kid_of_certificate(cert): cert.public_key()}
    except ValueError:
        pass
    try:
        key = serialization.load_der_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ValueError("neither PEM nor a DER certificate / public key") from exc
    return {kid_of_public_key(key): key}


def load_trust_file(path: Path) -> dict[bytes, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read trust file: {exc.strerror}") from None
    try:
        return parse_trust(data)
    except Exception as exc:
        raise ConfigError(f"{path}: {exc}") from None


class StaticTrust:
    """An in-memory TrustSource: keys by kid and revoked 16-byte hashes (any kind)."""

    def __init__(self, keys: Mapping[bytes, Any] | None = None,
                 revoked: Iterable[bytes] = ()) -> None:
        self.keys: dict[bytes, Any] = dict(keys or {})
        self.revoked: set[bytes] = {bytes(h) for h in revoked}

    @classmethod
    def from_files(cls, paths: Iterable[Path], revoked: Iterable[bytes] = ()) -> StaticTrust:
        keys: dict[bytes, Any] = {}
        for path in paths:
            keys.update(load_trust_file(path))
        return cls(keys, revoked)

    def add(self, key_or_cert: Any) -> bytes:
        """Trust one public key or x509.Certificate; returns its kid."""
        if isinstance(key_or_cert, x509.Certificate):
            kid = kid_of_certificate(key_or_cert)
            self.keys[kid] = key_or_cert.public_key()
        else:
            kid = kid_of_public_key(key_or_cert)
            self.keys[kid] = key_or_cert
        return kid

    def public_key(self, kid: bytes) -> Any | None:
        return self.keys.get(bytes(kid))

    def is_revoked(self, kind: str, hashes: Sequence[bytes]) -> bool:
        return any(bytes(h) in self.revoked for h in hashes)


def generate_pass_keypair(directory: Path) -> tuple[Path, Path, bytes]:
    """New Ed25519 pass-signing pair: `pass-<kid hex>.key.pem` (PKCS#8, 0600, the issuing
    backend keeps it) and `pass-<kid hex>.pub.pem` (to every gate). Never overwrites."""
    key = Ed25519PrivateKey.generate()
    kid = kid_of_public_key(key.public_key())
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    paths = (directory / f"pass-{kid.hex()}.key.pem", directory / f"pass-{kid.hex()}.pub.pem")
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"{directory}: cannot create key directory: {exc.strerror}") from None
    for path, data, mode in ((paths[0], private_pem, 0o600), (paths[1], public_pem, 0o644)):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write key file: {exc.strerror}") from None
    return paths[0], paths[1], kid


def load_pass_private_key(path: Path) -> Ed25519PrivateKey:
    """The issuer's pass key (PEM PKCS#8, unencrypted, Ed25519). Errors name the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read private key: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    except Exception as exc:
        raise ConfigError(f"{path}: cannot load private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: is a {type(key).__name__}; passes are signed with Ed25519")
    return key
