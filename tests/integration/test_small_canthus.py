"""The smallest cell of the skin sweep (issue 8): a 12 px face on a 160x120 Lepton with a
canthus hot spot of sigma 0.5 px, through the production pipeline, offline. The reading must
be within 0.1 C (median) and 0.3 C (max) of the peak the optics leave. The optics' own loss
(lens PSF and pixel area spread a 0.5 px spot to ~40 % of its excess) is a property of the
camera and the distance, and is what the site calibration (`calibrate-temp`) restores: it is
reported, and bounded below, not hidden."""

from __future__ import annotations

import json
import statistics
import tomllib
from pathlib import Path
from typing import Any

from edge.app.replay import replay
from edge.config import validate
from edge.evaluation.evaluate import match
from edge.sim.spec import SceneSpec
from edge.sim.thermal import synthesize
from tests.shared import REPO_ROOT

SIGMA_PX, FACE_PX, PSF_PX = 0.5, 12.0, 0.5


def imaged_peak_c(person: dict[str, Any]) -> float:
    """The hot spot's peak after a Gaussian PSF and the pixel's area (variance 1/12 px^2):
    the excess over the face shrinks by s^2 / (s^2 + psf^2 + 1/12)."""
    s2 = float(person["hotspot_sigma_px"]) ** 2
    kept = s2 / (s2 + PSF_PX**2 + 1.0 / 12.0)
    return float(person["skin_c"]) - float(person["canthus_excess_c"]) * (1.0 - kept)


def test_a_half_pixel_canthus_on_a_12_px_face_reads_at_the_imaged_peak(tmp_path: Path) -> None:
    readings: list[tuple[float, float, float]] = []  # (measured, imaged peak, true peak)
    for seed in (0, 1):
        scene = tmp_path / f"s{seed}"
        synthesize(scene, SceneSpec(people=6, pair_fraction=0.0, passers=0, seed=seed,
                                    face_px=FACE_PX, hotspot_sigma_px=SIGMA_PX,
                                    psf_sigma_px=PSF_PX))
        raw = tomllib.loads((REPO_ROOT / "configs" / "thermal-synthetic.toml").read_text())
        raw["detect"] = {"min_face_px": 9}  # 0.75 of the face: measure the small faces at all
        result = replay(validate(raw, "test"), scene, publish=False)
        people = json.loads((scene / "labels.json").read_text())["people"]
        report = match(result.decisions, people, result.meta, 0)
        by_label = {p["label"]: p for p in people}
        for person in report.people:
            if person.events:
                label = by_label[person.label]
                readings.append((person.events[0].temperature.skin_c, imaged_peak_c(label),
                                 float(label["skin_c"])))
    assert len(readings) >= 10, readings
    errors = [m - imaged for m, imaged, _ in readings]
    assert abs(statistics.median(errors)) <= 0.1, errors
    assert max(abs(e) for e in errors) <= 0.3, errors
    # The optics' loss is real and large at this size: the true peak reads ~0.5-0.9 C low.
    optics_loss = [true - imaged for _, imaged, true in readings]
    assert 0.3 <= statistics.median(optics_loss) <= 1.2, optics_loss
