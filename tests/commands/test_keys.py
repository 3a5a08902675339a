"""Command key files (edge.commands.keys): round trip, bad files, permissions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edge.commands.keys import generate_keypair, key_id, load_private_key, load_public_keys
from edge.commands.verify import Command, CommandVerifier, sign_command
from edge.errors import ConfigError
from tests.commands.envelopes import ALLOWED, GATE, KEY, SITE, Clock, topic, write_pem

# -- key files -----------------------------------------------------------------------------------


def test_key_files_round_trip(tmp_path: Path) -> None:
    private_path, public_path = generate_keypair(tmp_path / "keys")
    assert private_path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys").stat().st_mode & 0o077 == 0
    key = load_private_key(private_path)
    trusted = load_public_keys([public_path])
    [kid] = trusted
    assert kid == key_id(key.public_key()) and private_path.name == f"cmd-{kid}.key.pem"
    v = CommandVerifier(trusted, SITE, GATE, allowed=ALLOWED, clock_ns=Clock())
    assert isinstance(v.verify(topic(), sign_command(key, "set_mode", {}, SITE, GATE, 60,
                                                     Clock())), Command)
    # A second pair lands beside the first; nothing is overwritten.
    private_2, _ = generate_keypair(tmp_path / "keys")
    assert private_2 != private_path and len(list((tmp_path / "keys").iterdir())) == 4


def test_bad_key_files_name_the_file_and_never_quote_it(tmp_path: Path) -> None:
    private_path, public_path = generate_keypair(tmp_path)
    secret = private_path.read_text()
    garbage = write_pem(tmp_path / "garbage.pem", b"SECRETMARKER not a key\n")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_private = write_pem(tmp_path / "ec.pem", ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    ec_public = write_pem(tmp_path / "ec.pub.pem", ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    encrypted = write_pem(tmp_path / "enc.pem", KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw")))
    cases: list[tuple[Callable[[], object], Path, str]] = [
        (lambda: load_private_key(tmp_path / "missing.pem"), tmp_path / "missing.pem",
         "not found"),
        (lambda: load_private_key(garbage), garbage, "not a PEM private key"),
        (lambda: load_private_key(public_path), public_path, "is a public key"),
        (lambda: load_private_key(ec_private), ec_private, "needs Ed25519"),
        (lambda: load_private_key(encrypted), encrypted, "passphrase"),
        (lambda: load_public_keys([garbage]), garbage, "not a PEM public key"),
        (lambda: load_public_keys([private_path]), private_path, "is a private key"),
        (lambda: load_public_keys([ec_public]), ec_public, "need Ed25519"),
        (lambda: load_public_keys([tmp_path]), tmp_path, "cannot read public key"),
    ]
    for call, path, message in cases:
        with pytest.raises(ConfigError) as info:
            call()
        text = str(info.value)
        assert str(path) in text and message in text, text
        assert "SECRETMARKER" not in text and secret not in text and "PRIVATE KEY" not in text


def test_group_readable_private_key_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    private_path, _ = generate_keypair(tmp_path)
    private_path.chmod(0o644)
    caplog.set_level(logging.WARNING, logger="edge.commands")
    load_private_key(private_path)
    assert "readable by other users" in caplog.text
    assert private_path.read_text() not in caplog.text
