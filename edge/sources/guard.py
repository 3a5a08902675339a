"""Live-mode protection between a source and the pipeline.

A live gate must never crash or measure garbage because a camera hiccuped: corrupt frames
(wrong size or type, a dead all-equal frame, saturated), timestamps going backwards, a
source that raises mid-stream or stops delivering. Bad frames are dropped and counted by
reason; a failing or silent source is reopened with bounded backoff. Replay of a recording
(`gate-edge replay`) does not use this: there, bad input is an error the user must see.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from edge.core.types import Frame, RgbFrame, ThermalFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FrameCheck:
    height: int
    width: int
    max_saturated_frac: float = 0.5


class FrameGuard:
    """Decides whether a thermal frame may reach the pipeline; counts what it drops."""

    def __init__(self, check: FrameCheck) -> None:
        self._check = check
        self.last_t_ns: int | None = None  # of the last thermal frame admitted
        self._last_rgb_t_ns: int | None = None
        self.dropped: Counter[str] = Counter()

    def admit(self, frame: object) -> Frame | None:
        if isinstance(frame, RgbFrame):
            reason = self._rgb_reason(frame)
            if reason is None:
                self._last_rgb_t_ns = frame.t_ns
                return frame
            self._drop(frame, f"rgb_{reason}")
            return None
        reason = self._reason(frame)
        if reason is None:
            assert isinstance(frame, ThermalFrame)
            self.last_t_ns = frame.t_ns
            return frame
        self._drop(frame, reason)
        return None

    def _rgb_reason(self, frame: RgbFrame) -> str | None:
        bgr = frame.bgr
        if not isinstance(bgr, np.ndarray) or bgr.dtype != np.uint8:
            return "wrong_dtype"
        if bgr.ndim != 3 or bgr.shape[2] != 3 or min(bgr.shape[:2]) < 16:
            return "wrong_size"
        if not isinstance(frame.t_ns, int) or frame.t_ns <= 0:
            return "bad_timestamp"
        if self._last_rgb_t_ns is not None and frame.t_ns <= self._last_rgb_t_ns:
            return "timestamp_backwards"
        if int(bgr.min()) == int(bgr.max()):
            return "dead_frame"
        return None

    def _drop(self, frame: object, reason: str) -> None:
        self.dropped[reason] += 1
        # Every drop is logged with its reason; a camera spewing garbage at 30 fps must not
        # flood the journal, so only the first and every 1000th reach WARNING.
        n = self.dropped[reason]
        level = logging.WARNING if n == 1 or n % 1000 == 0 else logging.DEBUG
        index = getattr(frame, "index", "?")
        log.log(level, "dropped frame %s: %s (%d so far)", index, reason, n)

    def _reason(self, frame: object) -> str | None:
        if not isinstance(frame, ThermalFrame):
            return "not_a_frame"
        counts = frame.counts
        if not isinstance(counts, np.ndarray) or counts.dtype != np.uint16:
            return "wrong_dtype"
        if counts.shape != (self._check.height, self._check.width):
            return "wrong_size"
        if not isinstance(frame.t_ns, int) or frame.t_ns <= 0:
            return "bad_timestamp"
        if self.last_t_ns is not None and frame.t_ns <= self.last_t_ns:
            return "timestamp_backwards"
        lo, hi = int(counts.min()), int(counts.max())
        if lo == hi:
            return "dead_frame"  # all pixels equal: a sensor glitch, nothing to measure
        saturated = np.count_nonzero((counts == 0) | (counts == 65535))
        if saturated > self._check.max_saturated_frac * counts.size:
            return "saturated"
        return None


@dataclass(slots=True)
class CaptureStats:
    reopens: int = 0
    source_errors: int = 0
    stalls: int = 0
    queue_drops: int = 0
    frames: int = 0


class Capture:
    """Reads a source on its own thread and hands over only the latest frames.

    `open_frames` returns a fresh iterator each time the source is (re)opened. The queue is
    bounded: when the pipeline falls behind, the oldest frame is dropped and counted, so
    latency stays bounded and memory cannot grow. When the source raises, it is reopened
    after a backoff that doubles up to `max_backoff_s`.
    """

    def __init__(
        self,
        open_frames: Callable[[], Iterator[Frame]],
        *,
        depth: int = 2,
        max_backoff_s: float = 10.0,
        loop: bool = False,
    ) -> None:
        self._open = open_frames
        self._queue: queue.Queue[Frame | None] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._reopen = threading.Event()
        self._max_backoff_s = max_backoff_s
        self._loop = loop
        self.stats = CaptureStats()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    def start(self) -> Capture:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def request_reopen(self) -> None:
        """The consumer saw no frame for too long: drop the current stream, open anew."""
        self.stats.stalls += 1
        self._reopen.set()

    def get(self, timeout_s: float) -> Frame | None:
        """The next frame, None on timeout. Raises EOFError when a non-looping source ended."""
        try:
            item = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if item is None:
            raise EOFError("source ended")
        return item

    def _put(self, item: Frame | None) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.stats.queue_drops += 1
                except queue.Empty:
                    pass

    def _run(self) -> None:
        backoff_s = 0.5
        while not self._stop.is_set():
            try:
                for frame in self._open():
                    if self._stop.is_set() or self._reopen.is_set():
                        break
                    self.stats.frames += 1
                    self._put(frame)
                    backoff_s = 0.5
                else:
                    # A stream that ended while a reopen was pending was a stall, not the end.
                    if not self._loop and not self._reopen.is_set():
                        self._put(None)
                        return
            except Exception as exc:  # a camera or file fault must not end capture
                self.stats.source_errors += 1
                log.error("source failed: %s; reopening in %.1f s", exc, backoff_s)
                if self._stop.wait(backoff_s):
                    return
                backoff_s = min(backoff_s * 2, self._max_backoff_s)
            if self._reopen.is_set():
                self._reopen.clear()
            self.stats.reopens += 1
