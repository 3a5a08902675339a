"""A recording played as a camera: the `fake` device, through the same FrameDevice interface
as a real one, so `run`, `record` and `check` can be tried end to end with no camera attached
(an installer's dry run at the desk, the round-trip tests).

The recording plays at its own pace (`speed` x real time) from the moment the first of its
cameras opens; the thermal and the RGB camera of one `Playback` share that epoch, as two real
cameras share the scene. Like a real camera, a reopened fake shows the scene as it is now,
not from the start. At the end a looping playback starts again; otherwise the device raises
StreamEnded and capture ends that camera (a finite source, as replay ends).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from edge.core.types import Frame, RgbFrame, StreamInfo, ThermalFrame
from edge.sources import open_recording
from edge.sources.cameras.base import DeviceError, DeviceFrame, DeviceOpener, FrameDevice
from edge.sources.cameras.capture import StreamEnded


class Playback:
    """One recording shared by its fake cameras (thermal and RGB): one epoch, one pace."""

    def __init__(
        self,
        path: Path,
        *,
        speed: float = 1.0,
        loop: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = Path(path)
        self.meta: StreamInfo = open_recording(self.path).meta  # RecordingError when bad
        self.speed = speed
        self.loop = loop
        self._clock = clock
        self._sleep = sleep
        self._epoch: float | None = None
        self._lock = threading.Lock()

    def opener(self, kind: Literal["rgb", "thermal"]) -> DeviceOpener:
        stream = self.meta.thermal if kind == "thermal" else self.meta.rgb
        if stream is None:
            raise DeviceError(f"{kind}:fake {self.path}: the recording has no {kind} stream")

        def open_device() -> FrameDevice:
            return RecordingCamera(self, kind)

        return open_device

    def elapsed_s(self) -> float:
        """Recording seconds since the first camera opened (the epoch)."""
        with self._lock:
            now = self._clock()
            if self._epoch is None:
                self._epoch = now
            return (now - self._epoch) * self.speed

    def wait_s(self, recording_s: float) -> float:
        """Real seconds until the recording reaches `recording_s`."""
        return (recording_s - self.elapsed_s()) / self.speed

    def sleep(self, s: float) -> None:
        if s > 0:
            self._sleep(s)  # the recording's own pace, as a camera's frame rate


class RecordingCamera:
    """A FrameDevice reading one stream of a Playback's recording."""

    # A frame due this many real seconds ago or longer is skipped: the camera was closed
    # then (a reopen shows the present); later ones are delivered at once, catching up.
    LATE_S = 1.0

    def __init__(self, playback: Playback, kind: Literal["rgb", "thermal"]) -> None:
        self.kind = kind
        self.name = f"{kind}:fake {playback.path}"
        thermal = playback.meta.thermal
        self.encoding: str | None = thermal.encoding if kind == "thermal" and thermal else None
        self._playback = playback
        self._closed = False
        self._offset_s = 0.0  # recording seconds of the passes already played (looping)
        # Both streams count from the recording's start, so they stay in step.
        self._t0_ns: int | None = playback.meta.start_t_ns or None
        self._frames = self._stream()
        self._pending: tuple[float, Frame] | None = None  # read, not yet due
        playback.elapsed_s()  # the first camera to open starts the clock

    def _stream(self) -> Iterator[Frame]:
        want = ThermalFrame if self.kind == "thermal" else RgbFrame
        return (f for f in open_recording(self._playback.path).frames() if isinstance(f, want))

    def _next(self) -> tuple[float, Frame]:
        """The next frame not long overdue, with its recording time in seconds."""
        pb = self._playback
        while True:
            frame = next(self._frames, None)
            if frame is None:
                if not pb.loop or self._t0_ns is None:
                    raise StreamEnded(f"{self.name}: the recording ended")
                self._offset_s = pb.elapsed_s()
                self._frames = self._stream()
                continue
            if self._t0_ns is None:
                self._t0_ns = frame.t_ns
            due_s = self._offset_s + (frame.t_ns - self._t0_ns) / 1e9
            if due_s >= pb.elapsed_s() - self.LATE_S * pb.speed:
                return due_s, frame

    def read(self, timeout_s: float) -> DeviceFrame | None:
        if self._closed:
            raise DeviceError(f"{self.name}: read after close")
        due_s, frame = self._pending or self._next()
        self._pending = None
        wait_s = self._playback.wait_s(due_s)
        if wait_s > timeout_s:
            self._pending = (due_s, frame)  # not due within this read: no frame yet
            self._playback.sleep(timeout_s)
            return None
        self._playback.sleep(wait_s)
        if isinstance(frame, ThermalFrame):
            return DeviceFrame(frame.counts)
        return DeviceFrame(frame.bgr)

    def close(self) -> None:
        self._closed = True
