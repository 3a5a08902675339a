"""replay's message when the broker does not acknowledge in time tells the truth: with a
state dir the events wait in the outbox file, without one they are gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.app.wiring import flush_or_fail
from edge.config import validate
from edge.errors import BrokerError


class NeverAcked:
    def flush(self, timeout_s: float) -> bool:
        return False


def test_unacknowledged_events_message_says_where_they_are(tmp_path: Path) -> None:
    with_dir = validate({"state": {"dir": str(tmp_path)}, "mqtt": {"flush_timeout_s": 1}}, "t")
    with pytest.raises(BrokerError, match=r"stay in .*outbox\.sqlite3 for the next run"):
        flush_or_fail(NeverAcked(), with_dir)  # type: ignore[arg-type]
    in_memory = validate({"mqtt": {"flush_timeout_s": 1}}, "t")
    with pytest.raises(BrokerError, match=r"are lost \(no state\.dir"):
        flush_or_fail(NeverAcked(), in_memory)  # type: ignore[arg-type]
