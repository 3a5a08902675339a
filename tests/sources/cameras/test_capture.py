"""Capture threads against fake devices that deliver, stall, freeze, fail and come back
(issue 12 item 3): the latest frame wins and drops are counted, a frozen stream and a lost or
stalled device are noticed and reopened with exponential backoff; stats and states say so.
Fake clock and an injected backoff sleep; the fake devices' events say how far they got."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from edge.sources.cameras.base import DeviceError, DeviceFrame
from edge.sources.cameras.capture import LOG_WINDOW_S, LOUD_LOGS, CameraThread
from tests.sources.cameras.fakes import FakeClock, FakeOpener, Sleeps, Step, frames, thermal

WAIT_S = 10.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _thread(
    opener: FakeOpener, clock: FakeClock, sleeps: Sleeps, *, freeze_frames: int = 5,
    stall_s: float = 3.0, healthy_s: float = 30.0,
) -> CameraThread:
    return CameraThread(
        opener, name="thermal:fake", clock_ns=clock, sleep=sleeps, read_timeout_s=0.05,
        freeze_frames=freeze_frames, stall_s=stall_s, min_backoff_s=1.0, max_backoff_s=8.0,
        healthy_s=healthy_s,
    )


@pytest.fixture
def running() -> Iterator[list[CameraThread]]:
    threads: list[CameraThread] = []
    yield threads
    for t in threads:
        t.stop()
        assert not t.alive


def test_frames_are_stamped_on_the_clock_at_the_read(
    clock: FakeClock, running: list[CameraThread]
) -> None:
    opener = FakeOpener([frames(thermal, range(3))], clock)
    cam = _thread(opener, clock, Sleeps())
    t0 = clock.t_ns
    running.append(cam.start())
    assert opener.device(0).played.wait(WAIT_S)
    latest = cam.take()
    assert latest is not None
    # each read moved the fake clock by 0.1 s; the stamp is the clock when the read returned
    assert latest.t_ns == t0 + 3 * 100_000_000 and latest.seq == 2
    assert np.array_equal(latest.data, thermal(2).data)
    stats = cam.stats
    assert (stats.state, stats.frames, stats.errors, stats.reopens) == ("ok", 3, 0, 0)
    assert cam.encoding == "centikelvin"


def test_a_slow_consumer_gets_the_latest_frame_and_drops_are_counted(
    clock: FakeClock, running: list[CameraThread]
) -> None:
    # the device pauses (the "hang" step) after 100 frames: the consumer looks once there
    plan: list[Step] = [*frames(thermal, range(100)), "hang", *frames(thermal, range(100, 200))]
    opener = FakeOpener([plan], clock)
    cam = _thread(opener, clock, Sleeps())
    running.append(cam.start())
    device = opener.device(0)
    assert device.hanging.wait(WAIT_S)
    first = cam.take()
    assert first is not None and first.seq == 99
    device.release.set()
    assert device.played.wait(WAIT_S)
    latest = cam.take()
    assert latest is not None and latest.seq == 199
    assert cam.take() is None  # one slot: nothing else was kept
    stats = cam.stats
    assert stats.frames == 200
    assert stats.drops == 200 - 2  # every frame but the two taken was replaced unseen


def test_a_frozen_stream_is_detected_after_n_repeats_and_reopened(
    clock: FakeClock, running: list[CameraThread]
) -> None:
    same = thermal(7)
    frozen: list[Step] = [*frames(thermal, range(3)), *[same] * 8]
    opener = FakeOpener([frozen, frames(thermal, range(100, 103))], clock)
    sleeps = Sleeps()
    cam = _thread(opener, clock, sleeps, freeze_frames=5)
    running.append(cam.start())
    assert opener.device(1).played.wait(WAIT_S)
    stats = cam.stats
    assert stats.freezes == 1 and stats.reopens == 1
    # 3 good + the first 4 of the repeats were handed over; the 5th repeat was the freeze
    assert stats.frames == 3 + 4 + 3
    assert opener.devices[0].reads == 3 + 5 and opener.devices[0].closed.is_set()
    assert sleeps.waits == [1.0]
    assert stats.state == "ok" and stats.last_error == "the same frame 5 times in a row"


def test_the_state_is_frozen_until_frames_come_again(
    clock: FakeClock, running: list[CameraThread]
) -> None:
    same = thermal(1)
    release = threading.Event()

    def hold(s: float) -> bool:  # the backoff after the freeze lasts until the test looks
        release.wait(WAIT_S)
        return False

    opener = FakeOpener([[same] * 6, frames(thermal, range(2))], clock)
    cam = CameraThread(opener, clock_ns=clock, sleep=hold, freeze_frames=3, read_timeout_s=0.05)
    running.append(cam.start())
    assert opener.device(0).closed.wait(WAIT_S)
    frozen = cam.stats
    assert frozen.state == "frozen" and frozen.freezes == 1
    assert frozen.frames == 2  # the first two of the three equal frames went through
    release.set()
    assert opener.device(1).played.wait(WAIT_S)
    after = cam.stats
    assert after.state == "ok" and after.frames == 4


def test_a_device_that_vanishes_is_reopened_with_exponential_backoff(
    clock: FakeClock, running: list[CameraThread]
) -> None:
    gone = DeviceError("thermal:fake: unplugged")
    missing = DeviceError("thermal:fake: no such device")
    plans: list[list[Step] | Exception] = [
        [*frames(thermal, range(3)), gone], missing, missing, missing, missing, missing,
        frames(thermal, range(10, 12)),
    ]
    opener = FakeOpener(plans, clock)
    sleeps = Sleeps()
    cam = _thread(opener, clock, sleeps)
    running.append(cam.start())
    assert opener.device(1).played.wait(WAIT_S)
    stats = cam.stats
    # doubling from min_backoff_s, bounded by max_backoff_s
    assert sleeps.waits[:6] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert stats.errors == 6 and stats.reopens == 1
    assert stats.last_error == "thermal:fake: no such device"
    assert stats.state == "ok" and stats.frames == 5
    assert opener.devices[0].closed.is_set()


def test_a_stalled_device_is_lost_after_stall_s_and_reopened(
    clock: FakeClock, running: list[CameraThread]
) -> None:
    # one frame, then reads that return nothing, each taking 1 s on the fake clock
    plans: list[list[Step] | Exception] = [[thermal(0), *[None] * 10], frames(thermal, range(5))]
    opener = FakeOpener(plans, clock, period_s=1.0)
    sleeps = Sleeps()
    cam = _thread(opener, clock, sleeps, stall_s=3.0)
    running.append(cam.start())
    assert opener.device(1).played.wait(WAIT_S)
    stats = cam.stats
    assert stats.stalls == 1 and stats.reopens == 1 and sleeps.waits == [1.0]
    # noticed at the first empty read more than 3 s after the last frame: the 4th
    assert opener.device(0).reads == 1 + 4
    assert stats.last_error == "no frame for 4.0 s"
    assert stats.state == "ok" and stats.frames == 6


def test_ffc_frames_are_dropped_counted_and_are_not_a_freeze(
    clock: FakeClock, running: list[CameraThread]
) -> None:
    shutter = DeviceFrame(np.full((120, 160), 30000, np.uint16), ffc=True)
    plan: list[Step] = [thermal(0), *[shutter] * 12, thermal(1)]
    opener = FakeOpener([plan], clock)
    cam = _thread(opener, clock, Sleeps(), freeze_frames=3)
    running.append(cam.start())
    assert opener.device(0).played.wait(WAIT_S)
    stats = cam.stats
    assert (stats.ffc, stats.frames, stats.freezes, stats.reopens) == (12, 2, 0, 0)
    latest = cam.take()
    assert latest is not None and not (latest.data == 30000).all()


def test_read_blocked_s_grows_only_inside_a_read(
    clock: FakeClock, running: list[CameraThread]
) -> None:
    opener = FakeOpener([[thermal(0), "hang", thermal(1)]], clock)
    cam = _thread(opener, clock, Sleeps(), stall_s=100.0)
    running.append(cam.start())
    assert cam.wait(WAIT_S) is not None
    device = opener.device(0)
    assert device.hanging.wait(WAIT_S)
    clock.advance(42.0)  # a driver stuck in a read for 42 s of the clock
    assert cam.read_blocked_s() >= 42.0
    device.release.set()
    assert device.played.wait(WAIT_S)
    assert cam.take() is not None
    # idling between reads: the last read ended, a new one began at the current clock
    assert cam.read_blocked_s() < 1.0


def test_a_long_healthy_run_resets_the_backoff(
    clock: FakeClock, running: list[CameraThread]
) -> None:
    boom = DeviceError("thermal:fake: reset")
    long_run = [*frames(thermal, range(40)), boom]  # 4 s of frames on the fake clock
    plans: list[list[Step] | Exception] = [[thermal(0), boom], [thermal(1), boom], long_run, [boom]]
    opener = FakeOpener(plans, clock)
    sleeps = Sleeps()
    cam = _thread(opener, clock, sleeps, healthy_s=2.0)
    running.append(cam.start())
    assert opener.exhausted.wait(WAIT_S)
    assert sleeps.waits[:4] == [1.0, 2.0, 1.0, 2.0]
    assert cam.stats.errors == 4


def test_freeze_frames_must_allow_a_repeat() -> None:
    with pytest.raises(ValueError, match="freeze_frames"):
        CameraThread(FakeOpener([], FakeClock()), freeze_frames=1)


def test_a_flapping_camera_logs_a_few_state_changes_then_counts_the_rest(
    clock: FakeClock, running: list[CameraThread], caplog: pytest.LogCaptureFixture
) -> None:
    boom = DeviceError("thermal:fake: reset")
    plans: list[list[Step] | Exception] = [[thermal(i), boom] for i in range(10)]
    plans.append(["hang", thermal(99)])
    opener = FakeOpener(plans, clock)
    caplog.set_level(logging.DEBUG, "edge.sources.cameras.capture")
    cam = _thread(opener, clock, Sleeps(), stall_s=100.0)
    running.append(cam.start())
    last = opener.device(10)
    assert last.hanging.wait(WAIT_S)
    changes = [r for r in caplog.records if r.getMessage().startswith("camera thermal:fake: ")
               and "reopening" not in r.getMessage()]
    loud = [r for r in changes if r.levelno >= logging.INFO]
    # ok, lost, ok, lost, ... 20 changes within a few seconds of the fake clock: the first
    # LOUD_LOGS loud, the rest at DEBUG
    assert len(changes) == 20 and len(loud) == LOUD_LOGS
    assert [r.levelno for r in loud] == [logging.INFO, logging.WARNING] * (LOUD_LOGS // 2)
    assert cam.stats.errors == 10
    clock.advance(LOG_WINDOW_S)  # a minute later the next change is loud again, with a count
    last.release.set()
    assert last.played.wait(WAIT_S)
    back = [r for r in caplog.records if "state changes not logged before this" in r.getMessage()]
    assert len(back) == 1 and back[0].levelno == logging.INFO
    assert "delivering frames again after lost (16 state changes" in back[0].getMessage()


def test_uniform_frames_are_not_a_freeze(
    clock: FakeClock, running: list[CameraThread]
) -> None:
    black = DeviceFrame(np.zeros((48, 64, 3), np.uint8))  # a colour camera in the dark
    opener = FakeOpener([[*[black] * 12, thermal(1)]], clock)
    cam = _thread(opener, clock, Sleeps(), freeze_frames=3)
    running.append(cam.start())
    assert opener.device(0).played.wait(WAIT_S)
    stats = cam.stats
    assert (stats.frames, stats.freezes, stats.reopens, stats.state) == (13, 0, 0, "ok")
