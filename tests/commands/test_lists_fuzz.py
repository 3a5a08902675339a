"""Malformed list commands change nothing: a seeded mutation loop over valid `lists.*`
arguments (2,400 payloads), through the gate's path (schema -> change_from_args -> store) and
through the identity layer alone (change_from_args -> store, no schema in front)."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.commands.handlers import validate_args
from edge.identity.store import ListStore
from edge.identity.sync import change_from_args, snapshot_args
from edge.identity.wire import subject_to_wire
from tests.identity.lists_helpers import entries, entry

JUNK: list[Any] = [None, True, False, 0, -1, 1.5, 2**64, -(2**63), "", "x" * 300, "\u202e\x00",
                   [], {}, [[[[[]]]]], {"a": {"b": {}}}, "2026-13-01T00:00:00Z",
                   "2026-12-01T00:00:00Z", "a!==", "AAAA", "AAAAAAA=", "resident", "green",
                   float("nan"), "s00001", ["s00001"], [{"model": "m", "data": "AAAA"}]]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(rng: random.Random, payload: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(payload)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_paths(doc)[1:] or [()])
        if not path:
            break
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        op = rng.randrange(6)
        value = parent[key]
        if op == 0:
            del parent[key]
        elif op == 1:
            parent[key] = copy.deepcopy(rng.choice(JUNK))
        elif op == 2 and isinstance(parent, dict):
            parent[rng.choice(["extra", "ID", "templates ", "base"])] = rng.choice(JUNK)
        elif op == 3 and isinstance(value, str):
            cut = rng.randrange(len(value) + 1)
            parent[key] = rng.choice([value[:cut], value + rng.choice("=!~ Z0"), value.upper()])
        elif op == 4 and isinstance(value, int) and not isinstance(value, bool):
            parent[key] = value + rng.choice([-2, -1, 1, 2**53, -(2**53)])
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(value))  # a duplicate entry
        else:
            parent[key] = [value]
    return doc


def _valid(rng: random.Random, version: int, count: int) -> tuple[str, dict[str, Any]]:
    nprng = np.random.default_rng(count)
    if rng.random() < 0.5:
        subjects = [subject_to_wire(entry(i, nprng, templates=rng.randint(0, 2)))
                    for i in rng.sample(range(12), 3)]
        removable = [f"s{i:05d}" for i in range(12, 16)]
        return "lists.update", {"base_version": version, "version": version + 1,
                                "upsert": subjects, "remove": rng.sample(removable, 2)}
    args = snapshot_args(entries(4, seed=count % 7, templates=1), version + 1)[0]
    args["parts"] = rng.choice([1, 2])  # 2: a valid one only stages
    return "lists.snapshot", args


def _state(store: ListStore) -> tuple[Any, ...]:
    return (store.version, store.origin, store.subjects(),
            {s.id: {m: t.tobytes() for m, t in store.templates(s.id).items()}
             for s in store.subjects()})


def _through_the_gate(store: ListStore, name: str, args: dict[str, Any]) -> str:
    try:
        model = validate_args(name, args)
    except ValueError:
        return "bad_args"
    result = store.apply(change_from_args(name, model.model_dump()))
    return "applied" if result.applied else str(result.reason)


def _identity_only(store: ListStore, name: str, args: dict[str, Any]) -> str:
    try:
        change = change_from_args(name, json.loads(json.dumps(args)))
    except ValueError:
        return "bad_args"
    result = store.apply(change)
    return "applied" if result.applied else str(result.reason)


@pytest.mark.parametrize("path", [_through_the_gate, _identity_only])
def test_malformed_list_commands_change_nothing(tmp_path: Path, path: Any) -> None:
    rng = random.Random(20261201)
    store = ListStore.open(tmp_path / "lists")
    for part in snapshot_args(entries(16, seed=1), version=5):
        assert store.apply(change_from_args("lists.snapshot", part)).applied
    outcomes: dict[str, int] = {}
    for count in range(1200):
        name, valid = _valid(rng, store.version, count)
        payload = _mutate(rng, valid)
        before = _state(store)
        outcome = path(store, name, payload)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome != "applied":
            assert _state(store) == before, (outcome, payload)
        else:
            assert store.version >= before[0]
    store.close()
    assert sum(outcomes.values()) == 1200
    assert outcomes.get("bad_args", 0) >= 600, outcomes  # most mutations break the payload
    assert set(outcomes) <= {"applied", "bad_args", "stale_version", "version_gap"}, outcomes
