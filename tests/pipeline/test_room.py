"""The room temperature read off the thermal frame (edge.pipeline.base.RoomTemperature) and
how it reaches the frame report and the metrics."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from edge.app.wiring import metrics_payload
from edge.core.types import ThermalFrame, ThermalStreamMeta
from edge.pipeline.base import PipelineParams, RoomTemperature
from edge.pipeline.thermal import ThermalPipeline
from edge.thermal.front import FrontParams

H, W = 120, 160
S = 1_000_000_000  # ns per second
F32 = npt.NDArray[np.float32]


def room_frame(room_c: float, seed: int = 0) -> F32:
    """A room: floor cooler than ceiling, one side warmer, sensor noise; median = room_c."""
    ys, xs = np.mgrid[0:H, 0:W]
    field = room_c - 0.8 * (ys / (H - 1) - 0.5) + 0.3 * (xs / (W - 1) - 0.5)
    noise = np.random.default_rng(seed).normal(0.0, 0.05, (H, W))
    return np.asarray(field + noise, dtype=np.float32)


def with_person(frame: F32, share: float, face_c: float = 33.5, clothes_c: float = 0.0) -> F32:
    """A person covering the bottom-centre `share` of the view: warm skin, and clothes
    `clothes_c` above the room (within the person band when small) over their lower third."""
    out = frame.copy()
    w = round(W * min(1.0, share * 1.25))
    h = min(H, round(share * H * W / w))
    x0 = (W - w) // 2
    out[H - h :, x0 : x0 + w] = face_c
    if clothes_c:
        out[H - h // 3 :, x0 : x0 + w] = np.median(frame) + clothes_c
    return out


def test_the_first_frame_reads_the_background_not_the_person() -> None:
    room = RoomTemperature()
    assert room.update(with_person(room_frame(24.0), 0.35), 0.0, 0) == pytest.approx(
        24.0, abs=0.1
    )


def run_room(room: RoomTemperature, frames: list[F32], start: int = 0) -> list[float]:
    """Feed frames at 9 fps from frame index `start`; the room after each."""
    out = []
    for i, frame in enumerate(frames, start):
        value = room.update(frame, 0.0, i * S // 9)
        assert value is not None
        out.append(value)
    return out


@pytest.mark.parametrize(
    ("share", "clothes_c", "stay_s", "tolerance_c"),
    [(1.0, 0.0, 25, 0.1), (0.85, 1.5, 25, 0.1), (0.5, 1.5, 25, 0.1), (0.3, 1.0, 120, 0.15)],
    ids=["fills-view", "most-of-view-clothes-in-band", "half-view", "stays-2-min"],
)
def test_people_do_not_move_the_room(
    share: float, clothes_c: float, stay_s: int, tolerance_c: float
) -> None:
    """A person walking up and standing (less than 3/4 of the 60 s window), even filling the
    view, even in clothes barely warmer than the room, is not in the room: it moves by about
    the sensor noise (0.05 C), the spread of the snapshots' lower quartile. One who
    stays 2 minutes on a third of the view is left out by temperature: their clothes and the
    floor they hide move it by about 0.1 C (0.01 C of body temperature)."""
    room = RoomTemperature()
    empty = [room_frame(25.0, i) for i in range(9 * 40)]
    person = [with_person(room_frame(25.0, i), share, clothes_c=clothes_c)
              for i in range(9 * stay_s)]
    values = np.asarray(run_room(room, empty + person + empty), dtype=np.float64)
    assert np.all(np.abs(values - values[0]) < tolerance_c), (values.min(), values.max())
    assert values[0] == pytest.approx(25.0, abs=0.02)


def test_it_follows_a_slow_room_change() -> None:
    room = RoomTemperature()
    # 22 -> 24 C over 10 minutes (0.2 C/min), one frame a second: the window's lower
    # quartile lags 3/4 of the window, 0.15 C here.
    for i in range(601):
        value = room.update(room_frame(22.0 + 2.0 * i / 600, i), 0.0, i * S)
    assert value == pytest.approx(24.0 - 0.15, abs=0.05)


def test_a_step_of_the_whole_scene_is_followed_after_three_quarters_of_the_window() -> None:
    room = RoomTemperature()
    values = run_room(room, [room_frame(22.0, i) for i in range(9 * 60)])
    values += run_room(room, [room_frame(27.0, i) for i in range(9 * 50)], 9 * 60)
    assert values[9 * 60 + 9 * 40] == pytest.approx(22.0, abs=0.1)  # 40 s later: not yet
    assert values[-1] == pytest.approx(27.0, abs=0.1)


def test_the_reference_correction_is_applied_and_its_first_lock_steps_the_room() -> None:
    room = RoomTemperature()
    # The camera reads 1.5 C low; no reference yet, then it locks (offset +1.5).
    assert room.update(room_frame(23.5), 0.0, 0) == pytest.approx(23.5, abs=0.05)
    assert room.update(room_frame(23.5), 1.5, S // 9, reference_ok=True) == pytest.approx(
        25.0, abs=0.05
    )
    # Then the camera drifts and the reference corrects it: the room stays.
    for i in range(2, 9 * 90):
        drift = 0.5 * np.sin(i / 30)
        value = room.update(room_frame(23.5 - drift, i), 1.5 + drift, i * S // 9, None, True)
        assert value == pytest.approx(25.0, abs=0.05)


def test_the_reference_disc_is_left_out() -> None:
    frame = room_frame(24.0)
    frame[:, : W // 2] = 25.5  # a big lukewarm disc housing, within the person band
    box = (0, 0, W // 2, H)
    assert RoomTemperature().update(frame, 0.0, 0, box) == pytest.approx(24.0, abs=0.1)


class _Stats:
    def stats(self) -> dict[str, object]:
        return {}


def test_the_thermal_pipeline_reports_the_room_in_its_frames_and_metrics() -> None:
    params = PipelineParams(front=FrontParams(reference_mode="off"))
    pipeline = ThermalPipeline(params, ThermalStreamMeta(W, H, "centikelvin"), None)
    for i in range(5):
        counts = np.round((room_frame(26.0, i) + 273.15) * 100).astype(np.uint16)
        pipeline.process(ThermalFrame(i, i * S // 9, counts))
    assert pipeline.last is not None and pipeline.last.room_c == pytest.approx(26.0, abs=0.05)
    body = metrics_payload(pipeline, _Stats(), {"thermal": 5}, 1.0)  # type: ignore[arg-type]
    assert body["room_c"] == pytest.approx(26.0, abs=0.05)
