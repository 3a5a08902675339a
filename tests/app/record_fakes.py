"""Endless fake cameras for `gate-edge record` tests: frames at a steady rate, each different
(a live sensor's noise; capture would call a repeated frame frozen), until closed."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from edge.sources.cameras.base import DeviceError, DeviceFrame

THERMAL_SHAPE = (120, 160)
RGB_SHAPE = (96, 128)
VARIANTS = 8  # distinct noise patterns, cycled; a frame counter makes every frame unique


@dataclass
class EndlessCamera:
    """A FrameDevice delivering a frame every `period_s` (its own frame rate: the wait is the
    device's, not a test's synchronisation)."""

    kind: Literal["rgb", "thermal"]
    period_s: float = 0.01
    name: str = ""
    encoding: str | None = None
    reads: int = 0
    closed: threading.Event = field(default_factory=threading.Event)
    _frames: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(1 if self.kind == "thermal" else 2)
        self.name = self.name or f"{self.kind}:endless"
        if self.kind == "thermal":
            self.encoding = "centikelvin"
            self._frames = [rng.integers(29000, 31000, THERMAL_SHAPE, dtype=np.uint16)
                            for _ in range(VARIANTS)]
        else:
            self._frames = [rng.integers(0, 255, (*RGB_SHAPE, 3), dtype=np.uint8)
                            for _ in range(VARIANTS)]

    def read(self, timeout_s: float) -> DeviceFrame | None:
        if self.closed.wait(min(self.period_s, timeout_s)):
            raise DeviceError(f"{self.name}: closed")
        frame = self._frames[self.reads % VARIANTS].copy()
        flat = frame.reshape(-1)
        flat[:2] ^= np.array([self.reads & 0xFF, self.reads >> 8 & 0xFF], flat.dtype)
        self.reads += 1
        return DeviceFrame(frame)

    def close(self) -> None:
        self.closed.set()


@dataclass
class EndlessOpener:
    kind: Literal["rgb", "thermal"]
    period_s: float = 0.01
    devices: list[EndlessCamera] = field(default_factory=list)

    def __call__(self) -> EndlessCamera:
        device = EndlessCamera(self.kind, self.period_s)
        self.devices.append(device)
        return device


def openers(rgb: bool = True, period_s: float = 0.01) -> dict[str, EndlessOpener]:
    out = {"thermal": EndlessOpener("thermal", period_s)}
    if rgb:
        out["rgb"] = EndlessOpener("rgb", period_s)
    return out
