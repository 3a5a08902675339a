"""Trust and revocations through list sync: snapshot parts, increments, versions, gaps, sizes."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.commands.handlers import validate_args
from edge.commands.verify import sign_command
from edge.identity.store import ListStore
from edge.identity.sync import ARGS_BUDGET_BYTES, ListUpdate, change_from_args, snapshot_args
from edge.identity.trustlists import REVOCATION_KINDS, Revocations, kid_to_wire, trusted_to_wire
from edge.identity.wire import ListSnapshot
from tests.identity.lists_helpers import contents, entries
from tests.identity.trust_helpers import (
    compound_key,
    dcc_key,
    random_hashes,
    revocations,
    trust_contents,
)


@pytest.fixture
def store(tmp_path: Path) -> ListStore:
    s = ListStore.open(tmp_path / "lists")
    yield s  # type: ignore[misc]
    s.close()


def _parts(version: int, n_subjects: int = 4, keys: Any = (), revoked: Any = (),
           budget: int = ARGS_BUDGET_BYTES) -> list[ListSnapshot]:
    args = snapshot_args(entries(n_subjects, seed=version), version, budget, trust=keys,
                         revoked=revoked)
    for a in args:  # what the gate's schema and push would check
        validate_args("lists.snapshot", a)
    return [change_from_args("lists.snapshot", a) for a in args]  # type: ignore[misc]


def _expected(revoked: list[Revocations]) -> dict[str, bytes]:
    out = {}
    for kind in REVOCATION_KINDS:
        raw = b"".join(r.hashes for r in revoked if r.kind == kind)
        out[kind] = b"".join(sorted({raw[i:i + 16] for i in range(0, len(raw), 16)}))
    return out


def _state(store: ListStore) -> tuple[Any, ...]:
    return contents(store), trust_contents(store), store.snapshot_needed, store.last_gap


def test_a_snapshot_carries_keys_and_revocations_in_parts(store: ListStore) -> None:
    keys = [compound_key(1), compound_key(2), dcc_key()]
    revoked = revocations(3000, seed=1)
    parts = _parts(5, keys=keys, revoked=revoked, budget=6000)
    assert len(parts) >= 8 and all(p.parts == len(parts) for p in parts)
    before = _state(store)
    for p in reversed(parts[1:]):  # any order; nothing changes until the last one
        assert store.apply(p).applied and _state(store) == before
    result = store.apply(parts[0])
    assert result.applied and store.version == 5 and store.origin == "backend"
    assert "3 trusted keys, 3000 revocation hashes" in result.detail
    got_keys, got_revoked = trust_contents(store)
    assert sorted(got_keys) == sorted((k.kid, k.kind, k.der) for k in keys)
    assert got_revoked == _expected(revoked)
    assert store.trust_serial == 1


def test_a_snapshot_replaces_trust_and_keeps_when_unchanged_hashes_were_added(
    store: ListStore,
) -> None:
    old = revocations(400, seed=2)
    for p in _parts(5, keys=[compound_key(1)], revoked=old):
        store.apply(p)
    added_ns = dict(store._conn.execute("SELECT hash, added_ns FROM revocations"))
    new = [Revocations(r.kind, r.hashes[16:]) for r in old] + [
        Revocations("compound", random_hashes(2, seed=3))]
    for p in _parts(6, keys=[dcc_key()], revoked=new):
        assert store.apply(p).applied
    keys, got = trust_contents(store)
    assert [k[1] for k in keys] == ["dcc"] and got == _expected(new)
    kept = dict(store._conn.execute("SELECT hash, added_ns FROM revocations"))
    unchanged = set(kept) & set(added_ns)
    assert len(unchanged) == 396 and all(kept[h] == added_ns[h] for h in unchanged)
    for p in _parts(7):  # a snapshot without trust sections: none trusted, none revoked
        assert store.apply(p).applied
    assert trust_contents(store) == ([], {k: b"" for k in REVOCATION_KINDS})


def _synced(store: ListStore, version: int = 10) -> None:
    for p in _parts(version, keys=[compound_key(1)], revoked=revocations(40, seed=4)):
        assert store.apply(p).applied


def _update(base: int, version: int, **sections: Any) -> ListUpdate:
    args = {"base_version": base, "version": version, **sections}
    validate_args("lists.update", args)
    change = change_from_args("lists.update", args)
    assert isinstance(change, ListUpdate)
    return change


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_an_increment_adds_and_removes_keys_and_hashes(store: ListStore) -> None:
    _synced(store)
    serial = store.trust_serial
    gone = store.revoked("compound")[:16]
    new = random_hashes(3, seed=5)
    change = _update(10, 11, trust_add=[trusted_to_wire(compound_key(2))],
                     trust_remove=[kid_to_wire(compound_key(1).kid)],
                     revoke_add=[{"kind": "dcc-signature", "hashes": _b64(new)}],
                     revoke_remove=[{"kind": "compound", "hashes": _b64(gone)}])
    result = store.apply(change)
    assert result.applied and store.version == 11 and store.trust_serial == serial + 1
    assert "keys: 1 added, 1 of 1 removed; hashes: 3 revoked, 1 un-revoked" in result.detail
    assert [k.kid for k in store.trusted()] == [compound_key(2).kid]
    assert gone not in _split(store.revoked("compound"))
    assert set(_split(new)) <= set(_split(store.revoked("dcc-signature")))
    status_only = _update(11, 12, upsert=[])  # no trust section: the index is not reloaded
    assert store.apply(status_only).applied and store.trust_serial == serial + 1


def _split(raw: bytes) -> list[bytes]:
    return [raw[i:i + 16] for i in range(0, len(raw), 16)]


def test_trust_increments_follow_the_version_rules(store: ListStore) -> None:
    add = {"revoke_add": [{"kind": "compound", "hashes": _b64(b"\7" * 16)}]}
    local = _state(store)
    assert store.apply(_update(0, 1, **add)).reason == "version_gap"  # never synced
    assert _state(store)[:2] == local[:2]
    _synced(store)
    before = _state(store)
    assert store.apply(_update(11, 12, **add)).reason == "version_gap"
    assert _state(store)[:2] == before[:2] and store.snapshot_needed
    assert store.apply(_update(9, 10, **add)).reason == "stale_version"
    assert store.apply(_update(10, 11, **add)).applied and store.snapshot_needed
    assert b"\7" * 16 in _split(store.revoked("compound"))
    assert store.apply(_update(11, 12, trust_remove=[kid_to_wire(compound_key(1).kid)])).applied
    assert not store.snapshot_needed and store.trusted() == []  # the missing 12 came


@pytest.mark.parametrize("sections, why", [
    ({"trust_add": [trusted_to_wire(compound_key(2))] * 2}, "appears twice"),
    ({"trust_add": [trusted_to_wire(compound_key(2))],
      "trust_remove": [kid_to_wire(compound_key(2).kid)]}, "both added and removed"),
    ({"trust_remove": [kid_to_wire(b"k" * 8)] * 2}, "removed twice"),
    ({"revoke_add": [{"kind": "compound", "hashes": _b64(b"\1" * 32)}],
      "revoke_remove": [{"kind": "compound", "hashes": _b64(b"\1" * 16)}]},
     "both revoked and un-revoked"),
])
def test_contradictory_trust_sections_change_nothing(
    store: ListStore, sections: dict[str, Any], why: str
) -> None:
    _synced(store)
    before = _state(store), store.version, store.trust_serial
    change = change_from_args("lists.update", {"base_version": 10, "version": 11,
                                               "upsert": [], **sections})
    with pytest.raises(ValueError):  # the schema refuses it before it is signed
        validate_args("lists.update", {"base_version": 10, "version": 11, **sections})
    result = store.apply(change)  # and the store, should it come another way
    assert result.reason == "bad_args" and why in result.detail
    assert (_state(store), store.version, store.trust_serial) == before


def test_a_key_twice_across_parts_refuses_the_snapshot(store: ListStore) -> None:
    _synced(store)
    before = _state(store)
    a = snapshot_args([], 20, trust=[compound_key(5)])[0] | {"parts": 2}
    b = snapshot_args([], 20, trust=[compound_key(5)])[0] | {"part": 2, "parts": 2}
    assert store.apply(change_from_args("lists.snapshot", a)).applied
    result = store.apply(change_from_args("lists.snapshot", b))
    assert result.reason == "bad_args" and "appears twice" in result.detail
    assert _state(store) == before and store.version == 10


def test_a_million_revocations_fit_parts_under_the_envelope_limit() -> None:
    revoked = [Revocations("dcc-uci", random_hashes(1_000_000, seed=6))]
    args = snapshot_args([], 9, trust=[compound_key(1)], revoked=revoked)
    sizes = [len(json.dumps(a, sort_keys=True, separators=(",", ":"))) for a in args]
    assert max(sizes) <= ARGS_BUDGET_BYTES and 1300 < len(args) < 1500
    assert sum(len(base64.b64decode(r["hashes"])) for a in args for r in a["revoked"]) == 16e6
    key = Ed25519PrivateKey.generate()
    for a in (args[0], args[len(args) // 2], args[-1]):
        validate_args("lists.snapshot", a)
        envelope = sign_command(key, "lists.snapshot", a, "s" * 64, "g" * 64, 600)
        assert len(envelope) <= 16384
    assert "trust" not in snapshot_args(entries(2), 3)[0]  # as before schema 2


@pytest.mark.parametrize("args, field", [
    ({"trust": [{"kind": "compound", "der": "not base64!"}]}, "trust.0.der"),
    ({"trust": [{"kind": "x509", "der": "AAAA"}]}, "trust.0.kind"),
    ({"trust": [{"kind": "dcc", "der": "AAAA", "kid": "AAAAAAAAAAA="}]}, "trust.0.kid"),
    ({"revoked": [{"kind": "compound", "hashes": _b64(b"\0" * 15)}]}, "revoked.0.hashes"),
    ({"revoked": [{"kind": "compound", "hashes": _b64(b"\0" * 16 * 1001)}]}, "revoked.0.hashes"),
    ({"revoked": [{"kind": "dcc-uci", "hashes": _b64(b"\0" * 16)}] * 2}, "revoked"),
    ({"revoked": {"kind": "compound", "hashes": _b64(b"\0" * 16)}}, "revoked"),
])
def test_the_schema_refuses_malformed_snapshot_sections(args: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        validate_args("lists.snapshot", {"version": 1, "part": 1, "parts": 1, "subjects": [],
                                         **args})


def test_a_local_store_sent_as_a_snapshot_arrives_whole(tmp_path: Path) -> None:
    """What `gate-edge push lists` sends: store.trust_lists() into snapshot_args."""
    with ListStore.open(tmp_path / "backend") as backend, \
            ListStore.open(tmp_path / "gate") as gate:
        backend.add_trusted([compound_key(1), dcc_key()])
        backend.revoke(revocations(2000, seed=11))
        keys, revoked = backend.trust_lists()
        assert len(keys) == 2 and sum(r.count for r in revoked) == 2000
        for args in snapshot_args([], backend.version, trust=keys, revoked=revoked):
            validate_args("lists.snapshot", args)
            assert gate.apply(change_from_args("lists.snapshot", args)).applied
        assert trust_contents(gate) == trust_contents(backend) and gate.version == 2
