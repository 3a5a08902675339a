"""The durable outbox (edge.transport.outbox): seq numbering and its size limit."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from edge.transport.events import decision_body
from edge.transport.outbox import Outbox
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
