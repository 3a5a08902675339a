"""The run loop's decision latency and overload numbers (edge.app.latency, RunLoop)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from edge.app.latency import SLOW_ENV, FrameClock, LatencyTracker, slowdown_s_from_env
from edge.app.runner import RunLoop
from edge.core.decide import DecideParams
from edge.core.evidence import Evidence, EvidenceParams
from edge.core.types import Decision, Frame, StreamInfo, ThermalFrame
from edge.pipeline.base import FrameReport
from edge.sources.cameras.capture import CameraThread
from edge.sources.cameras.supply import CameraSupply, shared_condition
from edge.sources.guard import Capture
from edge.transport.events import decision_body
from tests.sources.cameras.fakes import FakeClock, FakeOpener, frames, thermal

FRAME_NS = 40_000_000
T0_NS = 1_000_000_000
AGE_NS = 1_000_000_000


@dataclass(frozen=True)
class Row:
    type: str
    payload: str


def _row(decision: Decision) -> Row:
    body = decision_body(decision, site="s", gate="g", wall_ns=time.time_ns())
    return Row(decision.type, json.dumps(body))


def _frames(n: int) -> list[Frame]:
    counts = np.arange(12, dtype=np.uint16).reshape(3, 4)
    return [ThermalFrame(i, T0_NS + i * FRAME_NS, counts) for i in range(n)]


class OnePerson:
    """A pipeline stand-in: one person, measurable from frame `first`, decided at `at`."""

    uses_rgb = False

    def __init__(self, first: int, at: int) -> None:
        self.evidence = Evidence(EvidenceParams(DecideParams(threshold_c=37.3)))
        self.last: FrameReport | None = None
        self._first, self._at = first, at

    def process(self, frame: Frame) -> list[Decision]:
        if frame.index != self._at:
            return []
        return [Decision("screening", frame.t_ns, 7, None, (0, 0, 1, 1),
                         first_t_ns=T0_NS + self._first * FRAME_NS)]

    def finish(self) -> list[Decision]:
        return []


class AgedSupply:
    """Frames that were captured AGE_NS before they are handed over (a backlog)."""

    def __init__(self, frames: list[Frame]) -> None:
        self._frames: Iterator[Frame] = iter(frames)
        self.last_captured_ns: int | None = None

    def get(self, timeout_s: float) -> Frame | None:
        frame = next(self._frames, None)
        if frame is None:
            raise EOFError
        self.last_captured_ns = time.monotonic_ns() - AGE_NS
        return frame


def test_latency_runs_from_the_capture_of_the_first_measurable_frame_to_the_puback() -> None:
    emitted: list[Decision] = []
    loop = RunLoop(OnePerson(first=2, at=5), emitted.append)
    assert loop.run(AgedSupply(_frames(8)))
    assert [d.first_t_ns for d in emitted] == [T0_NS + 2 * FRAME_NS]
    assert loop.latency.summary()["n"] == 0  # no PUBACK yet
    loop.latency.acked([_row(emitted[0])], time.monotonic_ns())
    summary = loop.latency.summary()
    assert summary["n"] == 1
    # The frame was a second old when processed: that second is part of the latency.
    assert summary["p50"] == summary["p95"] and AGE_NS / 1e6 <= float(summary["p95"]) < 10_000
    assert summary["publish_p95"] is not None and float(summary["publish_p95"]) < AGE_NS / 1e6


def test_pubacks_of_other_events_are_not_counted() -> None:
    tracker = LatencyTracker(window=3)
    decisions = [Decision("screening", T0_NS + i, i, None, (0, 0, 1, 1)) for i in range(5)]
    now = time.monotonic_ns()
    for i, d in enumerate(decisions):
        tracker.start(d, now - (i + 1) * 100_000_000)
    tracker.acked([_row(d) for d in decisions] + [Row("status", "not json")], now)
    tracker.acked([_row(decisions[0])], now)  # a duplicate PUBACK (resent after reconnect)
    summary = tracker.summary()
    assert summary["n"] == 3, "the window keeps the last 3"
    assert summary["p50"] == pytest.approx(400.0) and tracker.unmatched == 1


def test_at_the_gate_latency_starts_at_the_first_frame_the_decision_used() -> None:
    tracker = LatencyTracker()
    now = time.monotonic_ns()
    walked_up = Decision("screening", T0_NS, 1, None, (0, 0, 1, 1))
    unknown = Decision("screening", T0_NS + 1, 2, None, (0, 0, 1, 1))
    tracker.start(walked_up, now - 2_000_000_000, near_ns=now - 500_000_000)
    tracker.start(unknown, now - 1_000_000_000)  # no near frame: not in the near numbers
    assert tracker.summary()["near_p95"] is None
    tracker.acked([_row(walked_up), _row(unknown)], now)
    summary = tracker.summary()
    assert summary["n"] == 2 and summary["p95"] == pytest.approx(1950.0)
    assert summary["near_p50"] == summary["near_p95"] == pytest.approx(500.0)


def test_frame_clock_is_bounded() -> None:
    clock = FrameClock(keep=3)
    for t in range(5):
        clock.note(t, 1000 + t)
    assert [clock.captured_ns(t) for t in range(5)] == [None, None, 1002, 1003, 1004]


def test_slow_pipeline_drops_at_capture_and_the_queue_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SLOW_ENV, "10")
    n = 60
    loop = RunLoop(OnePerson(first=0, at=-1), lambda _d: None)
    assert loop.slowdown_s == pytest.approx(0.010)
    capture = Capture(lambda: iter(_frames(n)), depth=2).start()  # all frames at once
    started = time.monotonic()
    try:
        assert loop.run(capture)
    finally:
        capture.stop()
    processed = sum(loop.frames.values())
    assert time.monotonic() - started >= processed * 0.010  # the seam slowed every frame
    metrics = loop.overload_metrics()
    queue = metrics["capture"]
    assert isinstance(queue, dict)
    assert queue["bound"] == 2 and 1 <= queue["depth_max"] <= 2
    assert queue["drops"] > 0 and processed + queue["drops"] == n, "latest wins, none lost"
    processing = metrics["processing"]
    assert isinstance(processing, dict) and processing["frames"] == processed
    assert processing["slow_ms"] == 10.0 and 0 < processing["fps"] <= 100.0


@pytest.mark.parametrize(("value", "seconds"), [("50", 0.05), ("", 0.0), ("x", 0.0), ("-5", 0.0)])
def test_slowdown_seam_reads_milliseconds(
    monkeypatch: pytest.MonkeyPatch, value: str, seconds: float
) -> None:
    monkeypatch.setenv(SLOW_ENV, value)
    assert slowdown_s_from_env() == pytest.approx(seconds)


def test_cameras_report_their_one_slot_drops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SLOW_ENV, "20")
    opener = FakeOpener([frames(thermal, range(30))], FakeClock(), period_s=0.01)
    cam = CameraThread(opener, name="thermal:fake", clock_ns=opener.clock, cond=shared_condition())
    supply = CameraSupply(StreamInfo("lepton", None), cam).start()
    loop = RunLoop(OnePerson(first=0, at=-1), lambda _d: None)

    def all_read() -> None:
        if opener.devices and opener.devices[0].played.is_set():
            loop.stop.set()

    loop.hooks.before_frame = all_read
    try:
        assert not loop.run(supply)
    finally:
        supply.stop()
    capture = loop.overload_metrics()["capture"]
    processed = sum(loop.frames.values())
    assert capture == {"bound": 1, "drops": cam.stats.drops}
    assert cam.stats.drops > 0 and processed + cam.stats.drops <= 30

