"""The live gate's lazy outbox (edge.transport.outbox, `lazy=True`): a state dir that cannot be
opened at start is no error; the outbox holds nothing, every put retries the open, and once it
opens `seq` continues from the file's counter (1 for a new file). Also `check`'s look at the
state dir (edge.transport.state_dir). The state dir is blocked with a plain file where a folder
must be: that fails for root too (chmod does not)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge.transport.events import decision_body
from edge.transport.outbox import OUTBOX_FILENAME, Outbox, OutboxWriteError
from edge.transport.state_dir import state_dir_problem, write_failure_message
from tests.mqtt_helpers import decision

BODY = decision_body(decision(1), site="s1", gate="north", wall_ns=0)


def _block(path: Path) -> None:
    """`path` becomes a file, so nothing can be created under it."""
    path.write_text("not a folder")


def test_lazy_outbox_starts_unopened_and_opens_on_the_first_put_that_works(
    tmp_path: Path,
) -> None:
    _block(tmp_path / "blocked")
    state = tmp_path / "blocked" / "state"  # cannot be created while "blocked" is a file
    outbox = Outbox.open(state, site="s1", gate="north", lazy=True)
    try:
        assert outbox.open_error is not None and "state.dir" in outbox.open_error
        assert "aside" not in outbox.open_error
        assert (outbox.depth(), outbox.pending(10), outbox.last_seq()) == (0, [], 0)
        assert outbox.load_checkpoint() is None and outbox.oldest_age_s() == 0.0
        assert outbox.ack_many([1]) == 0
        with pytest.raises(OutboxWriteError):
            outbox.put_many([("screening", BODY)], checkpoint="c1")
        assert outbox.open_error is not None and outbox.depth() == 0
        (tmp_path / "blocked").unlink()  # the state dir can be created now
        assert [s for s, _ in outbox.put_many([("screening", BODY)] * 2, checkpoint="c2")] == [
            1, 2]
        assert outbox.open_error is None and outbox.depth() == 2
        assert outbox.load_checkpoint() == "c2"
        assert oct(state.stat().st_mode & 0o777) == "0o700"
    finally:
        outbox.close()


def test_lazy_outbox_continues_the_stored_seq_once_the_file_opens(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Outbox.open(state, site="s1", gate="north") as first:
        assert [first.put("screening", BODY)[0] for _ in range(3)] == [1, 2, 3]
        first.ack_many([1, 2])  # seq 3 is still unsent
    away = tmp_path / "away"
    state.rename(away)
    _block(state)
    outbox = Outbox.open(state, site="s1", gate="north", lazy=True)
    try:
        assert outbox.open_error is not None and outbox.last_seq() == 0
        with pytest.raises(OutboxWriteError):
            outbox.put("screening", BODY)
        state.unlink()
        away.rename(state)
        assert outbox.put("screening", BODY)[0] == 4  # no gap, no reuse
        assert [r.seq for r in outbox.pending(10)] == [3, 4] and outbox.depth() == 2
    finally:
        outbox.close()


def test_eager_outbox_still_refuses_an_unopenable_state_dir(tmp_path: Path) -> None:
    _block(tmp_path / "blocked")
    with pytest.raises(OutboxWriteError) as caught:
        Outbox(tmp_path / "blocked" / OUTBOX_FILENAME, site="s1", gate="north")
    assert "cannot start" in str(caught.value)


def test_running_message_says_decisions_are_held() -> None:
    message = write_failure_message("/s/outbox.sqlite3", OSError(28, "No space left on device"))
    assert "free space on the filesystem of state.dir /s" in message
    assert "held in memory until it is writable" in message


def test_check_names_what_is_wrong_with_the_state_dir(tmp_path: Path) -> None:
    assert state_dir_problem(tmp_path / "new" / "state") is None  # creatable: fine
    assert state_dir_problem(tmp_path) is None
    _block(tmp_path / "blocked")
    problem = state_dir_problem(tmp_path / "blocked" / "state")
    assert problem is not None and "is not a directory" in problem
    if os.getuid() != 0:  # root may write anywhere
        (tmp_path / "ro").mkdir(mode=0o500)
        problem = state_dir_problem(tmp_path / "ro")
        assert problem is not None and "not writable" in problem
