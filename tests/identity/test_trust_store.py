"""Pass trust in the list store: migration from schema 1, local edits, StoreTrust lookups, and
the verifier running on it (compound passes and the DCC vectors)."""

from __future__ import annotations

import base64
import json
import os
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edge.errors import IdentityError
from edge.identity import db
from edge.identity.passes.claims import compound_revocation_hash
from edge.identity.passes.keys import StaticTrust, kid_of_public_key
from edge.identity.passes.verify import PassVerifier
from edge.identity.store import ListStore
from edge.identity.trust import StoreTrust, combined, trusted_key, trusted_keys_from_file
from edge.identity.trustlists import REVOCATION_KINDS, Revocations, trusted_to_wire
from edge.identity.wire import change_from_args, subject_to_wire
from tests.identity.lists_helpers import MODEL, T0, contents, entries, snapshot_parts
from tests.identity.passes.helpers import NOW, compound, dcc_vectors, fixed_key
from tests.identity.trust_helpers import (
    certificate,
    compound_key,
    dcc_key,
    pass_key,
    random_hashes,
    rsa_key,
    spki,
    trust_contents,
)
from tests.shared import skip_or_fail


@pytest.fixture
def store(tmp_path: Path) -> ListStore:
    s = ListStore.open(tmp_path / "lists")
    yield s  # type: ignore[misc]
    s.close()


def _schema(store: ListStore) -> int:
    return int(store._conn.execute("SELECT version FROM schema_version").fetchone()[0])


def test_a_schema_1_store_is_upgraded_keeping_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "lists"
    monkeypatch.setattr(db, "SCHEMA_VERSION", 1)  # the store as the code before schema 2 made it
    rng = np.random.default_rng(0)
    with ListStore.open(folder) as old:
        old.enroll("r-1", "resident", rng.normal(size=(2, 128)).astype(np.float32), MODEL)
        old.enroll("w-2", "worker", rng.normal(size=(1, 128)).astype(np.float32), MODEL)
        old.set_quarantine("r-1", T0 + timedelta(days=14))
        old.set_health("w-2", "yellow", T0)
        staged = entries(3, seed=1)  # part 1 of 2 of snapshot 20, staged by schema 1
        old._conn.execute("INSERT INTO snapshot_parts VALUES (20, 1, 2, ?, 1)",
                          (json.dumps([subject_to_wire(s) for s in staged]),))
        assert _schema(old) == 1 and "trusted_keys" not in _tables(old)
        before = contents(old)
        meta = db.read_meta(old._conn)
    monkeypatch.undo()
    with ListStore.open(folder) as new:
        assert _schema(new) == 2 and {"trusted_keys", "revocations"} <= _tables(new)
        assert contents(new) == before and db.read_meta(new._conn) == meta
        assert new.counts(T0)["quarantined"] == 1 and new.counts(T0)["templates"] == 3
        assert trust_contents(new) == ([], {k: b"" for k in REVOCATION_KINDS})
        assert new.trust_serial == 0
        key = compound_key(1)
        last = {"version": 20, "part": 2, "parts": 2,
                "subjects": [subject_to_wire(s) for s in entries(2, seed=2, start=3)],
                "trust": [trusted_to_wire(key)],
                "revoked": [{"kind": "compound", "hashes": base64.b64encode(b"\1" * 16).decode()}]}
        result = new.apply(change_from_args("lists.snapshot", last))
        assert result.applied and new.version == 20  # the schema-1 part completed it
        assert [s.id for s in new.subjects()] == [f"s{i:05d}" for i in range(5)]
        assert new.trusted() and new.trusted()[0].kid == key.kid
        assert new.revoked("compound") == b"\1" * 16


def _tables(store: ListStore) -> set[str]:
    return {r[0] for r in store._conn.execute("SELECT name FROM sqlite_master")}


def test_local_trust_edits_raise_the_version(store: ListStore) -> None:
    keys = [compound_key(1), dcc_key()]
    store.add_trusted(keys)
    assert store.version == 1 and {k.kid for k in store.trusted()} == {k.kid for k in keys}
    assert all(k.added_ns > 0 for k in store.trusted())
    hashes = random_hashes(5, seed=1)
    assert store.revoke([Revocations("dcc-uci", hashes)]) == 5
    assert store.revoke([Revocations("dcc-uci", hashes[:32])]) == 0  # already there
    assert store.revoke([Revocations("dcc-uci", hashes[:16])], undo=True) == 1
    counts = store.counts()
    assert counts["trusted_compound"] == 1 and counts["trusted_dcc"] == 1
    assert counts["revoked_dcc_uci"] == 4 and counts["revoked_compound"] == 0
    store.remove_trusted(keys[0].kid)
    assert [k.kind for k in store.trusted()] == ["dcc"] and store.version == 5
    assert store.trust_serial == 5
    with pytest.raises(IdentityError, match="no trusted key"):
        store.remove_trusted(keys[0].kid)
    with pytest.raises(IdentityError, match="appears twice"):
        store.add_trusted([keys[1], keys[1]])
    assert store.version == 5


def test_a_backend_store_refuses_local_trust_edits(store: ListStore) -> None:
    for part in snapshot_parts(entries(2), version=4):
        assert store.apply(part).applied
    with pytest.raises(IdentityError, match="synced from the backend"):
        store.add_trusted([compound_key(1)])
    with pytest.raises(IdentityError, match="synced from the backend"):
        store.revoke([Revocations("compound", b"\0" * 16)])
    assert store.trusted() == [] and store.version == 4


def test_revocation_lookup_matches_a_set(store: ListStore) -> None:
    raw = random_hashes(20_000, seed=2)
    stored = [raw[i:i + 16] for i in range(0, len(raw), 16)]
    store.revoke([Revocations("compound", raw[:16 * 10_000]),
                  Revocations("dcc-signature", raw[16 * 10_000:])])
    trust = StoreTrust(store)
    misses = [os.urandom(16) for _ in range(500)]
    for h in stored[:300] + stored[-300:] + misses:
        in_compound = h in set(stored[:10_000])
        assert trust.is_revoked("compound", [h]) == in_compound
        assert trust.is_revoked("dcc", [h]) == (h in set(stored[10_000:]))
        assert trust.is_revoked("dcc-signature", [h]) == (h in set(stored[10_000:]))
        assert trust.is_revoked("dcc-uci", [h]) is False
    # several hashes in one call (a DCC's three); the full 32-byte digest is cut to 16
    assert trust.is_revoked("dcc", [misses[0], misses[1], stored[-1]])
    assert trust.is_revoked("compound", [stored[0] + b"rest of a sha256"])
    assert not trust.is_revoked("compound", [])
    with pytest.raises(ValueError, match="16 bytes"):
        trust.is_revoked("compound", [b"short"])
    with pytest.raises(ValueError, match="not one of"):
        trust.is_revoked("passport", [stored[0]])
    assert trust.sizes() == {"keys": 0, "revoked": 20_000, "index_bytes": 320_000}


def test_the_index_reloads_only_when_trust_changes(store: ListStore) -> None:
    store.enroll("r-1", "resident", np.ones((1, 128), np.float32), MODEL)
    trust = StoreTrust(store)
    assert not trust.is_revoked("compound", [compound_revocation_hash("p-1")])
    store.set_health("r-1", "red", T0)  # a list change that is not trust
    assert trust.public_key(b"\0" * 8) is None and trust.reloads == 1
    store.revoke([Revocations("compound", compound_revocation_hash("p-1"))])
    assert trust.is_revoked("compound", [compound_revocation_hash("p-1")]) and trust.reloads == 2
    store.add_trusted([compound_key(3)])
    assert trust.public_key(compound_key(3).kid) is not None and trust.reloads == 3


def test_public_keys_by_kid_and_kind(store: ListStore) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    dcc = dcc_key(private)
    store.add_trusted([compound_key(1), dcc])
    trust = StoreTrust(store)
    key = trust.public_key(compound_key(1).kid)
    assert spki(key) == spki(pass_key(1).public_key())
    assert kid_of_public_key(key) == compound_key(1).kid  # the verifier's kid rule
    assert spki(trust.public_key(dcc.kid)) == spki(private.public_key())
    assert trust.public_key(dcc.kid, kind="compound") is None  # separate trust roots
    assert trust.public_key(compound_key(1).kid, kind="dcc") is None
    assert trust.public_key(compound_key(2).kid) is None


@pytest.mark.parametrize("kind, der, why", [
    ("compound", b"\x30\x03\x02\x01\x00", "not a DER SubjectPublicKeyInfo"),
    ("compound", spki(ec.generate_private_key(ec.SECP256R1()).public_key()), "must be Ed25519"),
    ("compound", certificate(), "not a DER SubjectPublicKeyInfo"),
    ("dcc", spki(pass_key(1).public_key()), "not a DER X.509"),
    ("dcc", certificate(ec.generate_private_key(ec.SECP384R1())), "EC P-256"),
    ("dcc", certificate(rsa_key(1024)), "RSA >= 2048"),
    ("dcc", certificate() + b"\0", "not"),
    ("passport", certificate(), "not one of compound, dcc"),
])
def test_keys_that_cannot_be_trusted(kind: str, der: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        trusted_key(kind, der)


def test_trust_files(tmp_path: Path) -> None:
    pem_key = pass_key(4).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    certs = [certificate(), certificate(rsa_key(2048))]
    files = {"pass.pub.pem": pem_key, "dsc.der": certs[0],
             "bundle.pem": b"".join(_pem_cert(c) for c in certs),
             "pass.key.pem": pass_key(4).private_bytes(
                 serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                 serialization.NoEncryption()),
             "junk.bin": b"not a key"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    assert [k.kid for k in trusted_keys_from_file(tmp_path / "pass.pub.pem")] == [
        compound_key(4).kid]
    assert [k.der for k in trusted_keys_from_file(tmp_path / "dsc.der")] == certs[:1]
    assert [k.kind for k in trusted_keys_from_file(tmp_path / "bundle.pem")] == ["dcc", "dcc"]
    with pytest.raises(ValueError, match="private key"):
        trusted_keys_from_file(tmp_path / "pass.key.pem")
    with pytest.raises(ValueError, match="neither"):
        trusted_keys_from_file(tmp_path / "junk.bin")


def _pem_cert(der: bytes) -> bytes:
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines)
            + "\n-----END CERTIFICATE-----\n").encode()


def test_the_verifier_on_the_store(store: ListStore) -> None:
    text = compound(fixed_key())
    verifier = PassVerifier(StoreTrust(store), gate="north")
    assert verifier.verify(text, NOW).reason == "bad_signature"  # unknown kid
    store.add_trusted([trusted_key("compound", spki(fixed_key().public_key()))])
    verdict = verifier.verify(text, NOW)
    assert verdict.valid and verdict.checks["revocation"] is True
    store.revoke([Revocations("compound", compound_revocation_hash(verdict.pass_id or ""))])
    verdict = verifier.verify(text, NOW)
    assert not verdict.valid and verdict.reason == "revoked"


def test_pass_verify_lists_combines_files_and_the_store(store: ListStore) -> None:
    store.revoke([Revocations("compound", compound_revocation_hash("pass-0001"))])
    files = StaticTrust()
    files.add(fixed_key().public_key())
    trust = combined(files, store.directory)
    verdict = PassVerifier(trust).verify(compound(fixed_key()), NOW)
    assert verdict.checks["signature"] is True and verdict.reason == "revoked"
    with pytest.raises(IdentityError):
        combined(files, store.directory / "missing")


@pytest.mark.shared
def test_every_dcc_vector_verifies_the_same_with_its_certificate_in_the_store(
    tmp_path: Path,
) -> None:
    vectors = [v for v in dcc_vectors() if v.data["EXPECTEDRESULTS"].get("EXPECTEDVERIFY")]
    if not vectors:
        skip_or_fail("DCC test vectors not found")
    same = valid = revoked = 0
    for i, vector in enumerate(vectors):
        der = vector.certificate.public_bytes(serialization.Encoding.DER)
        with ListStore.open(tmp_path / f"l{i}") as store:
            store.add_trusted([trusted_key("dcc", der)])
            verdict = PassVerifier(StoreTrust(store)).verify(vector.data["PREFIX"], vector.clock)
            expected = PassVerifier(vector.trust()).verify(vector.data["PREFIX"], vector.clock)
            same += verdict.checks == expected.checks and verdict.reason == expected.reason
            if verdict.valid:  # revoked by its UCI hash (sha256(UCI)[:16], as compound ids)
                valid += 1
                store.revoke([Revocations("dcc-uci", compound_revocation_hash(verdict.pass_id
                                                                              or ""))])
                again = PassVerifier(StoreTrust(store)).verify(vector.data["PREFIX"],
                                                               vector.clock)
                revoked += again.reason == "revoked"
    assert same == len(vectors) >= 70 and revoked == valid >= 60
