"""Live-mode source faults: corrupt frames, timestamps going backwards, a source that
raises or goes silent. Never a crash, never a wrong measurement, always a count."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edge.app.checkpoint import Checkpoint
from edge.app.wiring import pipeline_params
from edge.config import validate
from edge.core.types import Frame, ThermalFrame, ThermalStreamMeta
from edge.pipeline.thermal import ThermalPipeline
from edge.sim.thermal import SceneSpec, synthesize
from edge.sources.feed import ReplayFeed
from edge.sources.guard import Capture, FrameCheck, FrameGuard

H, W = 120, 160


def _good(t_ns: int, rng: np.random.Generator) -> ThermalFrame:
    counts = (rng.normal(29500, 30, (H, W))).astype(np.uint16)
    return ThermalFrame(0, t_ns, counts)


def _corrupt(i: int, rng: np.random.Generator) -> object:
    kind = i % 7
    t_ns = 1_000 + i
    if kind == 0:
        return ThermalFrame(i, t_ns, np.zeros((H, W - 1), np.uint16))  # truncated row
    if kind == 1:
        return ThermalFrame(i, t_ns, rng.random((H, W)).astype(np.float32))  # type: ignore[arg-type]
    if kind == 2:
        return ThermalFrame(i, t_ns, np.full((H, W), 29500, np.uint16))  # dead sensor
    if kind == 3:
        hot = np.full((H, W), 65535, np.uint16) - (rng.random((H, W)) < 0.01)
        return ThermalFrame(i, t_ns, hot.astype(np.uint16))  # saturated
    if kind == 4:
        return ThermalFrame(i, 0, _good(1, rng).counts)  # no timestamp
    if kind == 5:
        return ThermalFrame(i, 500, _good(1, rng).counts)  # backwards in time
    return b"\x00" * (H * W)  # not a frame at all


def test_ten_thousand_corrupt_frames_change_nothing(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(5)
    settings = validate({}, "test")
    meta = ThermalStreamMeta(W, H, "centikelvin")
    pipeline = ThermalPipeline(pipeline_params(settings), meta, None)
    guard = FrameGuard(FrameCheck(H, W))
    assert guard.admit(_good(1_000, rng)) is not None  # establishes the clock
    caplog.set_level(logging.DEBUG, logger="edge.sources.guard")
    for i in range(10_000):
        frame = guard.admit(_corrupt(i, rng))
        assert frame is None
    assert sum(guard.dropped.values()) == 10_000
    assert set(guard.dropped) == {
        "wrong_size", "wrong_dtype", "dead_frame", "saturated", "bad_timestamp",
        "timestamp_backwards", "not_a_frame",
    }
    drops = [r for r in caplog.records if "dropped frame" in r.getMessage()]
    assert len(drops) == 10_000 and all(":" in r.getMessage() for r in drops)
    assert pipeline.last is None  # nothing reached the pipeline
    assert guard.admit(_good(2_000, rng)) is not None  # and good frames still pass


def test_capture_reopens_a_failing_source_and_counts_it() -> None:
    opened = []

    def flaky() -> Iterator[Frame]:
        opened.append(1)
        rng = np.random.default_rng(len(opened))
        for k in range(3):
            yield _good(len(opened) * 1000 + k, rng)
        if len(opened) < 3:
            raise OSError("camera unplugged")

    capture = Capture(flaky, depth=100, max_backoff_s=0.05).start()  # no drops: count all
    got = []
    while True:
        try:
            frame = capture.get(5.0)
        except EOFError:
            break
        assert frame is not None, "capture stalled"
        got.append(frame)
    capture.stop()
    assert len(opened) == 3 and len(got) == 9
    assert capture.stats.source_errors == 2


def test_capture_reopens_a_silent_source_on_request() -> None:
    release = threading.Event()
    opened = []

    def silent_then_ok() -> Iterator[Frame]:
        opened.append(1)
        if len(opened) == 1:
            yield _good(1, np.random.default_rng(0))
            release.wait(10.0)  # a camera that stops delivering
            return
        yield _good(2, np.random.default_rng(1))

    capture = Capture(silent_then_ok).start()
    assert capture.get(5.0) is not None
    assert capture.get(0.2) is None  # silent
    capture.request_reopen()
    release.set()
    second = capture.get(5.0)
    capture.stop()
    assert second is not None and second.t_ns == 2
    assert capture.stats.stalls == 1 and len(opened) == 2


def test_feed_loops_with_increasing_time_and_resumes_after_checkpoint(tmp_path: Path) -> None:
    scene = tmp_path / "scene"
    synthesize(scene, SceneSpec(people=1, passers=0, seed=2))
    one_pass = [f.t_ns for f in ReplayFeed(scene, speed=None, loop=False)()]
    feed = ReplayFeed(scene, speed=None, loop=True)()
    looped = [next(feed).t_ns for _ in range(2 * len(one_pass) + 3)]
    assert all(b > a for a, b in itertools.pairwise(looped))
    checkpoint = Checkpoint(tmp_path / "pos.json")
    checkpoint.save(looped[len(one_pass) + 4], [(1, 2, 3, 4)], force=True)
    resume_ns, decided = checkpoint.load()
    assert decided == [(1, 2, 3, 4)]
    resumed = ReplayFeed(scene, speed=None, loop=True, resume_after_ns=resume_ns)()
    assert next(resumed).t_ns == looped[len(one_pass) + 5]


def test_corrupt_rgb_frames_are_dropped_with_a_reason() -> None:
    from edge.core.types import RgbFrame

    guard = FrameGuard(FrameCheck(H, W))
    rng = np.random.default_rng(9)
    good = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    assert guard.admit(RgbFrame(0, 10, good)) is not None
    bad = [
        RgbFrame(1, 11, good.astype(np.float32)),  # type: ignore[arg-type]
        RgbFrame(2, 12, good[:, :, 0]),  # grey, not BGR
        RgbFrame(3, 13, np.zeros((48, 64, 3), np.uint8)),  # dead
        RgbFrame(4, 9, good),  # backwards
    ]
    assert [guard.admit(f) for f in bad] == [None] * 4
    assert set(guard.dropped) == {
        "rgb_wrong_dtype", "rgb_wrong_size", "rgb_dead_frame", "rgb_timestamp_backwards",
    }
    # the thermal clock is separate: an RGB frame does not make thermal frames "backwards"
    assert guard.admit(_good(5, rng)) is not None
