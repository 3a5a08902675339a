"""Capture hands over the latest frame (depth 1 by default) and stamps each with its
capture time; the end of a finite source never pushes a frame out."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from edge.core.types import Frame, ThermalFrame
from edge.sources.guard import Capture


def _frames(n: int) -> list[Frame]:
    counts = np.arange(12, dtype=np.uint16).reshape(3, 4)
    return [ThermalFrame(i, 1_000_000_000 + i * 40_000_000, counts) for i in range(n)]


def test_latest_frame_wins_and_the_end_of_the_source_pushes_none_out() -> None:
    ended = threading.Event()

    def source() -> Iterator[Frame]:
        yield from _frames(5)
        ended.set()  # runs once the last frame was handed to the queue

    capture = Capture(source).start()  # default depth 1
    try:
        assert ended.wait(5.0)
        frame = capture.get(5.0)
        assert frame is not None and frame.index == 4, "the latest frame, not the oldest"
        assert capture.last_captured_ns is not None
        assert capture.last_captured_ns <= time.monotonic_ns()
        with pytest.raises(EOFError):
            capture.get(5.0)
    finally:
        capture.stop()
    assert capture.bound == 1 and capture.stats.queue_drops == 4
    assert capture.stats.depth_max == 1
