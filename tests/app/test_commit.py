"""The live gate's commit step (edge.app.checkpoint.Committer): decisions and the checkpoint in
one outbox transaction; a full disk (a real SQLITE_FULL, via max_page_count) holds decisions
in memory, reports it, retries with backoff and drains in order when space returns."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from edge.app.checkpoint import (
    LEGACY_FILE,
    Checkpoint,
    Committer,
    Resume,
    decode,
    load_checkpoint,
)
from edge.core.types import Decision
from edge.transport.events import decision_body
from edge.transport.outbox import Outbox
from tests.mqtt_helpers import decision


class Sink:
    """The Publisher's commit side over a real outbox file, without a broker."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def event_of(self, d: Decision) -> tuple[str, dict[str, object]]:
        return d.type, decision_body(d, site="s1", gate="north", wall_ns=0)

    def commit(
        self, events: Sequence[tuple[str, Mapping[str, object]]], checkpoint: str | None = None
    ) -> list[tuple[int, str]]:
        return self.outbox.put_many(events, checkpoint=checkpoint)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _full(outbox: Outbox, full: bool) -> None:
    if full:
        (pages,) = outbox._conn.execute("PRAGMA page_count").fetchone()
        outbox._conn.execute(f"PRAGMA max_page_count = {pages}")
    else:
        outbox._conn.execute("PRAGMA max_page_count = 1073741823")


def _fat(i: int, body_c: float = 36.6) -> Decision:
    # Big enough that each event needs a new page, so a capped file refuses it.
    d = decision(i, body_c)
    return Decision(d.type, d.t_ns, d.track, d.temperature, d.bbox, "x" * 9000)  # type: ignore[arg-type]


def _seqs_and_tracks(outbox: Outbox) -> list[tuple[int, int]]:
    return [(r.seq, json.loads(r.payload)["track"]) for r in outbox.pending(100)]


def test_a_frame_s_events_and_its_checkpoint_are_one_commit(tmp_path: Path) -> None:
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        committer = Committer(Sink(outbox), durable=True, clock=Clock())
        committer.add(decision(1))
        committer.add(decision(2))
        assert outbox.depth() == 0  # nothing before the frame is done
        committer.after_frame(5_000, [(1, 2, 3, 4), (5, 6, 7, 8)])
        assert outbox.depth() == 2
        assert decode(outbox.load_checkpoint() or "") == (5_000, [(1, 2, 3, 4), (5, 6, 7, 8)])
    resume = load_checkpoint(tmp_path, "s1", "north")
    assert (resume.t_ns, resume.decided) == (5_000, ((1, 2, 3, 4), (5, 6, 7, 8)))
    assert load_checkpoint(tmp_path, "s1", "south").t_ns is None


def test_checkpoint_alone_at_most_every_second(tmp_path: Path) -> None:
    clock = Clock()
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        committer = Committer(Sink(outbox), durable=True, clock=clock)
        committer.after_frame(1, [])
        clock.t += 0.5
        committer.after_frame(2, [(1, 1, 5, 5)])
        assert decode(outbox.load_checkpoint() or "")[0] == 1
        clock.t += 0.6
        committer.after_frame(3, [(1, 1, 5, 5)])
        assert decode(outbox.load_checkpoint() or "") == (3, [(1, 1, 5, 5)])


def test_checkpoint_where_only_the_clock_moved_is_written_once_a_minute(tmp_path: Path) -> None:
    clock = Clock()
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        committer = Committer(Sink(outbox), durable=True, clock=clock)
        for t in range(1, 61):  # nobody in view for a minute: no fsync a second
            committer.after_frame(t, [])
            clock.t += 1.0
        assert decode(outbox.load_checkpoint() or "")[0] == 1
        committer.after_frame(61, [])
        assert decode(outbox.load_checkpoint() or "")[0] == 61
        committer.close(62, [])  # shutdown writes it regardless
        assert decode(outbox.load_checkpoint() or "")[0] == 62


def test_legacy_json_checkpoint_is_read_when_the_outbox_has_none(tmp_path: Path) -> None:
    assert Checkpoint(tmp_path / LEGACY_FILE).save(77, [(1, 1, 2, 2)], force=True)
    assert load_checkpoint(tmp_path, "s1", "north") == Resume(77, ((1, 1, 2, 2),))
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        outbox.put_many([], checkpoint='{"t_ns": 88, "decided": []}')
    assert load_checkpoint(tmp_path, "s1", "north") == Resume(88, ())  # the outbox wins


def test_checkpoint_file_write_failure_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = Checkpoint(tmp_path / "missing-dir" / LEGACY_FILE)
    with caplog.at_level(logging.ERROR):
        assert not checkpoint.save(1, [], force=True)
    assert "free space" in caplog.text


def test_full_disk_holds_decisions_retries_with_backoff_and_drains_in_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock, changes = Clock(), []
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        committer = Committer(Sink(outbox), durable=True, clock=clock, on_change=changes.append)
        committer.add(_fat(1))
        committer.after_frame(1_000, [(1, 1, 9, 9)])
        _full(outbox, True)
        with caplog.at_level(logging.INFO, logger="edge.app.checkpoint"):
            committer.add(_fat(2))
            committer.after_frame(2_000, [(2, 2, 9, 9)])  # fails: held, retry in 1 s
            stats = committer.stats()
            assert stats["state"] == "degraded" and stats["held_events"] == 1
            assert "database or disk is full" in str(stats["outbox_error"])
            assert "free space" in str(stats["outbox_error"])
            attempts = []
            for i in range(3, 40):  # 37 s of frames, one decision every second
                clock.t += 1.0
                committer.add(_fat(i))
                committer.after_frame(i * 1_000, [(i, i, 9, 9)])
                attempts.append(committer.stats()["held_events"])
            # backoff 1, 2, 4, 8, 16 s: far fewer attempts than frames, nothing lost
            assert attempts[-1] == 38 and outbox.depth() == 1
            assert decode(outbox.load_checkpoint() or "")[0] == 1_000  # never ahead of events
            _full(outbox, False)
            clock.t += 30.0
            committer.after_frame(40_000, [(39, 39, 9, 9)])
        assert committer.stats() == {"state": "ok", "outbox_error": None, "held_events": 0,
                                     "held_dropped": 0}
        assert [t for _, t in _seqs_and_tracks(outbox)] == list(range(1, 40))
        assert [s for s, _ in _seqs_and_tracks(outbox)] == list(range(1, 40))  # gap-free
        assert decode(outbox.load_checkpoint() or "") == (40_000, [(39, 39, 9, 9)])
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "aside" not in errors[0].getMessage()
    assert "Traceback" not in caplog.text
    assert "writable again" in caplog.text
    assert changes[0] is not None and changes[-1] is None and len(changes) == 2


def test_bounded_queue_drops_screenings_before_alarms(tmp_path: Path) -> None:
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        committer = Committer(Sink(outbox), durable=True, max_held=3, clock=Clock())
        committer.after_frame(0, [])
        _full(outbox, True)
        for i, c in enumerate((38.5, 36.5, 38.6, 36.4, 38.7), start=1):
            committer.add(_fat(i, c))
            committer.after_frame(i, [])
        assert committer.stats()["held_dropped"] == 2
        _full(outbox, False)
        committer.close(6, [])
        assert [json.loads(r.payload)["type"] for r in outbox.pending(10)] == ["fever"] * 3


def test_close_logs_events_it_could_not_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        committer = Committer(Sink(outbox), durable=True, clock=Clock())
        committer.after_frame(0, [])
        _full(outbox, True)
        committer.add(_fat(7, 38.4))
        with caplog.at_level(logging.ERROR):
            committer.close(1, [])
    assert "event not stored" in caplog.text and '"track": 7' in caplog.text


def test_evidence_snapshot_round_trips_only_for_the_same_fingerprint(tmp_path: Path) -> None:
    from edge.app.checkpoint import decode_resume, encode
    from edge.core.decide import DecideParams
    from edge.core.evidence import Evidence, EvidenceParams

    evidence = Evidence(EvidenceParams(decide=DecideParams(threshold_c=37.3)))
    text = encode(9, [(1, 2, 3, 4)], evidence, "abc")
    resume = decode_resume(text)
    restored = resume.restore_evidence("abc")
    assert isinstance(restored, Evidence) and restored.threshold_c == 37.3
    assert resume.restore_evidence("other code or config") is None
    assert decode_resume(encode(9, [], evidence)).evidence is None  # no fingerprint: no snapshot


def test_evidence_snapshot_refuses_anything_but_its_own_types(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import pickle

    from edge.app.checkpoint import Resume

    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    resume = Resume(1, (), pickle.dumps(Boom()), "f")
    with caplog.at_level(logging.WARNING):
        assert resume.restore_evidence("f") is None
    assert "has no place in a checkpoint" in caplog.text
