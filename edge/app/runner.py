"""The one frame loop: `replay` and the live gate both drive the pipeline through it.

What differs between them is plugged in, not copied: where frames come from (a paced
recording iterator, or the capture thread), what happens between frames (the live gate
applies commands and feeds the watchdog), which frames are admitted (the live frame guard),
what follows a frame (the crash checkpoint) and what happens when no frame arrives (stall
handling). Decisions go to `emit`, which commits them to the outbox.

Overload (edge.app.latency): the loop notes when each frame it processes was captured, so a
decision's latency can run from the capture of the person's first measurable frame to its
event's PUBACK (`attach` a publisher for the PUBACKs and for the metrics); `overload_metrics`
reports the processing rate, the capture queue and the latencies. The test seam
GATE_EDGE_TEST_SLOW_MS slows every processed frame on purpose.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from edge.app.latency import AckedRow, FrameClock, LatencyTracker, Rate, slowdown_s_from_env
from edge.core.types import Decision, Frame, ThermalFrame
from edge.pipeline.base import Pipeline
from edge.sources.cameras.supply import CameraSupply
from edge.sources.feed import Pacer
from edge.sources.guard import Capture


class FrameSupply(Protocol):
    """Where frames come from. A supply may also have `last_captured_ns`: the monotonic ns
    at which the frame `get` returned last was captured (else it counts as captured when
    processed)."""

    def get(self, timeout_s: float) -> Frame | None:
        """The next frame, or None if none arrived within `timeout_s`; EOFError at the end."""
        ...


class OverloadSink(Protocol):
    """What `RunLoop.attach` hooks into (edge.transport.mqtt.Publisher)."""

    def add_ack_listener(
        self, listener: Callable[[Sequence[AckedRow], int], None]
    ) -> None: ...

    def add_metrics(self, section: Callable[[], Mapping[str, object]]) -> None: ...


class IteratorSupply:
    """Frames of an iterator (a recording), held to their own clock by a `Pacer`."""

    def __init__(self, frames: Iterator[Frame], pacer: Pacer) -> None:
        self._frames = frames
        self._pacer = pacer
        self.last_captured_ns: int | None = None

    def get(self, timeout_s: float) -> Frame | None:
        try:
            frame = next(self._frames)
        except StopIteration:
            raise EOFError from None
        self._pacer.wait(frame.t_ns)
        self.last_captured_ns = time.monotonic_ns()  # the Pacer released it: "captured"
        return frame


@dataclass(slots=True)
class LoopHooks:
    """Optional steps around each frame; unset ones are skipped."""

    before_frame: Callable[[], None] | None = None
    admit: Callable[[Frame], Frame | None] | None = None
    after_frame: Callable[[Frame, list[Decision]], None] | None = None
    # Called with the seconds since the last frame when a wait returned none; returns True
    # when it acted (reopened the source), which restarts the count.
    on_idle: Callable[[float], bool] | None = None
    metrics: Callable[[float], None] | None = None  # every `metrics_interval_s`, with uptime


class RunLoop:
    def __init__(
        self,
        pipeline: Pipeline,
        emit: Callable[[Decision], None],
        *,
        hooks: LoopHooks | None = None,
        metrics_interval_s: float = 10.0,
        stop: threading.Event | None = None,
        wait_s: float = 0.5,
    ) -> None:
        self.pipeline = pipeline
        self._emit = emit
        self.hooks = hooks or LoopHooks()
        self._metrics_interval_s = metrics_interval_s
        self.stop = stop or threading.Event()
        self._wait_s = wait_s
        self.frames: Counter[str] = Counter()  # processed frames by stream
        self.decisions = 0
        self.first_t_ns: int | None = None
        self.last_t_ns: int | None = None
        self.started = time.monotonic()
        self.clock = FrameClock()
        self.latency = LatencyTracker()
        self.slowdown_s = slowdown_s_from_env()
        self._rate = Rate(self.started)
        self._supply: FrameSupply | None = None

    def run(self, supply: FrameSupply) -> bool:
        """Until the source ends (True) or `stop` is set (False)."""
        hooks = self.hooks
        self._supply = supply
        self.started = last_frame = time.monotonic()
        self._rate = Rate(self.started)
        next_metrics = self.started + self._metrics_interval_s
        while not self.stop.is_set():
            if hooks.before_frame is not None:
                hooks.before_frame()
            try:
                frame = supply.get(self._wait_s)
            except EOFError:
                return True
            now = time.monotonic()
            if frame is None:
                if hooks.on_idle is not None and hooks.on_idle(now - last_frame):
                    last_frame = now
            else:
                last_frame = now
                self._step(frame, getattr(supply, "last_captured_ns", None))
            if hooks.metrics is not None and now >= next_metrics:
                hooks.metrics(now - self.started)
                next_metrics = now + self._metrics_interval_s
        return False

    def _step(self, frame: Frame, captured_ns: int | None = None) -> None:
        admitted = frame if self.hooks.admit is None else self.hooks.admit(frame)
        if admitted is None:
            return
        self.clock.note(admitted.t_ns, time.monotonic_ns() if captured_ns is None else captured_ns)
        self.frames["thermal" if isinstance(admitted, ThermalFrame) else "rgb"] += 1
        if self.first_t_ns is None:
            self.first_t_ns = admitted.t_ns
        self.last_t_ns = admitted.t_ns
        decisions = self.pipeline.process(admitted)
        if self.slowdown_s > 0:
            time.sleep(self.slowdown_s)  # the test seam: a pipeline slower than the camera
        self._publish(decisions)
        if self.hooks.after_frame is not None:
            self.hooks.after_frame(admitted, decisions)

    def finish(self) -> list[Decision]:
        """The footage ended: decide every open track with enough evidence."""
        decisions = self.pipeline.finish()
        self._publish(decisions)
        return decisions

    def _publish(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            first, near = decision.first_t_ns, decision.near_t_ns
            start_ns = None if first is None else self.clock.captured_ns(first)
            near_ns = None if near is None else self.clock.captured_ns(near)
            if start_ns is not None:
                self.latency.start(decision, start_ns, near_ns)
            self._emit(decision)  # committed to the outbox: never lost
            self.decisions += 1

    def uptime_s(self) -> float:
        return time.monotonic() - self.started

    def attach(self, sink: OverloadSink) -> None:
        """Latency from the sink's PUBACKs; `overload_metrics` in every metrics message."""
        sink.add_ack_listener(self.latency.acked)
        sink.add_metrics(self.overload_metrics)

    def overload_metrics(self) -> dict[str, object]:
        """Processing rate (frames/s since the last call), the capture queue (depth now, the
        most ever waiting, its bound, frames dropped because the loop fell behind) and the
        decision latency (p50/p95 ms over the last 100 decisions)."""
        frames = sum(self.frames.values())
        out: dict[str, object] = {
            "processing": {
                "fps": self._rate.per_s(time.monotonic(), frames),
                "frames": frames,
                "slow_ms": round(self.slowdown_s * 1e3, 1),
            },
            "latency_ms": self.latency.summary(),
        }
        supply = self._supply
        if isinstance(supply, Capture):
            out["capture"] = {
                "depth": supply.depth(),
                "depth_max": supply.stats.depth_max,
                "bound": supply.bound,
                "drops": supply.stats.queue_drops,
            }
        elif isinstance(supply, CameraSupply):  # one slot per camera: the newer frame wins
            cams = supply.stats().values()
            out["capture"] = {"bound": len(cams), "drops": sum(c.drops for c in cams)}
        return out
