"""The list store on disk: opening, local edits, counts, the gallery it builds, reopening."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from edge.errors import IdentityError
from edge.identity import db
from edge.identity.store import ListStore, Subject
from tests.identity.lists_helpers import MODEL, T0, contents, entries, snapshot_parts


def _emb(seed: int, k: int = 2, d: int = 128) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.1, (k, d)).astype(np.float32)


def test_a_new_store_is_private_wal_and_fully_synchronous(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "lists"
    with ListStore.open(folder) as store:
        assert (store.version, store.updated_ns, store.origin) == (0, 0, "local")
        assert not store.snapshot_needed and store.last_gap is None
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        store.enroll("r1", "resident", _emb(1), MODEL)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(folder / db.FILENAME).st_mode) == 0o600


def test_a_store_readable_by_others_is_made_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ListStore.open(tmp_path).close()
    (tmp_path / db.FILENAME).chmod(0o644)
    with caplog.at_level(logging.WARNING, "edge.identity"):
        ListStore.open(tmp_path).close()
    assert stat.S_IMODE(os.stat(tmp_path / db.FILENAME).st_mode) == 0o600
    assert "was readable by other users: now mode 0600" in caplog.text


def test_open_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match=r"no list store \(lists.sqlite\) there"):
        ListStore.open(tmp_path / "absent", create=False)
    assert not (tmp_path / "absent").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(IdentityError, match="not a directory"):
        ListStore.open(tmp_path / "file")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / db.FILENAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(IdentityError, match="not a readable list store") as info:
        ListStore.open(tmp_path / "junk")
    assert "\n" not in str(info.value)


def test_a_store_from_a_newer_gate_edge_is_refused(tmp_path: Path) -> None:
    ListStore.open(tmp_path).close()
    conn = sqlite3.connect(tmp_path / db.FILENAME)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(IdentityError, match="schema 99 is newer"):
        ListStore.open(tmp_path)


def test_local_edits_bump_the_version_and_reopen_keeps_everything(tmp_path: Path) -> None:
    clock = iter(range(1_000, 10_000, 1_000))
    store = ListStore(tmp_path, db.connect(tmp_path, create=True), lambda: next(clock))
    store.enroll("r1", "resident", _emb(1), MODEL)
    store.enroll("w1", "worker", _emb(2, k=1), MODEL)
    store.enroll("r1", "resident", _emb(3, k=1), MODEL)  # a third template for r1
    store.set_quarantine("r1", T0 + timedelta(days=14))
    store.set_health("w1", "yellow", T0)
    assert (store.version, store.updated_ns) == (5, 5_000)
    before = contents(store)
    store.close()
    with ListStore.open(tmp_path, create=False) as again:
        assert contents(again) == before
        assert again.subject("r1") == Subject("r1", "resident", T0 + timedelta(days=14),
                                              None, None)
        assert again.subject("w1") == Subject("w1", "worker", None, "yellow", T0)
        assert again.subject("nobody") is None
        np.testing.assert_array_equal(again.templates("r1")[MODEL],
                                      np.concatenate([_emb(1), _emb(3, k=1)]))
        again.set_quarantine("r1", None)
        again.remove_subject("w1")
        assert again.version == 7 and [s.id for s in again.subjects()] == ["r1"]
        assert again.subject("r1").quarantine_until is None  # type: ignore[union-attr]
        assert again.counts()["templates"] == 3


def test_counts(tmp_path: Path) -> None:
    with ListStore.open(tmp_path) as store:
        store.enroll("a", "resident", _emb(1), MODEL)
        store.enroll("b", "visitor", _emb(2), MODEL)
        store.enroll("c", "resident", _emb(3, k=1), MODEL)
        store.set_quarantine("a", T0 + timedelta(days=1))
        store.set_quarantine("b", T0 - timedelta(seconds=1))  # ended already at T0
        store.set_health("a", "red", T0)
        store.set_health("c", "green", T0)
        assert store.counts(T0) == {
            "subjects": 3, "templates": 5, "quarantined": 1, "health_green": 1,
            "health_yellow": 0, "health_red": 1, "health_none": 1, "resident": 2, "worker": 0,
            "visitor": 1, "trusted_compound": 0, "trusted_dcc": 0, "revoked_compound": 0,
            "revoked_dcc_uci": 0, "revoked_dcc_country_uci": 0, "revoked_dcc_signature": 0}
        assert store.counts(T0 + timedelta(days=2))["quarantined"] == 0


def test_quarantined_at() -> None:
    until = T0 + timedelta(days=14)
    s = Subject("a", "resident", until, None, None)
    assert s.quarantined_at(T0) and not s.quarantined_at(until)
    assert not Subject("a", "resident", None, None, None).quarantined_at(T0)
    # Any zone compares as the instant it is.
    assert s.quarantined_at(until.astimezone(timezone(timedelta(hours=3))) - timedelta(1e-6))


def test_the_gallery_holds_one_model_and_finds_the_right_subject(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ListStore.open(tmp_path) as store:
        for i in range(20):
            store.enroll(f"p{i:02d}", "resident", _emb(i, k=3), MODEL)
        store.enroll("p05", "resident", _emb(99, k=2, d=64), "other-model")
        with caplog.at_level(logging.WARNING, "edge.identity"):
            gallery = store.gallery(MODEL)
        assert "2 templates of other models ignored (other-model: 2)" in caplog.text
        assert (gallery.size, gallery.dim, gallery.model_id) == (60, 128, MODEL)
        assert gallery.subjects == tuple(f"p{i:02d}" for i in range(20))
        probes = np.stack([_emb(i, k=3)[i % 3] for i in range(20)]) + np.float32(0.001)
        index, distance = gallery.nearest(probes.astype(np.float32))
        assert [gallery.subject(int(i)) for i in index] == [f"p{i:02d}" for i in range(20)]
        assert float(distance.max()) < 0.02
        other = store.gallery("other-model")
        assert (other.size, other.dim, other.subjects) == (2, 64, ("p05",))
        empty = store.gallery("never-enrolled", empty_dim=32)
        assert (empty.size, empty.dim) == (0, 32)


@pytest.mark.parametrize(("call", "message"), [
    (lambda s: s.set_quarantine("ghost", T0), "no subject 'ghost'; enroll it first"),
    (lambda s: s.set_health("ghost", "green", T0), "no subject 'ghost'"),
    (lambda s: s.remove_subject("ghost"), "no subject 'ghost'"),
    (lambda s: s.set_health("a", "purple", T0), "health 'purple' is not one of"),
    (lambda s: s.set_quarantine("a", datetime(2026, 12, 1)), "until: .* has no time zone"),
    (lambda s: s.set_health("a", "red", datetime(2026, 12, 1)), "at: .* has no time zone"),
    (lambda s: s.enroll("a", "boss", _emb(1), MODEL), "kind 'boss' is not one of"),
    (lambda s: s.enroll("a b", "resident", _emb(1), MODEL), "subject id 'a b' must be"),
    (lambda s: s.enroll("a", "resident", _emb(1), ""), "model id '' must be"),
    (lambda s: s.enroll("a", "resident", _emb(1, d=64), MODEL),
     "templates of model 'dlib-r1' are 128-D here, not 64-D"),
])
def test_bad_local_edits_change_nothing(tmp_path: Path, call: object, message: str) -> None:
    with ListStore.open(tmp_path) as store:
        store.enroll("a", "resident", _emb(1), MODEL)
        before = contents(store)
        with pytest.raises(IdentityError, match=message):
            call(store)  # type: ignore[operator]
        assert contents(store) == before


@pytest.mark.parametrize(("embeddings", "message"), [
    (np.zeros(128, np.float32), "embeddings must be a 2-D"),
    (np.zeros((1, 128), np.float64), "embeddings must be float32"),
    (np.zeros((0, 128), np.float32), "at least one non-empty row"),
    (np.full((1, 128), np.nan, np.float32), "must be finite"),
])
def test_bad_embeddings_are_named(tmp_path: Path, embeddings: np.ndarray, message: str) -> None:
    with ListStore.open(tmp_path) as store, pytest.raises(ValueError, match=message):
        store.enroll("a", "resident", embeddings, MODEL)


def test_a_synced_store_refuses_local_edits(tmp_path: Path) -> None:
    with ListStore.open(tmp_path) as store:
        store.enroll("local-only", "resident", _emb(1), MODEL)
        for part in snapshot_parts(entries(5), version=40):
            assert store.apply(part).applied
        assert (store.version, store.origin) == (40, "backend")
        assert "local-only" not in {s.id for s in store.subjects()}  # the snapshot replaced it
        before = contents(store)
        for edit in (lambda: store.enroll("x", "resident", _emb(2), MODEL),
                     lambda: store.set_quarantine("s00001", T0),
                     lambda: store.set_health("s00001", "red", T0),
                     lambda: store.remove_subject("s00001")):
            with pytest.raises(IdentityError, match=r"synced from the backend \(list version "
                               r"40\); make the change on the backend and push it"):
                edit()
        assert contents(store) == before


def test_another_process_edit_is_seen_without_reopening(tmp_path: Path) -> None:
    with ListStore.open(tmp_path) as reader, ListStore.open(tmp_path) as writer:
        assert reader.version == 0
        writer.enroll("a", "resident", _emb(1), MODEL)
        assert reader.version == 1 and reader.counts()["templates"] == 2
        assert reader.gallery(MODEL).size == 2


def test_times_are_stored_in_utc(tmp_path: Path) -> None:
    plus3 = timezone(timedelta(hours=3))
    with ListStore.open(tmp_path) as store:
        store.enroll("a", "resident", _emb(1), MODEL)
        store.set_quarantine("a", datetime(2026, 12, 15, 3, 0, tzinfo=plus3))
        until = store.subject("a").quarantine_until  # type: ignore[union-attr]
        assert until == datetime(2026, 12, 15, 0, 0, tzinfo=UTC) and until.tzinfo is UTC
