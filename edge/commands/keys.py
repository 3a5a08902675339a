"""Ed25519 key files for signed commands (see edge.commands.verify): the key id, generating a
key pair, loading the backend's private key and the gates' trusted public keys."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from edge.errors import ConfigError

__all__ = ["generate_keypair", "key_id", "load_private_key", "load_public_keys"]

# The logger these warnings have always used (they lived in edge.commands.verify): unchanged output.
log = logging.getLogger("edge.commands")


# -- key files -------------------------------------------------------------------------------------


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of sha256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_keypair(directory: Path) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair as PEM: `cmd-{kid}.key.pem` (PKCS#8, mode 0600, stays
    with the backend) and `cmd-{kid}.pub.pem` (goes to the gates). Never overwrites."""
    key = Ed25519PrivateKey.generate()
    kid = key_id(key.public_key())
    private_path = directory / f"cmd-{kid}.key.pem"
    public_path = directory / f"cmd-{kid}.pub.pem"
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"{directory}: cannot create key directory: {exc.strerror}") from None
    for path, data, mode in ((private_path, private_pem, 0o600), (public_path, public_pem, 0o644)):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write key file: {exc.strerror}") from None
    return private_path, public_path


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} file: {exc.strerror}") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The backend's signing key (PEM PKCS#8, unencrypted, as written by generate_keypair).
    Errors name the file and never quote it."""
    data = _read_key_file(path, "private key")
    try:
        if path.stat().st_mode & 0o077:
            log.warning("private key %s is readable by other users; chmod 600 it", path)
    except OSError:
        pass
    if b"-----BEGIN PUBLIC KEY-----" in data:
        raise ConfigError(f"{path}: is a public key; signing needs the private *.key.pem")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigError(f"{path}: private key is passphrase-protected; not supported") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(
            f"{path}: not a PEM private key (expected a *.key.pem from `gate-edge keygen`)"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: is a {type(key).__name__}; command signing needs Ed25519")
    return key


def load_public_keys(paths: Iterable[Path]) -> dict[str, Ed25519PublicKey]:
    """kid -> public key for the gate's trusted signers (PEM SubjectPublicKeyInfo files)."""
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        data = _read_key_file(path, "public key")
        if b"PRIVATE KEY-----" in data:
            raise ConfigError(
                f"{path}: is a private key; a gate needs only the public *.pub.pem "
                "(keep private keys off the gate)"
            )
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm):
            raise ConfigError(
                f"{path}: not a PEM public key (expected a *.pub.pem from `gate-edge keygen`)"
            ) from None
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigError(f"{path}: is a {type(key).__name__}; commands need Ed25519 keys")
        keys[key_id(key)] = key
    return keys
