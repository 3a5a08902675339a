"""Both cameras as one frame supply for the run loop (edge.app.runner.FrameSupply).

The thermal camera is required, the RGB camera optional (a thermal-only kiosk). Each camera
has its own capture thread and one-slot handoff; they share one condition, under which frames
are stamped and handed over, so taking the oldest waiting frame hands frames out in time
order across both streams. The stream description (sizes, encoding) is known before the
first frame: from the config and the device, given to the supply as a StreamInfo.
"""

from __future__ import annotations

import threading

from edge.core.types import Frame, RgbFrame, StreamInfo, ThermalFrame
from edge.sources.cameras.capture import CameraStats, CameraThread, CapturedFrame


class CameraSupply:
    """`get(timeout_s)` -> the oldest waiting ThermalFrame / RgbFrame, None on timeout;
    EOFError once the thermal camera ended (a finite fake device) and its frames are out.

    The threads must have been built with `cond` (shared_condition()) as their condition."""

    def __init__(self, info: StreamInfo, thermal: CameraThread,
                 rgb: CameraThread | None = None) -> None:
        if rgb is not None and rgb.cond is not thermal.cond:
            raise ValueError("the thermal and RGB capture threads must share one condition")
        self.info = info
        self.thermal = thermal
        self.rgb = rgb
        self.cond = thermal.cond
        self.last_captured_ns: int | None = None  # of the frame `get` returned last

    @property
    def cameras(self) -> dict[str, CameraThread]:
        """Role ("thermal", "rgb") -> its capture thread."""
        return {"thermal": self.thermal, **({"rgb": self.rgb} if self.rgb is not None else {})}

    def start(self) -> CameraSupply:
        for cam in self.cameras.values():
            cam.start()
        return self

    def stop(self) -> None:
        for cam in self.cameras.values():
            cam.stop()

    def stats(self) -> dict[str, CameraStats]:
        return {role: cam.stats for role, cam in self.cameras.items()}

    def read_blocked_s(self) -> float:
        """The longest any camera has been inside one device call (the watchdog's hang)."""
        return max(cam.read_blocked_s() for cam in self.cameras.values())

    def request_reopen(self) -> None:
        """No frame reached the loop for too long: reopen every camera (each camera notices
        its own stall too; this covers a stream that delivers only frames that are dropped)."""
        for cam in self.cameras.values():
            cam.request_reopen()

    def get(self, timeout_s: float) -> Frame | None:
        with self.cond:
            self.cond.wait_for(lambda: self._ready() or self._ended(), timeout_s)
            ready = self._ready()
            if not ready:
                if self._ended():
                    raise EOFError("the thermal camera ended")
                return None
            role, cam = min(ready, key=lambda item: _t_ns(item[1]))
            frame = cam.take()
        assert frame is not None  # taken under the condition it was seen under
        self.last_captured_ns = frame.t_ns  # stamped on the monotonic clock at the read
        return _as_frame(role, frame)

    def _ready(self) -> list[tuple[str, CameraThread]]:
        return [(r, c) for r, c in self.cameras.items() if c.peek() is not None]

    def _ended(self) -> bool:
        return self.thermal.stats.state == "ended" and self.thermal.peek() is None


def shared_condition() -> threading.Condition:
    """The condition a supply's capture threads share (pass it as CameraThread(cond=...))."""
    return threading.Condition()


def _t_ns(cam: CameraThread) -> int:
    frame = cam.peek()
    return frame.t_ns if frame is not None else 2**63


def _as_frame(role: str, frame: CapturedFrame) -> Frame:
    if role == "thermal":
        return ThermalFrame(frame.seq, frame.t_ns, frame.data)
    return RgbFrame(frame.seq, frame.t_ns, frame.data)
