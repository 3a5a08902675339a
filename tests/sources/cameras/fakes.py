"""Fake camera devices for capture tests: they deliver, stall, freeze, fail and come back as a
script says, on a fake clock, with events to say how far they got (no sleeps)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from edge.sources.cameras.base import DeviceError, DeviceFrame


class FakeClock:
    """A monotonic clock the test moves (thread-safe enough: ints are swapped atomically)."""

    def __init__(self, t_ns: int = 1_000_000_000) -> None:
        self.t_ns = t_ns

    def __call__(self) -> int:
        return self.t_ns

    def advance(self, s: float) -> None:
        self.t_ns += int(s * 1e9)


def thermal(i: int, shape: tuple[int, int] = (120, 160)) -> DeviceFrame:
    """A noisy centikelvin frame, different for every i (as a live sensor's are)."""
    rng = np.random.default_rng(i)
    return DeviceFrame(rng.integers(29000, 31000, size=shape, dtype=np.uint16))


def rgb(i: int, shape: tuple[int, int] = (48, 64)) -> DeviceFrame:
    rng = np.random.default_rng(10_000 + i)
    return DeviceFrame(rng.integers(0, 255, size=(*shape, 3), dtype=np.uint8))


# One read's outcome: a frame, None (no frame within the timeout), an exception to raise, or
# "hang" (block until the device's `release` event is set).
Step = DeviceFrame | None | Exception | Literal["hang"]


@dataclass
class FakeDevice:
    """Plays `steps`, advancing `clock` by `period_s` per read; then idles (reads return None
    after waiting `timeout_s` on `closed`, the clock still): no stall unless the test moves
    the clock."""

    steps: list[Step]
    clock: FakeClock
    name: str = "thermal:fake"
    kind: Literal["rgb", "thermal"] = "thermal"
    encoding: str | None = "centikelvin"
    period_s: float = 0.1
    played: threading.Event = field(default_factory=threading.Event)  # all steps read
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)
    reads: int = 0

    def read(self, timeout_s: float) -> DeviceFrame | None:
        if self.closed.is_set():
            raise DeviceError(f"{self.name}: read after close")
        if self.reads >= len(self.steps):
            self.played.set()
            self.closed.wait(timeout_s)  # the device's own timeout, not synchronisation
            return None
        step = self.steps[self.reads]
        self.reads += 1
        self.clock.advance(self.period_s)
        if step == "hang":
            self.hanging.set()
            self.release.wait(30.0)
            return None
        if isinstance(step, Exception):
            raise step
        return step

    def close(self) -> None:
        self.closed.set()


@dataclass
class FakeOpener:
    """Opens the next of `plans` each call: a list of steps (a device playing them) or an
    exception (the open fails). When the plans run out, opens an idle device and sets
    `exhausted`."""

    plans: list[list[Step] | Exception]
    clock: FakeClock
    kind: Literal["rgb", "thermal"] = "thermal"
    period_s: float = 0.1
    devices: list[FakeDevice] = field(default_factory=list)
    opens: int = 0
    exhausted: threading.Event = field(default_factory=threading.Event)
    _opened: threading.Condition = field(default_factory=threading.Condition)

    def device(self, i: int, timeout_s: float = 10.0) -> FakeDevice:
        """The i-th device opened, waiting for that open."""
        with self._opened:
            assert self._opened.wait_for(lambda: len(self.devices) > i, timeout_s), \
                f"device {i} was never opened ({self.opens} opens)"
            return self.devices[i]

    def __call__(self) -> FakeDevice:
        plan: list[Step] | Exception = (
            self.plans[self.opens] if self.opens < len(self.plans) else []
        )
        self.opens += 1
        if self.opens > len(self.plans):
            self.exhausted.set()
        if isinstance(plan, Exception):
            raise plan
        device = FakeDevice(
            list(plan), self.clock, name=f"{self.kind}:fake", kind=self.kind,
            encoding="centikelvin" if self.kind == "thermal" else None, period_s=self.period_s,
        )
        with self._opened:
            self.devices.append(device)
            self._opened.notify_all()
        return device


@dataclass
class Sleeps:
    """An injected backoff sleep: records the waits, returns at once (False: not stopping)."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, s: float) -> bool:
        self.waits.append(s)
        return False


def frames(make: Callable[[int], DeviceFrame], ids: Iterable[int]) -> list[Step]:
    return [make(i) for i in ids]
