"""A source that fails the same way again and again (a truncated file that yields some
frames, then raises) is reopened with an exponential, bounded backoff, logged once per step,
instead of every 1.5 s forever (issue 9 item 6). The waits are read from the log lines and
the stats; the backoffs themselves are kept tiny."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from edge.core.types import Frame
from edge.sources.guard import Capture
from tests.sources.test_source_faults import _good

LOGGER = "edge.sources.guard"


def _waits(caplog: pytest.LogCaptureFixture) -> list[tuple[int, float]]:
    """(failures in a row, seconds before the reopen) of each 'source failed' line."""
    out = []
    for record in caplog.records:
        m = re.fullmatch(r"source failed(?: the same way (\d+) times in a row)?: .*; reopening "
                         r"in ([\d.]+) s", record.getMessage())
        if m:
            out.append((int(m.group(1) or 1), float(m.group(2))))
    return out


def _drain_until(capture: Capture, errors: int) -> None:
    deadline = time.monotonic() + 10.0
    while capture.stats.source_errors < errors:
        capture.get(0.05)
        assert time.monotonic() < deadline, capture.stats


def test_same_failure_after_frames_backs_off_exponentially_to_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def truncated() -> Iterator[Frame]:  # every opening: 2 good frames, then the same error
        rng = np.random.default_rng(0)
        yield _good(1, rng)
        yield _good(2, rng)
        raise ValueError("clip.cptv: truncated frame 3")

    caplog.set_level(logging.ERROR, LOGGER)
    capture = Capture(truncated, min_backoff_s=0.01, max_backoff_s=0.08, loop=True).start()
    try:
        _drain_until(capture, 7)
    finally:
        capture.stop()
    waits = _waits(caplog)[:7]
    assert waits == [(1, 0.01), (2, 0.02), (3, 0.04), (4, 0.08), (5, 0.08), (6, 0.08),
                     (7, 0.08)]
    # one line per failure, i.e. per backoff step, nothing else logged at ERROR
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == len(_waits(caplog))
    assert capture.stats.frames >= 14 and capture.stats.same_failures >= 7


def test_a_different_failure_or_a_clean_end_starts_again_from_the_minimum(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plan = ["a", "a", "a", "b", "b", "end", "b"]
    opened: list[str] = []

    def source() -> Iterator[Frame]:
        what = plan[len(opened)] if len(opened) < len(plan) else "stop"
        opened.append(what)
        yield _good(len(opened), np.random.default_rng(len(opened)))
        if what in ("a", "b"):
            raise OSError(f"camera fault {what}")
        if what == "stop":
            threading.Event().wait(10.0)

    caplog.set_level(logging.ERROR, LOGGER)
    capture = Capture(source, min_backoff_s=0.01, max_backoff_s=1.0, loop=True).start()
    try:
        _drain_until(capture, 6)
    finally:
        capture.stop()
    assert [n for n, _ in _waits(caplog)] == [1, 2, 3, 1, 2, 1]
    assert [w for _, w in _waits(caplog)] == [0.01, 0.02, 0.04, 0.01, 0.02, 0.01]


def test_a_long_healthy_run_before_the_same_failure_is_a_new_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def source() -> Iterator[Frame]:
        yield _good(1, np.random.default_rng(0))
        raise OSError("camera unplugged")

    caplog.set_level(logging.ERROR, LOGGER)
    capture = Capture(source, min_backoff_s=0.01, healthy_s=0.0, loop=True).start()
    try:
        _drain_until(capture, 4)
    finally:
        capture.stop()
    assert [n for n, _ in _waits(caplog)][:4] == [1, 1, 1, 1]


def test_read_blocked_s_grows_only_inside_a_read() -> None:
    release, reading = threading.Event(), threading.Event()

    def hangs_in_second_read() -> Iterator[Frame]:
        yield _good(1, np.random.default_rng(0))
        reading.set()
        release.wait(10.0)  # a driver stuck inside a read
        yield _good(2, np.random.default_rng(1))

    capture = Capture(hangs_in_second_read).start()
    try:
        assert capture.get(5.0) is not None
        assert reading.wait(5.0)
        blocked = threading.Event()
        assert not blocked.wait(0.3)  # let the read stay blocked for a while
        assert capture.read_blocked_s() >= 0.3
        release.set()
        assert capture.get(5.0) is not None
        with pytest.raises(EOFError):
            capture.get(5.0)
        assert capture.read_blocked_s() == 0.0  # ended: not reading
    finally:
        release.set()
        capture.stop()
