"""The live gate started on a state dir it cannot write (issue 9): the Committer over a lazy
outbox is degraded from the start, holds every decision, retries with backoff, and commits
them with the checkpoint, seq continuing the file's, once the state dir is usable. The state
dir is blocked by a plain file where its folder must be (fails for root too)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from edge.app.checkpoint import Committer, decode, load_checkpoint
from edge.transport.outbox import Outbox
from tests.app.test_commit import Clock, Sink
from tests.mqtt_helpers import decision


def test_unwritable_at_start_holds_then_commits_everything_once_in_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    with Outbox.open(state, site="s1", gate="north") as before:  # a gate that ran before
        before.put("screening", {"track": 0})
        before.ack(1)
    away = tmp_path / "away"
    state.rename(away)
    state.write_text("not a folder")
    clock, changes = Clock(), []
    outbox = Outbox.open(state, site="s1", gate="north", lazy=True)
    try:
        with caplog.at_level(logging.INFO, logger="edge.app.checkpoint"):
            committer = Committer(Sink(outbox), durable=True, clock=clock,
                                  on_change=changes.append, max_held=50,
                                  error=outbox.open_error)
            assert committer.stats()["state"] == "degraded"  # before the first frame
            assert "decisions are held in memory (50 max" in caplog.text
            for i in range(1, 4):
                committer.add(decision(i))
                committer.after_frame(i * 1_000, [(i, i, 9, 9)])  # retried at once, fails
                clock.t += 0.4
            stats = committer.stats()
            assert stats["held_events"] == 3 and stats["outbox_error"]
            errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(errors) == 1  # the start message, not one per retry
            state.unlink()
            away.rename(state)
            committer.after_frame(4_000, [(3, 3, 9, 9)])  # within the backoff: still held
            assert committer.stats()["held_events"] == 3
            clock.t += 2.0
            committer.after_frame(5_000, [(3, 3, 9, 9)])
        assert committer.stats() == {"state": "ok", "outbox_error": None, "held_events": 0,
                                     "held_dropped": 0}
        assert changes == [None] and "writable again" in caplog.text
        rows = outbox.pending(10)
        assert [(r.seq, json.loads(r.payload)["track"]) for r in rows] == [(2, 1), (3, 2), (4, 3)]
        assert decode(outbox.load_checkpoint() or "") == (5_000, [(3, 3, 9, 9)])
    finally:
        outbox.close()
    assert load_checkpoint(state, "s1", "north").t_ns == 5_000


def test_a_checkpoint_read_only_state_dir_still_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint of a state dir the gate cannot write is read anyway (read-only), so a
    degraded restart does not decide again the people already published."""
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        outbox.put_many([], checkpoint='{"t_ns": 42, "decided": [[1, 2, 3, 4]]}')
    from edge.app import checkpoint

    real = checkpoint.Outbox

    class Unwritable(real):  # type: ignore[misc, valid-type]
        def __init__(self, *a: object, **k: object) -> None:
            raise checkpoint.OutboxWriteError("outbox: cannot write (attempt to write a "
                                              "readonly database)")

    # The read-write open fails as on a read-only mount (root cannot make one with chmod).
    monkeypatch.setattr(checkpoint, "Outbox", Unwritable)
    resume = load_checkpoint(tmp_path, "s1", "north")
    assert (resume.t_ns, resume.decided) == (42, ((1, 2, 3, 4),))
