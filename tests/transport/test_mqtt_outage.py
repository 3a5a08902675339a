"""Broker outages in the log (issue 9 item 4): failed attempts (rate-limited), refusals at
ERROR naming the credentials file, and each outage's start and end with its duration.

Real Mosquitto for the link tests; a fake clock for the rate-limit arithmetic.
"""

from __future__ import annotations

import logging
import queue
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.transport.mqtt import BrokerOptions
from edge.transport.mqtt.outage import OutageLog
from edge.transport.outbox import Outbox
from tests.mqtt_helpers import WAIT_S, MakeBroker, decision, publisher

LOGGER = "edge.transport.mqtt.outage"


class _Lines(logging.Handler):
    """The outage logger's records, in a queue the test waits on (no sleeps, no polling)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: queue.Queue[logging.LogRecord] = queue.Queue()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.put(record)

    def next(self, timeout_s: float = WAIT_S) -> logging.LogRecord:
        try:
            return self.records.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"no outage log line within {timeout_s} s") from None


@pytest.fixture
def lines() -> Iterator[_Lines]:
    handler = _Lines()
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the arithmetic, with a fake clock ------------------------------------------------


def test_rate_limit_first_at_once_then_one_line_per_interval_with_counts(
    lines: _Lines,
) -> None:
    now = [100.0]
    outage = OutageLog("mqtt://b:1883", None, every_s=60.0, clock=lambda: now[0],
                       wall=lambda: 1_790_000_000.0)
    for t in range(0, 125, 5):  # an attempt every 5 s for 2 minutes: 25 attempts
        now[0] = 100.0 + t
        outage.failed("[Errno 111] Connection refused")
    got = [lines.next(0).getMessage() for _ in range(3)]
    assert lines.records.empty()  # 25 attempts, 3 lines: at 0 s, 60 s, 120 s
    assert got[0] == ("cannot connect to MQTT broker mqtt://b:1883: [Errno 111] Connection "
                      "refused; broker unreachable since 2026-09-21T14:13:20Z, events wait "
                      "in the outbox; retrying")
    assert got[1].endswith("(12 failed attempts since the last message, down 60 s)")
    assert got[2].endswith("(12 failed attempts since the last message, down 120 s)")
    now[0] += 1
    outage.refused("Not authorized")  # a different failure is logged at once, at ERROR
    refused = lines.next(0)
    assert refused.levelno == logging.ERROR and "no credentials file" in refused.getMessage()
    now[0] += 40
    outage.back(queued=7)
    assert lines.next(0).getMessage() == (
        "MQTT broker mqtt://b:1883 back after 161 s (26 failed attempts), 7 events queued")
    outage.back(queued=7)  # no outage, no line
    assert lines.records.empty() and not outage.down and outage.outages == 1


# -- real links -----------------------------------------------------------------------


def test_unreachable_broker_is_logged_at_once_then_rate_limited(
    gate: str, lines: _Lines
) -> None:
    url = f"mqtt://127.0.0.1:{_closed_port()}"
    options = BrokerOptions(url=url, connect_timeout_s=2, reconnect_min_s=1, reconnect_max_s=1)
    pub = publisher(url, gate, options=options)
    pub.outage.every_s = 2.0
    started = time.time()
    pub.start(wait_for_broker=False)
    try:
        first = lines.next()
        assert first.created - started < 1.0  # not 40 s of silence
        assert first.levelno == logging.WARNING
        assert re.search(r"cannot connect to MQTT broker .*Connection refused; broker "
                         r"unreachable since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first.getMessage())
        later = [lines.next(), lines.next()]
        counts = [int(m.group(1)) for r in later
                  if (m := re.search(r"\((\d+) failed attempts? since", r.getMessage()))]
        assert len(counts) == 2 and sum(counts) >= 3  # one attempt a second, a line per 2 s
        gaps = [b.created - a.created for a, b in zip([first, *later], later, strict=False)]
        assert all(gap >= 1.9 for gap in gaps)
        assert pub.outage.attempts >= 1 + sum(counts)
    finally:
        pub.close(timeout_s=1)


@pytest.mark.broker
def test_outage_start_and_end_with_duration_and_backlog(
    make_broker: MakeBroker, gate: str, tmp_path: Path, lines: _Lines
) -> None:
    own = make_broker()
    outbox = Outbox.open(tmp_path, site="s1", gate=gate)
    options = BrokerOptions(url=own.url, connect_timeout_s=5, reconnect_min_s=1, reconnect_max_s=1)
    with publisher(own.url, gate, outbox=outbox, options=options) as pub:
        own.stop()
        lost = lines.next()
        assert lost.levelno == logging.WARNING
        assert "broker unreachable since" in lost.getMessage()
        stopped = time.monotonic()
        for i in range(3):
            pub.submit(decision(i))
        assert "cannot connect" in lines.next().getMessage()  # the first failed attempt
        own.start()
        while "back after" not in (back := lines.next()).getMessage():
            pass
        down_s = time.monotonic() - stopped
        match = re.fullmatch(r"MQTT broker \S+ back after (\d+) s \((\d+) failed attempts\), "
                             r"(\d+) events queued", back.getMessage())
        assert match, back.getMessage()
        assert back.levelno == logging.WARNING  # seen by `run` without -v
        assert abs(int(match.group(1)) - down_s) <= 1.5
        assert int(match.group(2)) >= 1 and int(match.group(3)) == 3
        assert pub.flush(WAIT_S)


@pytest.mark.broker
@pytest.mark.fault
def test_refused_credentials_in_the_background_give_one_error_naming_the_file(
    make_broker: MakeBroker, gate: str, tmp_path: Path, lines: _Lines,
    caplog: pytest.LogCaptureFixture,
) -> None:
    own = make_broker(users={"gate-north": "right-pw"})
    bad = tmp_path / "bad"
    bad.write_text("gate-north:wrong-pw\n")
    bad.chmod(0o600)
    caplog.set_level(logging.DEBUG)
    options = BrokerOptions(url=own.url, credentials_file=bad, connect_timeout_s=5,
                            reconnect_min_s=1, reconnect_max_s=1)
    pub = publisher(own.url, gate, options=options).start(wait_for_broker=False)
    try:
        first = lines.next()
        assert first.levelno == logging.ERROR
        assert "refused the connection: Not authorized" in first.getMessage()
        assert f"check the credentials file {bad}" in first.getMessage()
        deadline = time.monotonic() + WAIT_S
        while pub.outage.attempts < 3:  # more refusals, one a second: not logged again yet
            assert time.monotonic() < deadline, "the broker was not retried"
            with pytest.raises(AssertionError):
                lines.next(0.5)
    finally:
        pub.close(timeout_s=1)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0] is first
    assert "wrong-pw" not in caplog.text and not pub.connected
