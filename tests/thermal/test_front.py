"""The thermal front end (edge.thermal.front): reference coordinates between upright and raw
sensor pixels, the disc locator wired in auto mode (a primed tracker, machine-readable
reasons, where the disc is), and pinned and recorded ROIs, which report occlusion too."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from edge.core.types import ReferenceSpec, ThermalStreamMeta
from edge.thermal.disc import lock_box
from edge.thermal.front import (
    FrontParams,
    ThermalFrontEnd,
    raw_roi,
    rotate_roi,
    upright_to_raw,
)
from edge.thermal.radiometry import REFERENCE_REASONS, ReferenceState
from tests.thermal.disc_scenes import Disc, Person, Scene, frames, to_counts

STREAM = ThermalStreamMeta(width=160, height=120, encoding="centikelvin")  # raw, sideways
RAW_HW = (120, 160)
ROTATE = 90
DISC = Disc(30.0, 100.0, 6.5, 35.5)
DISC_ROI_UPRIGHT = (28, 98, 5, 5)  # on the disc's flat top


def walk_past(t: int) -> list[Person]:
    """Their torso covers the disc at (30, 100) fully on frames 36-43 (see test_disc)."""
    return [Person(140.0 - 4.0 * (t - 12), 75.0, 36.5, 31.0)] if t >= 12 else []


def feed(front: ThermalFrontEnd, scene_at: Callable[[int], Scene], n: int,
         seed: int = 0) -> list[ReferenceState]:
    states = []
    for upright in frames(scene_at, n, seed):
        _, state = front.convert(to_counts(upright, front.rotate_deg))
        assert state.reason in REFERENCE_REASONS and state.ok == (state.reason == "ok")
        states.append(state)
    return states


@pytest.mark.parametrize("rotate_deg", [0, 90, 180, 270])
def test_upright_and_raw_coordinates_invert_each_other(rotate_deg: int) -> None:
    raw = np.zeros(RAW_HW, np.float32)
    raw[7, 13] = 1.0  # raw x 13, y 7
    upright = np.rot90(raw, k=-(rotate_deg // 90))
    (uy,), (ux,) = np.nonzero(upright)
    assert upright_to_raw(float(ux), float(uy), RAW_HW, rotate_deg) == (13.0, 7.0)
    for roi in [(13, 7, 5, 3), (0, 0, 1, 1), (150, 110, 10, 10)]:
        assert raw_roi(rotate_roi(roi, RAW_HW, rotate_deg), RAW_HW, rotate_deg) == roi


def test_auto_mode_locks_with_a_stable_reference_at_once() -> None:
    front = ThermalFrontEnd(FrontParams(rotate_deg=ROTATE), STREAM, None)
    states = feed(front, lambda t: Scene(25.0, DISC), 20)
    lock_frame = next(i for i, s in enumerate(states) if s.reading_c is not None)
    assert lock_frame <= 10
    assert {s.reason for s in states[:lock_frame]} == {"searching"}
    assert all(s.offset_c == 0.0 and not s.ok for s in states[:lock_frame])
    # Primed from the locator's window: the lock frame itself is ok, no 9-frame wait.
    assert all(s.ok for s in states[lock_frame:])
    assert states[-1].reading_c == pytest.approx(DISC.temp_c, abs=0.3)
    place = front.place
    assert place is not None and place.source == "located" and place.frame == lock_frame
    assert place.centre is not None and place.centre_raw is not None
    assert np.hypot(place.centre[0] - DISC.cx, place.centre[1] - DISC.cy) <= 1.0
    true_raw = upright_to_raw(DISC.cx, DISC.cy, RAW_HW, ROTATE)  # (100, 89)
    assert np.hypot(place.centre_raw[0] - true_raw[0], place.centre_raw[1] - true_raw[1]) <= 1.0
    assert place.radius_px == pytest.approx(DISC.r, abs=1.0)
    assert rotate_roi(place.roi_raw, RAW_HW, ROTATE) == place.roi == front.roi
    # The raw ROI reads the same pixels in the recorded counts.
    upright = next(iter(frames(lambda t: Scene(25.0, DISC), 1)))
    counts = to_counts(upright, ROTATE)
    x, y, w, h = place.roi_raw
    ux, uy, uw, uh = place.roi
    assert counts[y : y + h, x : x + w].mean() == pytest.approx(
        to_counts(upright, 0)[uy : uy + uh, ux : ux + uw].mean())
    locator = front.locator
    assert locator is not None and locator.lock is not None
    assert front.disc_box == lock_box(locator.lock, front.upright_hw)


def test_auto_mode_reports_occlusion_and_recovers() -> None:
    front = ThermalFrontEnd(FrontParams(rotate_deg=ROTATE), STREAM, None)
    states = feed(front, lambda t: Scene(25.0, DISC, people=walk_past(t)), 60, seed=14)
    assert all(s.ok for s in states[9:32])
    first_covered = next(i for i, s in enumerate(states) if s.reason == "occluded")
    good = states[first_covered - 1]
    assert good.ok
    covered = states[36:44]
    assert {s.reason for s in covered} == {"occluded"}
    # The last good offset and reading are held, never the sleeve's temperature.
    assert all(s.offset_c == good.offset_c and s.reading_c == good.reading_c for s in covered)
    assert all(s.ok for s in states[49:])
    assert front.locator_state == "ok"


def test_pinned_roi_reports_occlusion_through_the_tracker() -> None:
    pinned = raw_roi(DISC_ROI_UPRIGHT, RAW_HW, ROTATE)
    params = FrontParams(rotate_deg=ROTATE, reference_mode="roi", reference_roi=pinned)
    front = ThermalFrontEnd(params, STREAM, None)
    assert front.locator is None and front.roi == DISC_ROI_UPRIGHT
    assert front.place is not None and front.place.source == "pinned"
    assert front.place.roi_raw == pinned and front.place.centre is None
    states = feed(front, lambda t: Scene(25.0, DISC, people=walk_past(t)), 60, seed=14)
    assert [s.reason for s in states[:8]] == ["settling"] * 8  # no locator buffer to prime
    assert all(s.ok for s in states[8:32])
    assert {s.reason for s in states[36:44]} == {"occluded"}
    assert all(s.ok for s in states[50:])
    assert front.disc_box == (23, 93, 15, 15)  # 3x the ROI: no disc geometry is known


def test_pinned_roi_heater_ramp_is_unstable() -> None:
    pinned = raw_roi(DISC_ROI_UPRIGHT, RAW_HW, ROTATE)
    front = ThermalFrontEnd(
        FrontParams(rotate_deg=ROTATE, reference_mode="roi", reference_roi=pinned), STREAM, None)

    def scene(t: int) -> Scene:
        return Scene(25.0, Disc(DISC.cx, DISC.cy, DISC.r,
                                DISC.temp_c + 1.5 * float(np.clip((t - 20) / 10, 0, 1))))

    states = feed(front, scene, 30)
    assert all(s.ok for s in states[8:21])
    assert {s.reason for s in states[24:30]} == {"unstable"}  # 0.15 C a frame: no jump


def test_recording_reference_uses_its_true_temperature() -> None:
    spec = ReferenceSpec(raw_roi(DISC_ROI_UPRIGHT, RAW_HW, ROTATE), temp_c=36.0)
    front = ThermalFrontEnd(FrontParams(rotate_deg=ROTATE), STREAM, spec)
    assert front.locator is None and front.place is not None
    assert front.place.source == "recording" and front.roi == DISC_ROI_UPRIGHT
    states = feed(front, lambda t: Scene(25.0, DISC), 12)
    assert states[-1].ok
    assert states[-1].offset_c == pytest.approx(36.0 - DISC.temp_c, abs=0.1)


def test_reference_off() -> None:
    front = ThermalFrontEnd(FrontParams(rotate_deg=ROTATE, reference_mode="off"), STREAM, None)
    states = feed(front, lambda t: Scene(25.0, DISC), 12)
    assert {s.reason for s in states} == {"no reference configured"}
    assert all(s.offset_c == 0.0 and s.reading_c is None for s in states)
    assert front.place is None and front.disc_box is None and front.locator is None
