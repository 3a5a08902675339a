"""Both cameras as one supply for the run loop: frames in time order across the streams (one
shared condition), the oldest waiting first, EOF only when the thermal camera ended, the
longest read for the watchdog."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from edge.core.types import RgbFrame, StreamInfo, ThermalFrame, ThermalStreamMeta
from edge.sources.cameras.capture import CameraThread, StreamEnded
from edge.sources.cameras.supply import CameraSupply, shared_condition
from tests.sources.cameras.fakes import FakeClock, FakeOpener, Sleeps, Step, rgb, thermal

WAIT_S = 10.0
INFO = StreamInfo(kind="cameras", thermal=ThermalStreamMeta(160, 120, "centikelvin"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _supply(clock: FakeClock, thermal_plans: list[list[Step] | Exception],
            rgb_plans: list[list[Step] | Exception] | None) -> tuple[CameraSupply, FakeOpener,
                                                                     FakeOpener | None]:
    cond = shared_condition()
    t_open = FakeOpener(thermal_plans, clock)
    r_open = FakeOpener(rgb_plans, clock, kind="rgb") if rgb_plans is not None else None

    def cam(opener: FakeOpener) -> CameraThread:
        return CameraThread(opener, name=f"{opener.kind}:fake", clock_ns=clock, cond=cond,
                            sleep=Sleeps(), read_timeout_s=0.05, stall_s=100.0)

    supply = CameraSupply(INFO, cam(t_open), cam(r_open) if r_open is not None else None)
    return supply, t_open, r_open


@pytest.fixture
def stopper() -> Iterator[list[CameraSupply]]:
    supplies: list[CameraSupply] = []
    yield supplies
    for s in supplies:
        s.stop()


def test_frames_come_out_oldest_first_across_both_cameras(
    clock: FakeClock, stopper: list[CameraSupply]
) -> None:
    supply, t_open, r_open = _supply(clock, [[thermal(0), "hang", thermal(1), "hang"]],
                                     [[rgb(0), "hang", rgb(1), "hang"]])
    assert r_open is not None
    stopper.append(supply.start())
    t_dev, r_dev = t_open.device(0), r_open.device(0)
    for _ in range(2):  # twice: both cameras leave a frame, then both pause
        assert t_dev.hanging.wait(WAIT_S) and r_dev.hanging.wait(WAIT_S)
        got = [supply.get(WAIT_S), supply.get(WAIT_S)]
        assert supply.get(0.0) is None  # one slot per camera: nothing else waits
        assert {type(f) for f in got} == {ThermalFrame, RgbFrame}
        assert got[0] is not None and got[1] is not None and got[0].t_ns < got[1].t_ns
        assert supply.last_captured_ns == got[1].t_ns
        t_dev.hanging.clear()
        r_dev.hanging.clear()
        t_dev.release.set()
        r_dev.release.set()


def test_a_thermal_only_kiosk_has_one_camera(
    clock: FakeClock, stopper: list[CameraSupply]
) -> None:
    supply, t_open, _ = _supply(clock, [[thermal(0), thermal(1), "hang"]], None)
    stopper.append(supply.start())
    assert list(supply.cameras) == ["thermal"]
    assert t_open.device(0).hanging.wait(WAIT_S)
    frame = supply.get(WAIT_S)
    assert isinstance(frame, ThermalFrame) and frame.index == 1  # the latest of the two
    assert supply.stats()["thermal"].drops == 1
    t_open.device(0).release.set()


def test_eof_once_the_thermal_camera_ended_and_its_frames_are_out(
    clock: FakeClock, stopper: list[CameraSupply]
) -> None:
    ended = StreamEnded("thermal:fake: the recording ended")
    supply, t_open, r_open = _supply(clock, [[thermal(0), "hang", ended]], [["hang"]])
    assert r_open is not None
    stopper.append(supply.start())
    t_dev = t_open.device(0)
    assert t_dev.hanging.wait(WAIT_S)
    t_dev.release.set()
    assert isinstance(supply.get(WAIT_S), ThermalFrame)  # delivered before the end
    with pytest.raises(EOFError):
        supply.get(WAIT_S)
    assert supply.stats()["thermal"].state == "ended"
    assert supply.stats()["thermal"].reopens == 0  # an ended camera is not reopened
    r_open.device(0).release.set()


def test_read_blocked_s_is_the_longest_read_of_any_camera(
    clock: FakeClock, stopper: list[CameraSupply]
) -> None:
    supply, t_open, r_open = _supply(clock, [[thermal(0)]], [["hang"]])
    assert r_open is not None
    stopper.append(supply.start())
    assert r_open.device(0).hanging.wait(WAIT_S) and t_open.device(0).played.wait(WAIT_S)
    clock.advance(12.0)  # the RGB read is stuck; the thermal camera idles between reads
    assert supply.read_blocked_s() >= 12.0
    r_open.device(0).release.set()


def test_threads_must_share_the_condition(clock: FakeClock) -> None:
    a = CameraThread(FakeOpener([], clock))
    b = CameraThread(FakeOpener([], clock, kind="rgb"))
    with pytest.raises(ValueError, match="share one condition"):
        CameraSupply(INFO, a, b)
