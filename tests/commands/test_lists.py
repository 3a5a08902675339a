"""The `lists.snapshot` / `lists.update` argument schemas: what `push` and the gate accept."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.commands.envelope import DEFAULT_MAX_BYTES
from edge.commands.handlers import COMMAND_ARGS, validate_args
from edge.commands.keys import key_id
from edge.commands.lists import ListsSnapshotArgs, ListsUpdateArgs
from edge.commands.verify import CommandVerifier, sign_command
from edge.identity.sync import change_from_args, snapshot_args
from tests.commands.envelopes import T0, Clock
from tests.identity.lists_helpers import entries

DATA = base64.b64encode(np.arange(128, dtype="<f4").tobytes()).decode()


def subject(**extra: Any) -> dict[str, Any]:
    return {"id": "r-0042", "kind": "resident", **extra}


def snapshot(**extra: Any) -> dict[str, Any]:
    return {"version": 3, "part": 1, "parts": 1, "subjects": [subject()], **extra}


def update(**extra: Any) -> dict[str, Any]:
    return {"base_version": 3, "version": 4, **extra}


def test_both_commands_are_in_the_table_push_checks() -> None:
    assert COMMAND_ARGS["lists.snapshot"] is ListsSnapshotArgs
    assert COMMAND_ARGS["lists.update"] is ListsUpdateArgs


def test_valid_arguments_and_their_defaults() -> None:
    full = subject(quarantine_until="2026-12-14T00:00:00Z", health="yellow",
                   health_at="2026-12-01T08:30:00.250Z",
                   templates=[{"model": "dlib-r1", "data": DATA}])
    got = validate_args("lists.snapshot", snapshot(subjects=[full, subject(id="w-1",
                                                                           kind="worker")]))
    assert isinstance(got, ListsSnapshotArgs) and len(got.subjects) == 2
    up = validate_args("lists.update", update(upsert=[full], remove=["w-9"]))
    assert isinstance(up, ListsUpdateArgs)
    assert validate_args("lists.update", update()).model_dump() == {
        "base_version": 3, "version": 4, "upsert": [], "remove": [], "trust_add": [],
        "trust_remove": [], "revoke_add": [], "revoke_remove": []}
    # What the app's handler does with them: the same values, decoded.
    change = change_from_args("lists.update", up.model_dump())
    np.testing.assert_array_equal(change.upsert[0].templates[0].embedding,  # type: ignore[union-attr,index]
                                  np.arange(128, dtype=np.float32))


@pytest.mark.parametrize(("name", "args", "where"), [
    ("lists.snapshot", snapshot(version=0), "version"),
    ("lists.snapshot", snapshot(version="3"), "version"),
    ("lists.snapshot", snapshot(version=2**53), "version"),
    ("lists.snapshot", snapshot(part=2), "part 2 is beyond parts"),
    ("lists.snapshot", snapshot(part=0), "part"),
    ("lists.snapshot", snapshot(parts=10_001, part=1), "parts"),
    ("lists.snapshot", snapshot(extra=1), "extra"),
    ("lists.snapshot", {"version": 3, "part": 1, "parts": 1}, "subjects: Field required"),
    ("lists.snapshot", snapshot(subjects=[subject(), subject()]), "'r-0042' appears twice"),
    ("lists.snapshot", snapshot(subjects=[subject(kind="boss")]), "subjects.0.kind"),
    ("lists.snapshot", snapshot(subjects=[subject(id="a b")]), "subjects.0.id"),
    ("lists.snapshot", snapshot(subjects=[subject(id="x" * 65)]), "subjects.0.id"),
    ("lists.snapshot", snapshot(subjects=[subject(nick="x")]), "subjects.0.nick"),
    ("lists.snapshot", snapshot(subjects=[subject(health="green")]),
     "health and health_at go together"),
    ("lists.snapshot", snapshot(subjects=[subject(health_at="2026-12-01T00:00:00Z")]),
     "health and health_at go together"),
    ("lists.snapshot", snapshot(subjects=[subject(quarantine_until="2026-12-14")]),
     "subjects.0.quarantine_until"),
    ("lists.snapshot", snapshot(subjects=[subject(quarantine_until="2026-02-30T00:00:00Z")]),
     "not a real time"),
    ("lists.snapshot", snapshot(subjects=[subject(quarantine_until="2026-12-14T00:00:00+01:00")]),
     "quarantine_until"),
    ("lists.snapshot", snapshot(subjects=[subject(templates=[{"model": "m", "data": "a!=="}])]),
     "not standard base64"),
    ("lists.snapshot", snapshot(subjects=[subject(templates=[{"model": "m", "data": "AAAAAAA="}])]),
     "5 bytes is not a whole number of float32"),
    ("lists.snapshot", snapshot(subjects=[subject(templates=[{"model": "m",
                                                             "data": "A" * 5464}])]),
     "data"),
    ("lists.snapshot", snapshot(subjects=[subject(templates=[{"model": "m", "data": DATA}] * 17)]),
     "templates"),
    ("lists.snapshot", snapshot(subjects=[subject(templates=[{"data": DATA}])]), "model"),
    ("lists.update", update(version=3), "version 3 must be above base_version 3"),
    ("lists.update", update(base_version=-1), "base_version"),
    ("lists.update", update(remove=["a", "a"]), "'a' appears twice"),
    ("lists.update", update(remove=["r-0042"], upsert=[subject()]), "both upserted and removed"),
    ("lists.update", update(remove=["x"] * 1001), "remove"),
    ("lists.update", update(upsert=[subject(health=None, health_at=None, templates=None)] * 2),
     "appears twice"),
])
def test_bad_arguments_are_refused_with_their_field(name: str, args: dict[str, Any],
                                                    where: str) -> None:
    with pytest.raises(ValueError, match=f"bad args for {name}: ") as info:
        validate_args(name, args)
    assert where in str(info.value) and "\n" not in str(info.value)


def test_a_full_snapshot_part_fits_a_signed_envelope_with_the_longest_names() -> None:
    """snapshot_args' budget leaves room for the envelope: the gate's 16 KiB are kept."""
    key = Ed25519PrivateKey.generate()
    args = snapshot_args(entries(60, seed=3, templates=3), version=2**53 - 1)
    assert len(args) > 3
    site, gate = "s" * 64, "g" * 64
    for part in args:
        validate_args("lists.snapshot", part)
        payload = sign_command(key, "lists.snapshot", part, site, gate, clock_ns=Clock(T0))
        assert len(payload) <= DEFAULT_MAX_BYTES
    public = key.public_key()
    verifier = CommandVerifier({key_id(public): public}, site, gate,
                               clock_ns=Clock(T0 + 10**9), allowed=frozenset(COMMAND_ARGS))
    topic = f"gate/{site}/{gate}/cmd/lists.snapshot"
    signed = sign_command(key, "lists.snapshot", args[0], site, gate, clock_ns=Clock(T0))
    command = verifier.verify(topic, signed)
    assert getattr(command, "args", None) == args[0]

