"""The durable outbox (edge.transport.outbox): seq numbering, its size limit, the checkpoint
committed with the events, and write failures (a real SQLITE_FULL via max_page_count)."""

from __future__ import annotations

import errno
import json
import logging
from pathlib import Path

import pytest

from edge.errors import EdgeError
from edge.transport.events import decision_body
from edge.transport.outbox import (
    OUTBOX_FILENAME,
    Outbox,
    OutboxWriteError,
    write_failure_message,
)
from tests.mqtt_helpers import decision

# -- outbox ---------------------------------------------------------------------------


def test_outbox_seq_survives_reopening_the_file(tmp_path: Path) -> None:
    body = decision_body(decision(1), site="s1", gate="north", wall_ns=0)
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        assert [outbox.put("screening", body)[0] for _ in range(3)] == [1, 2, 3]
        outbox.ack_many([1, 2, 3])
        assert outbox.depth() == 0
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        seq, event_id = outbox.put("screening", body)
        assert seq == 4  # the counter outlives the deleted rows
        row = outbox.pending(10)[0]
        assert (row.seq, row.id) == (4, event_id)
        assert json.loads(row.payload)["seq"] == 4
    with Outbox.open(tmp_path, site="s1", gate="south") as other:
        assert other.put("screening", body)[0] == 1  # seq is per gate
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        assert outbox.depth() == 1 and outbox.last_seq() == 4


def test_outbox_over_limit_keeps_accepting_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox = Outbox(":memory:", site="s1", gate="north", max_rows=3)
    body = decision_body(decision(1), site="s1", gate="north", wall_ns=0)
    with caplog.at_level(logging.WARNING, logger="edge.transport.outbox"):
        seqs = [outbox.put("screening", body)[0] for _ in range(6)]
    assert seqs == [1, 2, 3, 4, 5, 6] and outbox.depth() == 6
    assert outbox.full_count == 3
    assert len([r for r in caplog.records if "limit 3" in r.getMessage()]) == 1
    assert [r.seq for r in outbox.pending(10, after_seq=4)] == [5, 6]


# -- checkpoint in the same transaction, and write failures ---------------------------


def _fill_up(outbox: Outbox) -> None:
    """A real SQLITE_FULL ("database or disk is full"): cap the file at its current size."""
    (pages,) = outbox._conn.execute("PRAGMA page_count").fetchone()
    outbox._conn.execute(f"PRAGMA max_page_count = {pages}")


def _free(outbox: Outbox) -> None:
    outbox._conn.execute("PRAGMA max_page_count = 1073741823")


def test_events_and_checkpoint_commit_together(tmp_path: Path) -> None:
    body = decision_body(decision(1), site="s1", gate="north", wall_ns=0)
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        assert outbox.load_checkpoint() is None
        got = outbox.put_many([("screening", body), ("fever", body)], checkpoint="c1")
        assert [s for s, _ in got] == [1, 2]
        outbox.put_many([], checkpoint="c2")
        assert outbox.depth() == 2
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        assert outbox.load_checkpoint() == "c2"
    with Outbox.open(tmp_path, site="s1", gate="south") as other:
        assert other.load_checkpoint() is None  # one checkpoint per gate


def test_full_disk_stores_nothing_and_says_what_to_do(tmp_path: Path) -> None:
    body = decision_body(decision(1), site="s1", gate="north", wall_ns=0)
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        outbox.put("screening", body, checkpoint="before")
        _fill_up(outbox)
        big = {**body, "pad": "x" * 20_000}  # needs new pages
        with pytest.raises(OutboxWriteError) as caught:
            outbox.put_many([("screening", big)] * 3, checkpoint="after")
        message = str(caught.value)
        assert "database or disk is full" in message and "free space" in message
        assert str(tmp_path) in message and "aside" not in message
        assert outbox.depth() == 1 and outbox.last_seq() == 1  # nothing half-written
        assert outbox.load_checkpoint() == "before"
        _free(outbox)
        assert [s for s, _ in outbox.put_many([("screening", big)] * 3, checkpoint="after")] == [
            2, 3, 4]
        assert outbox.load_checkpoint() == "after"


def test_unwritable_outbox_at_start_is_a_clear_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    with pytest.raises(EdgeError) as caught:
        Outbox(blocked / OUTBOX_FILENAME, site="s1", gate="north")
    assert "aside" not in str(caught.value) and "state.dir" in str(caught.value)


def test_read_only_message_says_make_it_writable() -> None:
    message = write_failure_message(
        "/var/lib/gate-edge/outbox.sqlite3", OSError(errno.EROFS, "Read-only file system")
    )
    assert "make state.dir /var/lib/gate-edge writable" in message and "aside" not in message
    sqlite_says = write_failure_message(
        "/s/outbox.sqlite3", OSError("attempt to write a readonly database")
    )
    assert "writable" in sqlite_says


def test_publisher_keeps_acks_the_outbox_could_not_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from edge.transport.mqtt import BrokerOptions, Publisher

    body = decision_body(decision(1), site="s1", gate="north", wall_ns=0)
    with Outbox.open(tmp_path, site="s1", gate="north") as outbox:
        for _ in range(3):
            outbox.put("screening", body)
        publisher = Publisher(BrokerOptions(url="mqtt://127.0.0.1:1"), site="s1", gate="north",
                              outbox=outbox)
        real = outbox.ack_many
        full = OutboxWriteError(write_failure_message(outbox.path, OSError("disk is full")))

        def failing(seqs: object) -> int:
            raise full

        monkeypatch.setattr(outbox, "ack_many", failing)
        with caplog.at_level(logging.INFO):
            publisher._ack([1, 2])
            publisher._ack([3])  # still failing: logged once
            assert publisher._unacked == [3, 1, 2] and outbox.depth() == 3
            monkeypatch.setattr(outbox, "ack_many", real)
            retry, publisher._unacked = publisher._unacked, []  # as the drain thread does
            publisher._ack(retry)
        assert outbox.depth() == 0 and publisher.counters["acked"] == 3 and not publisher._unacked
        assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
        assert "writable again" in caplog.text
