"""The adaptive cadence (the default `rgb.detect_every`, and 12) reads every person as the
detector on every frame does, on the demo's residents scene (12 people, pairs, real photos,
seed 7). Before a growing face brought the detector back (edge.vision.cadence.GROW_SHARE), at
`detect_every = 12` one person's followed box lagged their walk-up and they were decided
0.56 C low at a distance, which this test caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.app.enrollment import MIN_EYE_DISTANCE_PX, build_lists
from edge.app.replay import replay
from edge.config import validate
from edge.evaluation.evaluate import load_labels, match
from edge.sim.rgb import synthesize_rgb
from edge.sim.rgb_plan import RgbSceneSpec
from tests.shared import shared_data_dir

pytestmark = pytest.mark.shared
CADENCES = (None, 12)  # the config default, and twice it


def _temps(scene: Path, detect_every: int | None) -> dict[str, float]:
    raw = {"rgb": {"detect_every": detect_every}} if detect_every is not None else {}
    result = replay(validate(raw, "test"), scene, publish=False, lists_dir=scene / "lists")
    report = match(result.decisions, load_labels(scene), result.meta, 0)
    return {p.label: p.measured_c for p in report.people if p.measured_c is not None}


def test_default_cadence_reads_like_the_detector_on_every_frame(
    tmp_path: Path, models_ready: None
) -> None:
    scene = tmp_path / "scene"
    spec = RgbSceneSpec(people=12, seed=7, faces_dir=shared_data_dir("faces"), residents=7,
                        strangers=3, quarantined=2, enroll_min_eye_px=MIN_EYE_DISTANCE_PX)
    summary = synthesize_rgb(scene, spec)
    assert summary.enroll_plan is not None
    build_lists(summary.enroll_plan, scene / "lists")
    every = _temps(scene, 1)
    assert len(every) == 12
    for cadence in CADENCES:
        got = _temps(scene, cadence)
        assert set(got) == set(every), cadence
        worst = max(abs(got[k] - every[k]) for k in every)
        assert worst <= 0.15, (cadence, {k: round(got[k] - every[k], 2) for k in every})
