"""A recording fed to the live path: paced to its own clock, optionally looping, resumable.

`gate-edge run` with `source.kind = "replay"` uses this through edge.sources.guard.Capture,
so a recording exercises everything a camera would: pacing, capture thread, frame guard,
restarts. Timestamps keep increasing across loops, and after a crash the feed resumes
after the last frame the pipeline finished (the checkpoint), not from the start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

from edge.core.types import Frame, RgbFrame, ThermalFrame
from edge.sources import open_recording

log = logging.getLogger(__name__)


class Pacer:
    """Holds frames to the recording's clock at `speed` x real time (None = flat out)."""

    def __init__(self, speed: float | None) -> None:
        self._speed = speed
        self._t0_ns: int | None = None
        self._wall0 = 0.0

    def wait(self, t_ns: int) -> None:
        if self._speed is None:
            return
        if self._t0_ns is None:
            self._t0_ns, self._wall0 = t_ns, time.monotonic()
            return
        due = self._wall0 + (t_ns - self._t0_ns) / 1e9 / self._speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing to the footage clock, not synchronisation


class ReplayFeed:
    """Callable that opens the recording and yields its thermal frames (one pass or forever)."""

    def __init__(
        self,
        path: Path,
        *,
        speed: float | None,
        loop: bool,
        resume_after_ns: int | None = None,
        rgb: bool = False,
    ) -> None:
        self._rgb = rgb
        self._path = path
        self._speed = speed
        self._loop = loop
        self._resume_after_ns = resume_after_ns
        self._offset_ns = 0  # added to every t_ns so that time keeps going across loops

    def __call__(self) -> Iterator[Frame]:
        pacer = Pacer(self._speed)
        while True:
            first_ns = last_ns = None
            count = 0
            for frame in open_recording(self._path).frames():
                if isinstance(frame, RgbFrame) and not self._rgb:
                    continue
                first_ns = frame.t_ns if first_ns is None else first_ns
                last_ns, count = frame.t_ns, count + 1
                t_ns = frame.t_ns + self._offset_ns
                if self._resume_after_ns is not None and t_ns <= self._resume_after_ns:
                    continue  # processed before the restart
                pacer.wait(t_ns)
                if isinstance(frame, ThermalFrame):
                    yield ThermalFrame(frame.index, t_ns, frame.counts)
                else:
                    yield RgbFrame(frame.index, t_ns, frame.bgr)
            if first_ns is None or last_ns is None or not self._loop:
                return
            # One frame period past the end, so the next pass never repeats a timestamp.
            period_ns = max(1, (last_ns - first_ns) // max(1, count - 1))
            self._offset_ns += last_ns - first_ns + period_ns
