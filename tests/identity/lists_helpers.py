"""Building list changes and comparing whole stores, for the identity tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from edge.identity.store import ListStore
from edge.identity.sync import change_from_args, snapshot_args
from edge.identity.wire import ListSnapshot, SubjectEntry, Template

MODEL = "dlib-r1"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def entry(i: int, rng: np.random.Generator, templates: int = 2, model: str = MODEL,
          dim: int = 128) -> SubjectEntry:
    """Subject `s{i:05d}`: every third quarantined, health cycling, `templates` templates."""
    health = (None, "green", "yellow", "red")[i % 4]
    return SubjectEntry(
        id=f"s{i:05d}", kind=("resident", "worker", "visitor")[i % 3],
        quarantine_until=T0 + timedelta(days=14) if i % 3 == 0 else None,
        health=health, health_at=None if health is None else T0 - timedelta(hours=i),
        templates=tuple(Template(model, rng.normal(0, 0.1, dim).astype(np.float32))
                        for _ in range(templates)))


def entries(n: int, seed: int = 0, templates: int = 2, start: int = 0) -> list[SubjectEntry]:
    rng = np.random.default_rng(seed)
    return [entry(i, rng, templates) for i in range(start, start + n)]


def snapshot_parts(subjects: list[SubjectEntry], version: int,
                   budget_bytes: int | None = None) -> list[ListSnapshot]:
    args = (snapshot_args(subjects, version) if budget_bytes is None
            else snapshot_args(subjects, version, budget_bytes))
    parts = [change_from_args("lists.snapshot", a) for a in args]
    assert all(isinstance(p, ListSnapshot) for p in parts)
    return parts  # type: ignore[return-value]


def contents(store: ListStore) -> tuple[Any, ...]:
    """Everything a reader sees: version, origin, subjects, every template's bytes."""
    subjects = store.subjects()
    templates = {s.id: {m: t.tobytes() for m, t in store.templates(s.id).items()}
                 for s in subjects}
    return store.version, store.origin, subjects, templates


def expected_subjects(subjects: list[SubjectEntry]) -> list[tuple[Any, ...]]:
    """What store.subjects() should hold after a snapshot of `subjects`, comparable."""
    return sorted((s.id, s.kind, s.quarantine_until, s.health, s.health_at) for s in subjects)


def as_tuples(store: ListStore) -> list[tuple[Any, ...]]:
    return [(s.id, s.kind, s.quarantine_until, s.health, s.health_at) for s in store.subjects()]
