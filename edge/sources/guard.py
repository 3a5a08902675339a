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
import time
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
    depth_max: int = 0  # the most frames ever waiting in the queue (never above its bound)
    same_failures: int = 0  # the current run of identical source failures (0: none)


class Capture:
    """Reads a source on its own thread and hands over only the latest frames.

    `open_frames` returns a fresh iterator each time the source is (re)opened. The queue is
    bounded (`depth`, default 1: the latest frame wins, as a camera's one-slot handoff): when
    the pipeline falls behind, the oldest frame is dropped and counted, so latency stays
    bounded and memory cannot grow; the end of a finite source never pushes a frame out.
    When the source raises, it is reopened after a backoff: `min_backoff_s` for a new failure,
    doubling (up to `max_backoff_s`) each time the same failure (type and message) comes back,
    even when frames came in between (a truncated file fails the same way after every reopen).
    A different failure, a stream that ran for `healthy_s` before failing, or one that ended
    cleanly starts again from `min_backoff_s`.
    Each failure is logged once, with its count in the run and the wait before the reopen.
    `read_blocked_s` says how long the thread has been inside one read of the source (for
    the watchdog: a read that never returns is a hang, not an idle source).
    """

    def __init__(
        self,
        open_frames: Callable[[], Iterator[Frame]],
        *,
        depth: int = 1,
        min_backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        healthy_s: float = 60.0,
        loop: bool = False,
    ) -> None:
        self._open = open_frames
        # Each frame with the monotonic ns it was read at (its capture time: after a replay's
        # pacer released it), so the consumer knows how old a frame is when it processes it.
        self._queue: queue.Queue[tuple[Frame, int] | None] = queue.Queue(maxsize=depth)
        self.bound = depth
        self.last_captured_ns: int | None = None  # of the frame `get` returned last
        self._stop = threading.Event()
        self._reopen = threading.Event()
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        self._healthy_s = healthy_s
        self._loop = loop
        self._read_since: float | None = None  # monotonic start of the read in progress
        self._last_failure = ""
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
        frame, self.last_captured_ns = item
        return frame

    def depth(self) -> int:
        """Frames waiting for the consumer now (never more than `bound`)."""
        return self._queue.qsize()

    def _put(self, item: tuple[Frame, int] | None) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put_nowait(item)
                self.stats.depth_max = max(self.stats.depth_max, self._queue.qsize())
                return
            except queue.Full:
                if item is None:  # the end waits for room: it must not push out a last frame
                    try:
                        self._queue.put(None, timeout=0.1)
                        return
                    except queue.Full:
                        continue
                try:
                    self._queue.get_nowait()
                    self.stats.queue_drops += 1
                except queue.Empty:
                    pass

    def read_blocked_s(self) -> float:
        """Seconds the capture thread has been inside one read of the source; 0 when it is
        not reading (handing a frame over, waiting out a backoff, stopped)."""
        since = self._read_since
        return 0.0 if since is None else max(0.0, time.monotonic() - since)

    def _reads(self) -> Iterator[Frame]:
        """The source's frames, noting when each read (opening included) started."""
        self._read_since = time.monotonic()
        try:
            for frame in self._open():
                self._read_since = None
                yield frame
                self._read_since = time.monotonic()
        finally:
            self._read_since = None

    def _pump(self) -> bool:
        """One opening of the source, until it ends, fails or a stop/reopen is asked for.
        True when a non-looping source ended."""
        for frame in self._reads():
            if self._stop.is_set() or self._reopen.is_set():
                return False
            self.stats.frames += 1
            self._put((frame, time.monotonic_ns()))
        # A stream that ended while a reopen was pending was a stall, not the end.
        return not self._loop and not self._reopen.is_set()

    def _backoff_after(self, exc: Exception, ran_s: float) -> float:
        """Count the failure, log it once, and return the wait before the next reopen."""
        self.stats.source_errors += 1
        what = f"{type(exc).__name__}: {exc}"
        same = what == self._last_failure and ran_s < self._healthy_s
        self._last_failure = what
        n = self.stats.same_failures = self.stats.same_failures + 1 if same else 1
        backoff_s = min(self._min_backoff_s * 2.0 ** min(n - 1, 30), self._max_backoff_s)
        if n == 1:
            log.error("source failed: %s; reopening in %g s", what, backoff_s)
        else:
            log.error("source failed the same way %d times in a row: %s; reopening in %g s",
                      n, what, backoff_s)
        return backoff_s

    def _run(self) -> None:
        while not self._stop.is_set():
            opened = time.monotonic()
            try:
                if self._pump():
                    self._put(None)
                    return
                self._last_failure, self.stats.same_failures = "", 0
            except Exception as exc:  # a camera or file fault must not end capture
                if self._stop.wait(self._backoff_after(exc, time.monotonic() - opened)):
                    return
            if self._reopen.is_set():
                self._reopen.clear()
            self.stats.reopens += 1
