"""What `gate-edge check --reference` shows (edge.thermal.disc_view): the survey of a
recording's first frames, its description in raw sensor pixels, and the marked image."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from edge.core.types import RgbFrame, ThermalFrame
from edge.thermal.disc_view import (
    IMAGE_SCALE,
    SURVEY_FRAMES,
    describe,
    mark_reference,
    reference_png,
    survey_reference,
)
from edge.thermal.front import FrontParams, ThermalFrontEnd, raw_roi, upright_to_raw
from tests.thermal.disc_scenes import Disc, H, Scene, W, frames, to_counts
from tests.thermal.test_front import RAW_HW, ROTATE, STREAM

DISC = Disc(30.0, 100.0, 6.5, 35.5)


def thermal_frames(scene: Scene, n: int) -> list[ThermalFrame | RgbFrame]:
    out: list[ThermalFrame | RgbFrame] = []
    for i, upright in enumerate(frames(lambda t: scene, n)):
        out.append(ThermalFrame(i, i * 115_000_000, to_counts(upright, ROTATE)))
        out.append(RgbFrame(i, i * 115_000_000 + 1, np.zeros((4, 4, 3), np.uint8)))  # skipped
    return out


def test_survey_says_where_the_disc_is_in_raw_pixels() -> None:
    front = ThermalFrontEnd(FrontParams(rotate_deg=ROTATE), STREAM, None)
    survey = survey_reference(front, thermal_frames(Scene(25.0, DISC), SURVEY_FRAMES + 5))
    assert survey.frames == SURVEY_FRAMES and survey.passed
    assert survey.place is not None and survey.place.centre_raw is not None
    where, state = describe(survey)
    m = re.search(r"raw sensor x ([\d.]+), y ([\d.]+), radius ([\d.]+) px", where)
    assert m is not None, where
    x, y, r = (float(v) for v in m.groups())
    tx, ty = upright_to_raw(DISC.cx, DISC.cy, RAW_HW, ROTATE)  # (100, 89)
    assert np.hypot(x - tx, y - ty) <= 1.0 and abs(r - DISC.r) <= 1.0
    assert f"ROI raw [{', '.join(map(str, survey.place.roi_raw))}]" in where
    assert f"locked on frame {survey.place.frame} of {SURVEY_FRAMES}" in where
    assert state.startswith("reference state: ok, reading 35.") and "offset" in state


def test_marked_image_shows_the_disc_where_it_was_found() -> None:
    front = ThermalFrontEnd(FrontParams(rotate_deg=ROTATE), STREAM, None)
    survey = survey_reference(front, thermal_frames(Scene(25.0, DISC), 12))
    img = mark_reference(survey)
    assert img.shape == (H * IMAGE_SCALE, W * IMAGE_SCALE, 3) and img.dtype == np.uint8
    cyan = np.all(img == (255, 255, 0), axis=2)
    ys, xs = np.nonzero(cyan)
    assert ys.size > 50
    # The circle's pixels sit one disc radius from the disc's centre (scaled).
    cx, cy = ((DISC.cx + 0.5) * IMAGE_SCALE, (DISC.cy + 0.5) * IMAGE_SCALE)
    d = np.hypot(xs - cx, ys - cy)
    assert float(np.median(d)) == pytest.approx(DISC.r * IMAGE_SCALE, abs=IMAGE_SCALE)
    assert d.max() <= (DISC.r + 1.5) * IMAGE_SCALE  # nothing cyan elsewhere
    decoded = cv2.imdecode(np.frombuffer(reference_png(survey), np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and np.array_equal(decoded, img)


def test_not_found_and_off_are_said_plainly() -> None:
    front = ThermalFrontEnd(FrontParams(rotate_deg=ROTATE), STREAM, None)
    survey = survey_reference(front, thermal_frames(Scene(25.0), 20))
    assert not survey.passed and survey.place is None
    assert describe(survey) == ["reference: not found in the first 20 frames",
                                "reference state: not found"]
    assert mark_reference(survey).shape == (H * IMAGE_SCALE, W * IMAGE_SCALE, 3)
    off = ThermalFrontEnd(FrontParams(rotate_deg=ROTATE, reference_mode="off"), STREAM, None)
    survey = survey_reference(off, thermal_frames(Scene(25.0, DISC), 3))
    assert survey.passed
    assert describe(survey)[0] == 'reference: none configured (thermal.reference.mode = "off")'
    empty = survey_reference(off, [])
    assert not empty.passed and describe(empty) == ["reference: the recording has no thermal frame"]


def test_pinned_roi_is_described_as_pinned() -> None:
    pinned = raw_roi((28, 98, 5, 5), RAW_HW, ROTATE)
    front = ThermalFrontEnd(
        FrontParams(rotate_deg=ROTATE, reference_mode="roi", reference_roi=pinned), STREAM, None)
    survey = survey_reference(front, thermal_frames(Scene(25.0, DISC), 12))
    where = describe(survey)[0]
    assert where.startswith("reference: pinned ROI (thermal.reference.roi); ROI raw [")
    assert str(list(pinned)) in where and survey.passed
