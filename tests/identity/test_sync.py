"""Sync rules: snapshots in parts, increments, gaps, stale versions, refusals change nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edge.identity.store import ListStore
from edge.identity.sync import ARGS_BUDGET_BYTES, ListUpdate, change_from_args, snapshot_args
from edge.identity.wire import ListSnapshot, SubjectEntry, Template, subject_to_wire
from tests.identity.lists_helpers import (
    MODEL,
    as_tuples,
    contents,
    entries,
    entry,
    expected_subjects,
    snapshot_parts,
)


@pytest.fixture
def store(tmp_path: Path) -> ListStore:
    s = ListStore.open(tmp_path / "lists")
    yield s  # type: ignore[misc]
    s.close()


def _synced(store: ListStore, version: int = 10, n: int = 6) -> list[SubjectEntry]:
    subjects = entries(n, seed=version)
    for part in snapshot_parts(subjects, version):
        assert store.apply(part).applied
    assert store.version == version
    return subjects


def _staged(store: ListStore) -> list[tuple[int, int]]:
    return store._conn.execute("SELECT version, part FROM snapshot_parts ORDER BY 1, 2").fetchall()


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1), (1, 2, 0)])
def test_a_snapshot_in_three_parts_is_applied_when_the_last_arrives(
    store: ListStore, order: tuple[int, int, int]
) -> None:
    old = _synced(store, version=3)
    new = entries(25, seed=7)
    parts = snapshot_parts(new, version=8, budget_bytes=ARGS_BUDGET_BYTES)
    assert len(parts) == 3  # 25 subjects with 2 templates each need 3 parts of 15 KiB
    before = contents(store)
    for step, i in enumerate(order):
        result = store.apply(parts[i])
        assert result.applied and result.reason is None
        if step < 2:  # still the old list, not a mix
            assert result.version == 3 and contents(store) == before
            assert f"part {i + 1} staged ({step + 1}/3)" in result.detail
    assert result.version == 8 and store.version == 8 and not store.snapshot_needed
    assert as_tuples(store) == expected_subjects(new)
    assert store.counts()["templates"] == 50
    np.testing.assert_array_equal(store.templates("s00024")[MODEL],
                                  np.stack([t.embedding for t in new[24].templates or ()]))
    assert {s.id for s in store.subjects()} == {s.id for s in new} != {s.id for s in old}
    assert _staged(store) == []


def test_a_repeated_part_replaces_the_staged_one(store: ListStore) -> None:
    parts = snapshot_parts(entries(30, seed=1), version=5, budget_bytes=8000)
    assert len(parts) >= 3
    store.apply(parts[0])
    assert store.apply(parts[0]).applied
    assert _staged(store) == [(5, 1)]


def test_a_newer_snapshot_discards_older_staged_parts(store: ListStore) -> None:
    older = snapshot_parts(entries(30, seed=1), version=5, budget_bytes=8000)
    newer = snapshot_parts(entries(12, seed=2), version=6, budget_bytes=8000)
    store.apply(older[0])
    store.apply(older[1])
    store.apply(newer[0])
    assert _staged(store) == [(6, 1)]
    late = store.apply(older[2])  # the rest of the old one arrives late
    assert (late.applied, late.reason) == (False, "stale_version")
    assert _staged(store) == [(6, 1)]
    for part in newer[1:]:
        store.apply(part)
    assert store.version == 6 and as_tuples(store) == expected_subjects(entries(12, seed=2))


def test_a_part_with_another_part_count_restarts_that_version(store: ListStore) -> None:
    subjects = entries(30, seed=1)
    small = snapshot_parts(subjects, version=5, budget_bytes=6000)
    big = snapshot_parts(subjects, version=5, budget_bytes=12000)
    assert len(small) != len(big)
    store.apply(small[0])
    store.apply(big[0])
    assert _staged(store) == [(5, 1)]
    for part in big[1:]:
        store.apply(part)
    assert store.version == 5 and as_tuples(store) == expected_subjects(subjects)


def test_an_increment_is_applied(store: ListStore) -> None:
    old = _synced(store, version=10, n=6)
    rng = np.random.default_rng(3)
    changed = replace(old[1], health="red", health_at=old[0].health_at or old[2].health_at,
                      templates=None)  # status only: templates kept
    retrained = entry(2, rng, templates=1)  # new template replaces s00002's two
    newcomer = entry(100, rng)
    kept_templates = store.templates("s00001")[MODEL]
    result = store.apply(ListUpdate(10, 11, (changed, retrained, newcomer), ("s00003",)))
    assert (result.applied, result.reason, result.version) == (True, None, 11)
    assert "3 upserted, 1 of 1 removed" in result.detail
    ids = [s.id for s in store.subjects()]
    assert ids == ["s00000", "s00001", "s00002", "s00004", "s00005", "s00100"]
    assert store.subject("s00001").health == "red"  # type: ignore[union-attr]
    np.testing.assert_array_equal(store.templates("s00001")[MODEL], kept_templates)
    assert store.templates("s00002")[MODEL].shape == (1, 128)
    assert store.templates("s00003") == {}
    assert store.counts()["templates"] == 12 - 1 - 2 + 2  # s00002 2 -> 1, s00003 gone


def test_a_gap_marks_the_store_and_a_snapshot_clears_it(store: ListStore) -> None:
    _synced(store, version=10)
    before = contents(store)
    gap = store.apply(ListUpdate(11, 12, (entry(50, np.random.default_rng(0)),)))
    assert (gap.applied, gap.reason, gap.version) == (False, "version_gap", 10)
    assert store.snapshot_needed and contents(store) == before
    assert {k: v for k, v in (store.last_gap or {}).items() if k != "at_ns"} == {
        "version": 10, "base_version": 11, "got_version": 12}
    assert store.apply(ListUpdate(12, 13)).reason == "version_gap"  # still behind
    for part in snapshot_parts(entries(4, seed=9), version=13):
        store.apply(part)
    assert store.version == 13 and not store.snapshot_needed and store.last_gap is None


def test_the_missing_increment_arriving_late_clears_the_gap(store: ListStore) -> None:
    _synced(store, version=10)
    assert store.apply(ListUpdate(11, 12)).reason == "version_gap"
    assert store.apply(ListUpdate(10, 11)).applied
    assert store.snapshot_needed  # 12 still missing
    assert store.apply(ListUpdate(11, 12)).applied
    assert store.version == 12 and not store.snapshot_needed


def test_an_increment_on_a_store_without_snapshot_is_a_gap(store: ListStore) -> None:
    result = store.apply(ListUpdate(0, 1, (entry(1, np.random.default_rng(0)),)))
    assert (result.applied, result.reason) == (False, "version_gap")
    assert "no snapshot from the backend yet" in result.detail
    assert store.snapshot_needed and store.subjects() == [] and store.version == 0


@pytest.mark.parametrize("change", [
    ListUpdate(9, 10), ListUpdate(5, 7), ListUpdate(3, 4),
    ListSnapshot(10, 1, 1, ()), ListSnapshot(9, 1, 2, ()),
])
def test_stale_versions_change_nothing(store: ListStore, change: object) -> None:
    _synced(store, version=10)
    before = contents(store)
    result = store.apply(change)  # type: ignore[arg-type]
    assert (result.applied, result.reason, result.version) == (False, "stale_version", 10)
    assert contents(store) == before and not store.snapshot_needed and _staged(store) == []


def _bad_template_length(store: ListStore) -> object:
    odd = SubjectEntry("s00001", "resident", templates=(
        Template(MODEL, np.zeros(64, np.float32)),))
    return ListUpdate(10, 11, (odd,))


@pytest.mark.parametrize(("make", "detail"), [
    (lambda s: ListUpdate(10, 11, (entry(1, np.random.default_rng(0)),) * 2),
     "subject 's00001' appears twice"),
    (lambda s: ListUpdate(10, 11, (), ("a", "a")), "an id is removed twice"),
    (lambda s: ListUpdate(10, 11, (entry(1, np.random.default_rng(0)),), ("s00001",)),
     "both upserted and removed"),
    (_bad_template_length, "a 64-D template of model 'dlib-r1', whose templates are 128-D"),
    (lambda s: ListSnapshot(11, 1, 1, (entry(1, np.random.default_rng(0)),) * 2),
     "appears twice"),
    (lambda s: ListSnapshot(11, 3, 2, ()), "part 3 of 2"),
])
def test_inconsistent_changes_are_bad_args(store: ListStore, make: object, detail: str) -> None:
    _synced(store, version=10)
    before = contents(store)
    result = store.apply(make(store))  # type: ignore[operator]
    assert (result.applied, result.reason) == (False, "bad_args") and detail in result.detail
    assert contents(store) == before and _staged(store) == []


def test_duplicates_across_parts_refuse_the_whole_snapshot(store: ListStore) -> None:
    _synced(store, version=10)
    before = contents(store)
    a = entries(3, seed=1)
    store.apply(ListSnapshot(11, 1, 2, tuple(a)))
    result = store.apply(ListSnapshot(11, 2, 2, (a[0],)))
    assert (result.applied, result.reason) == (False, "bad_args")
    assert "'s00000' appears twice" in result.detail
    assert contents(store) == before and _staged(store) == []


def test_a_replaced_model_length_is_allowed_when_every_old_template_goes(
    store: ListStore,
) -> None:
    _synced(store, version=10, n=2)
    new = [SubjectEntry(s.id, s.kind, templates=(Template(MODEL, np.ones(64, np.float32)),))
           for s in store.subjects()]
    assert store.apply(ListUpdate(10, 11, tuple(new))).applied
    assert store.gallery(MODEL).dim == 64


def test_snapshot_args_fit_the_command_size_limit() -> None:
    subjects = entries(300, seed=4, templates=3)
    args = snapshot_args(subjects, version=77)
    sizes = [len(json.dumps(a, sort_keys=True, separators=(",", ":"))) for a in args]
    assert max(sizes) <= ARGS_BUDGET_BYTES and len(args) == len(sizes) > 1
    assert [a["part"] for a in args] == list(range(1, len(args) + 1))
    assert {a["parts"] for a in args} == {len(args)} and {a["version"] for a in args} == {77}
    assert [s["id"] for a in args for s in a["subjects"]] == [s.id for s in subjects]
    assert snapshot_args([], 3) == [{"version": 3, "part": 1, "parts": 1, "subjects": []}]
    huge = replace(subjects[0], templates=(subjects[0].templates or ())[:1] * 40)
    with pytest.raises(ValueError, match=r"alone is \d+ bytes of JSON"):
        snapshot_args([huge], 1)


def test_the_wire_form_round_trips_exactly() -> None:
    subjects = entries(8, seed=5)
    for s in subjects:
        back = change_from_args("lists.update", {
            "base_version": 1, "version": 2, "upsert": [subject_to_wire(s)], "remove": []})
        assert isinstance(back, ListUpdate)
        (got,) = back.upsert
        assert (got.id, got.kind, got.quarantine_until, got.health, got.health_at) == (
            s.id, s.kind, s.quarantine_until, s.health, s.health_at)
        for a, b in zip(got.templates or (), s.templates or (), strict=True):
            assert a.model_id == b.model_id and a.embedding.tobytes() == b.embedding.tobytes()
