"""change_from_args refuses what it cannot decode, naming the field, without the schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from edge.identity.sync import change_from_args
from edge.identity.wire import ListSnapshot, parse_time, wire_time


def _subject(**extra: Any) -> dict[str, Any]:
    return {"id": "a", "kind": "resident", **extra}


@pytest.mark.parametrize(("name", "args", "message"), [
    ("lists.nope", {}, "'lists.nope' is not a list command"),
    ("lists.update", {"base_version": 2**64, "version": 3}, "args.base_version: must be an"),
    ("lists.update", {"base_version": True, "version": 3}, "args.base_version"),
    ("lists.update", {"base_version": 1, "version": 2, "x": 1}, "args: unknown field 'x'"),
    ("lists.update", {"base_version": 1, "version": 2, "remove": "a"}, "args.remove: must be"),
    ("lists.update", {"base_version": 1, "version": 2, "remove": ["a b"]}, "remove.0: must be"),
    ("lists.update", {"base_version": 1, "version": 2, "upsert": [7]}, "upsert.0: must be an"),
    ("lists.snapshot", {"version": 1, "part": 2, "parts": 1}, "args.part: 2 is not in 1..parts"),
    ("lists.snapshot", {"version": 1, "part": 1, "parts": 1,
                        "subjects": [_subject(kind="boss")]}, "subjects.0.kind: 'boss'"),
    ("lists.snapshot", {"version": 1, "part": 1, "parts": 1,
                        "subjects": [_subject(health="blue", health_at="2026-01-01T00:00:00Z")]},
     "subjects.0.health: 'blue'"),
    ("lists.snapshot", {"version": 1, "part": 1, "parts": 1,
                        "subjects": [_subject(health="red")]}, "health and health_at go together"),
    ("lists.snapshot", {"version": 1, "part": 1, "parts": 1,
                        "subjects": [_subject(quarantine_until="2026-02-30T00:00:00Z")]},
     "subjects.0.quarantine_until: day is out of range"),
    ("lists.snapshot", {"version": 1, "part": 1, "parts": 1,
                        "subjects": [_subject(templates=[{"model": "m", "data": "AAAAAAA="}])]},
     "subjects.0.templates.0.data: 5 bytes"),
    ("lists.snapshot", {"version": 1, "part": 1, "parts": 1,
                        "subjects": [_subject(templates=[{"model": "m", "data": "AAD4fw=="}])]},
     "holds NaN or infinity"),
    ("lists.snapshot", {"version": 1, "part": 1, "parts": 1,
                        "subjects": [_subject(templates=[{"model": "m", "data": "A!=="}])]},
     "not standard base64"),
])
def test_undecodable_arguments_are_value_errors(name: str, args: dict[str, Any],
                                                message: str) -> None:
    with pytest.raises(ValueError, match=message):
        change_from_args(name, args)


def test_times() -> None:
    assert parse_time("2026-12-14T00:00:00.123456789Z", "t") == datetime(
        2026, 12, 14, 0, 0, 0, 123456, tzinfo=UTC)
    assert wire_time(datetime(2026, 12, 14, tzinfo=UTC)) == "2026-12-14T00:00:00Z"
    assert wire_time(datetime(2026, 12, 14, 0, 0, 0, 5, tzinfo=UTC)) == (
        "2026-12-14T00:00:00.000005Z")
    snap = change_from_args("lists.snapshot", {"version": 4, "part": 1, "parts": 1})
    assert snap == ListSnapshot(4, 1, 1, ())
