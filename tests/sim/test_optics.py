"""The simulators' physics (edge.sim.optics): the rendered hot spot peaks at the labelled
temperature, the PSF and the pixels lower it exactly as the Gaussian arithmetic says, the
canthus is placed by anthropometry rather than the pipeline's convention, and the new scene
parameters are validated with errors that name them."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.errors import ConfigError
from edge.sim.optics import (
    CANTHUS_OFFSET_PX,
    SENSORS,
    add_hotspots,
    draw_anatomy,
    face_px_at,
    sub_coords,
    to_sensor,
)
from edge.sim.rgb_plan import RgbSceneSpec
from edge.sim.thermal import SceneSpec, render_field, synthesize
from tests.sim.physics import pixel_fraction, pixel_peak_bounds

SMALL = SceneSpec(people=4, pair_fraction=0.5, passers=0, seed=5, noise_c=0.0, drift_c=0.0)


def labels(folder: Path) -> list[dict[str, Any]]:
    people: list[dict[str, Any]] = json.loads((folder / "labels.json").read_text())["people"]
    return people


def frames(folder: Path, width: int = 160, height: int = 120) -> np.ndarray:
    counts = np.fromfile(folder / "thermal.u16", dtype="<u2").reshape(-1, height, width)
    return counts / 100.0 - 273.15


# -------------------------------------------------------------------- the optics alone


@pytest.mark.parametrize(("sigma", "psf", "s"), [(1.0, 0.5, 4), (0.5, 0.5, 8), (2.0, 0.0, 4),
                                                 (0.5, 0.0, 8), (1.0, 1.0, 5)])
def test_pixels_of_a_blurred_spot_follow_the_gaussian_arithmetic(
    sigma: float, psf: float, s: int
) -> None:
    """One hot spot on uniform skin, supersampled, blurred, integrated: every pixel near it is
    base + excess * (pixel integral of the blurred Gaussian), at any sub-pixel phase."""
    rng = np.random.default_rng(1)
    width, height, base, peak = 24, 20, 34.0, 35.5
    xs, ys = sub_coords(width, s)[None, :], sub_coords(height, s)[:, None]
    out = np.empty((height, width), np.float32)
    for _ in range(6):
        x0, y0 = 11.0 + float(rng.uniform(-0.5, 0.5)), 9.0 + float(rng.uniform(-0.5, 0.5))
        field = np.full((height * s, width * s), base, np.float32)
        add_hotspots(field, xs, ys, [(x0, y0, sigma, peak)])
        # The supersampled field peaks at the spot's temperature (to the grid's spacing).
        assert peak - 0.02 <= float(field.max()) <= peak + 1e-5
        to_sensor(field, s, psf, out)
        for py in range(7, 12):
            for px in range(9, 14):
                expected = base + (peak - base) * pixel_fraction(sigma, psf, px - x0, py - y0)
                # Sampling the pixel integral at s x s sub-pixels: < 0.4 % of the excess.
                assert out[py, px] == pytest.approx(expected, abs=0.006), (px, py, x0, y0)
        assert float(out.max()) < peak - (0.05 if sigma <= 1.0 else 0.0)


def test_blur_lowers_the_pixel_peak_more_for_smaller_spots() -> None:
    losses = {sigma: 1.0 - pixel_fraction(sigma, 0.5, 0.0, 0.0) for sigma in (0.5, 1.0, 2.0)}
    assert losses[0.5] > losses[1.0] > losses[2.0] > 0
    # Lepton-class blur on a 1 px spot centred on a pixel: a quarter of the excess is lost;
    # on a pixel corner 38 %.
    assert losses[1.0] == pytest.approx(0.25, abs=0.01)
    assert 1.0 - pixel_fraction(1.0, 0.5, 0.5, 0.5) == pytest.approx(0.38, abs=0.01)


def test_face_width_from_distance() -> None:
    lepton = SENSORS["lepton"]
    assert face_px_at(1.0, lepton.width, lepton.hfov_deg) == pytest.approx(22.1, abs=0.1)
    assert face_px_at(2.0, lepton.width, lepton.hfov_deg) == pytest.approx(11.05, abs=0.1)
    spec = SceneSpec(distance_m=1.0, pair_fraction=0.0)
    assert spec.near_face_px == pytest.approx(22.1, abs=0.1)
    assert SceneSpec(face_px=18.0).near_head_px == pytest.approx((18 * 0.97, 18 * 1.03))


def test_anatomy_is_not_the_pipeline_convention() -> None:
    """Per person: the ICD / IPD ratio gives a canthus fraction around 0.23 (the pipeline
    assumes 0.25), offsets within 1 px, one canthus up to 0.4 degC cooler."""
    rng = np.random.default_rng(0)
    drawn = [draw_anatomy(rng) for _ in range(2000)]
    fractions = np.array([a.fraction for a in drawn])
    assert 0.22 <= float(fractions.mean()) <= 0.245
    assert float(fractions.std()) > 0.02
    assert float(fractions.min()) >= 0.12 and float(fractions.max()) <= 0.32
    offsets = np.array([a.offsets for a in drawn]).reshape(-1, 2)
    radius = np.hypot(offsets[:, 0], offsets[:, 1])
    assert float(radius.max()) <= CANTHUS_OFFSET_PX and float(radius.mean()) > 0.5
    below = np.array([a.below_c for a in drawn])
    assert (below.min(axis=1) == 0).all() and float(below.max()) <= 0.4


# ---------------------------------------------------------------------- rendered scenes


def test_supersampled_canthus_peak_is_the_label(tmp_path: Path) -> None:
    """Noise-, blur- and drift-free, supersampled 8x: the field's maximum over each measured
    head is the labelled skin temperature within 0.01 degC, found at a labelled canthus."""
    spec = replace(SMALL, psf_sigma_px=0.0, supersample=8)
    synthesize(tmp_path / "s", spec)
    for person in labels(tmp_path / "s"):
        field, xs, ys = render_field(spec, person["closest_frame"])
        x, y, w, h = person["head_box"]
        inside = (xs >= x - 0.5) & (xs <= x + w - 0.5) & (ys >= y - 0.5) & (ys <= y + h - 0.5)
        head = np.where(inside, field, -273.15)
        assert person["skin_c"] - 0.01 <= float(head.max()) <= person["skin_c"] + 1e-4
        iy, ix = np.unravel_index(int(np.argmax(head)), head.shape)
        distance = min(math.hypot(float(xs[0, ix]) - cx, float(ys[iy, 0]) - cy)
                       for cx, cy in person["canthus_px"])
        assert distance <= 0.1


def test_blur_and_pixels_lower_the_reading_as_predicted(tmp_path: Path) -> None:
    """The same scene without and with the PSF: the blurred hottest head pixel is lower, and
    both sit within the Gaussian arithmetic's bounds for their PSF."""
    sharp, blurred = replace(SMALL, psf_sigma_px=0.0), replace(SMALL, psf_sigma_px=0.8)
    synthesize(tmp_path / "sharp", sharp)
    synthesize(tmp_path / "blurred", blurred)
    a, b = frames(tmp_path / "sharp"), frames(tmp_path / "blurred")
    for person in labels(tmp_path / "sharp"):
        i, (x, y, w, h) = person["closest_frame"], person["head_box"]
        peak_sharp = float(a[i, y:y + h, x:x + w].max())
        peak_blurred = float(b[i, y:y + h, x:x + w].max())
        assert peak_blurred < peak_sharp - 0.02
        for value, psf in ((peak_sharp, 0.0), (peak_blurred, 0.8)):
            low, high = pixel_peak_bounds(person["skin_c"], person["canthus_excess_c"],
                                          person["hotspot_sigma_px"], psf)
            assert low - 0.006 <= value <= high + 0.006


def test_small_faces_render_and_label_their_size(tmp_path: Path) -> None:
    """A 12 px face (a Lepton at ~1.8 m): heads at the gate are 12 px wide, the hot spot keeps
    its sigma in sensor pixels there, passers stay smaller, and it renders quickly."""
    spec = SceneSpec(people=4, pair_fraction=0.5, passers=1, seed=2, face_px=12.0,
                     hotspot_sigma_px=0.5)
    synthesize(tmp_path / "small", spec)
    people = labels(tmp_path / "small")
    for person in people:
        if person["expect"]:
            assert 12 * 0.97 - 0.3 <= person["max_head_px"] <= 12 * 1.03 * 1.03
            assert person["hotspot_sigma_px"] == pytest.approx(0.5, rel=0.05)
            assert person["near_frames"] >= 12
        else:
            assert person["max_head_px"] <= 0.35 * 12 + 0.1


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"hotspot_sigma_px": 0.1}, "hotspot_sigma_px = 0.1 must be"),
     ({"psf_sigma_px": -0.5}, "psf_sigma_px = -0.5 must be"),
     ({"psf_sigma_px": 6.0}, "psf_sigma_px"),
     ({"supersample": 0}, "supersample = 0 must be an integer"),
     ({"supersample": 2.5}, "supersample"),
     ({"hfov_deg": 0.5}, "hfov_deg"),
     ({"face_px": 5.0}, "face_px = 5 must be 8 to 400"),
     ({"face_px": 12.0, "distance_m": 1.0}, "face_px or distance_m, not both"),
     ({"distance_m": 0.01}, "distance_m = 0.01 must be"),
     ({"face_px": 60.0}, "too big for a 160x120 frame"),
     ({"face_px": 48.0}, "too big for pairs side by side")],
)
def test_thermal_spec_errors_name_the_parameter(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        SceneSpec(**changes)


def test_good_specs_pass() -> None:
    SceneSpec(face_px=48.0, pair_fraction=0.0)
    SceneSpec(width=256, height=192, hfov_deg=56.0, face_px=60.0)
    SceneSpec(face_px=12.0, hotspot_sigma_px=2.0, psf_sigma_px=0.0, supersample=1)
    RgbSceneSpec(face_px=12.0)
    RgbSceneSpec(face_px=30.0)
    RgbSceneSpec(thermal_width=640, thermal_height=512, face_px=60.0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"hotspot_sigma_px": 20.0}, "hotspot_sigma_px"),
     ({"psf_sigma_px": -1.0}, "psf_sigma_px"),
     ({"supersample": 9}, "supersample"),
     ({"face_px": 40.0}, "too big for pairs side by side"),
     ({"face_px": 60.0, "pair_fraction": 0.0, "rgb_height": 240}, "too big for a face"),
     ({"face_px": 8.0, "thermal_width": 640, "thermal_height": 480, "rgb_width": 320,
       "rgb_height": 240}, "too small to find"),
     ({"face_px": 20.0, "distance_m": 1.0}, "not both")],
)
def test_rgb_spec_errors_name_the_parameter(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RgbSceneSpec(**changes)
