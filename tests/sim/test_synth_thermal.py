"""Synthetic scenes: determinism, labels against the spec, and the physics read straight from
thermal.u16 with numpy (no pipeline module is trusted here except edge.core.bodytemp; the
optics arithmetic is the tests' own, tests/sim/physics.py)."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from edge.core.bodytemp import skin_from_body_c
from edge.errors import ConfigError
from edge.sim.thermal import (
    EPOCH_NS,
    MEASURABLE_HEAD_PX,
    SceneSpec,
    SynthSummary,
    drift_offset_c,
    rotate_point,
    rotate_xy,
    synthesize,
)
from tests.sim.physics import pixel_peak_bounds

F32 = npt.NDArray[np.float32]
CENTIKELVIN_STEP_C = 0.01
# The thermal-only pipeline reads the face's hottest 3x3 patch: the FDA face maximum.
SITE = "face-max"
SMALL = SceneSpec(people=4, pair_fraction=0.5, passers=1, seed=7)


class Scene:
    """A synthesised folder read back with the test's own decoder (not edge.thermal.radiometry)."""

    def __init__(self, folder: Path, spec: SceneSpec, summary: SynthSummary) -> None:
        self.folder, self.spec, self.summary = folder, spec, summary
        self.meta: dict[str, Any] = json.loads((folder / "meta.json").read_text())
        self.labels: dict[str, Any] = json.loads((folder / "labels.json").read_text())
        thermal = self.meta["thermal"]
        counts = np.fromfile(folder / "thermal.u16", dtype="<u2")
        self.counts = counts.reshape(-1, thermal["height"], thermal["width"])
        self.temp_c = decode(self.counts, thermal)
        self.people: list[dict[str, Any]] = self.labels["people"]
        self.measured = [p for p in self.people if p["expect"]]

    def drift_c(self, index: int) -> float:
        drift = self.labels["synth"]["drift"]
        return drift_offset_c(index, drift["period_frames"], drift["amplitude_c"],
                              drift["phase_rad"])

    def frame_of(self, t_ns: int) -> int:
        return round((t_ns - EPOCH_NS) * self.spec.fps / 1e9)


def decode(counts: npt.NDArray[np.uint16], thermal: dict[str, Any]) -> F32:
    """float32 keeps two module-scoped ~1000-frame scenes small; its error is ~2e-6 degC."""
    raw = counts.astype(np.float64)
    if thermal["encoding"] == "centikelvin":
        temp_c = raw / 100.0 - 273.15
    elif thermal["encoding"] == "p2pro":
        temp_c = raw / 64.0 - 273.15
    else:
        temp_c = raw * thermal["linear"]["gain"] + thermal["linear"]["offset_c"]
    return temp_c.astype(np.float32)


def make(tmp: Path, name: str, spec: SceneSpec) -> Scene:
    return Scene(tmp / name, spec, synthesize(tmp / name, spec))


def box_pixels(frame: F32, box: list[int]) -> F32:
    x, y, w, h = box
    return frame[y:y + h, x:x + w]


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return make(tmp_path_factory.mktemp("synth"), "noisy", SceneSpec())


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    """The default scene without sensor noise (same seed: same people, same drift)."""
    return make(tmp_path_factory.mktemp("synth"), "clean", SceneSpec(noise_c=0.0))


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    synthesize(tmp_path / "a", SMALL)
    synthesize(tmp_path / "b", SMALL)
    synthesize(tmp_path / "c", replace(SMALL, seed=8))
    for name in ("meta.json", "labels.json", "thermal.u16", "thermal.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    other = (tmp_path / "c" / "thermal.u16").read_bytes()
    assert (tmp_path / "a" / "thermal.u16").read_bytes() != other


def test_labels_match_the_spec(noisy: Scene) -> None:
    spec, summary = noisy.spec, noisy.summary
    assert len(noisy.measured) == summary.people == spec.people >= 20
    assert [p["label"] for p in noisy.people] == [f"p{i + 1}" for i in range(len(noisy.people))]
    passers = [p for p in noisy.people if not p["expect"]]
    assert len(passers) == summary.passers == spec.passers > 0
    assert all(p["max_head_px"] < MEASURABLE_HEAD_PX for p in passers)
    for person in noisy.measured:
        fever = person["temp_c"] >= 37.3
        assert person["fever"] is fever
        assert person["expect"] == (["fever"] if fever else ["screening"])
        # Far enough from the threshold that a 0.3 degC error cannot flip the decision.
        assert 36.1 <= person["temp_c"] <= 39.0 and abs(person["temp_c"] - 37.3) >= 0.4
        assert person["subject"] is None and person["pass"] is None
        assert person["enter_ns"] < person["closest_ns"] < person["exit_ns"]
    fevers = [p for p in noisy.measured if p["fever"]]
    assert len(fevers) == summary.fevers == spec.n_fevers >= 1
    pairs: dict[str, list[dict[str, Any]]] = {}
    for person in noisy.people:
        if person["pair"] is not None:
            pairs.setdefault(person["pair"], []).append(person)
    assert all(len(members) == 2 for members in pairs.values())
    assert len(pairs) == summary.pairs >= round(spec.people * spec.pair_fraction / 2) >= 2
    assert any(any(m["fever"] for m in members) for members in pairs.values())
    assert noisy.labels["scene"]["people"] == spec.people
    assert noisy.labels["scene"]["seed"] == spec.seed


def test_files_sizes_and_timestamps(noisy: Scene) -> None:
    thermal, n = noisy.meta["thermal"], noisy.summary.frames
    assert noisy.meta["format"] == "gate-edge-recording" and noisy.meta["version"] == 1
    assert (thermal["width"], thermal["height"], thermal["encoding"]) == (160, 120, "centikelvin")
    assert (thermal["frames"], thermal["timestamps"]) == ("thermal.u16", "thermal.csv")
    assert noisy.meta["reference"]["temp_c"] == 35.0 and noisy.meta["ambient_c"] == 22.0
    assert (noisy.folder / "thermal.u16").stat().st_size == n * 160 * 120 * 2
    lines = (noisy.folder / "thermal.csv").read_text().splitlines()
    assert lines[0] == "index,t_ns" and len(lines) == n + 1
    rows = np.array([[int(v) for v in line.split(",")] for line in lines[1:]], dtype=np.int64)
    assert (rows[:, 0] == np.arange(n)).all()
    assert rows[0, 1] == EPOCH_NS
    assert np.abs(np.diff(rows[:, 1]) - 1e9 / 9.0).max() <= 1
    assert noisy.summary.duration_s == pytest.approx(n / 9.0)
    assert 800 <= n <= 1500


def test_one_group_in_view_at_a_time(clean: Scene) -> None:
    groups: dict[str, tuple[int, int]] = {}
    for person in clean.people:
        enter, exit_ = clean.frame_of(person["enter_ns"]), clean.frame_of(person["exit_ns"])
        old = groups.get(person["group"], (enter, exit_))
        groups[person["group"]] = (min(old[0], enter), max(old[1], exit_))
    spans = sorted(groups.values())
    warm = warm_pixel_counts(clean)
    for (_, prev_exit), (next_enter, _) in itertools.pairwise(spans):
        assert next_enter - prev_exit >= 4  # at least 3 empty frames between groups
        assert (warm[prev_exit + 1:next_enter] == 0).all()
    for enter, exit_ in spans:
        assert (warm[enter:exit_ + 1] > 0).all()


def warm_pixel_counts(scene: Scene) -> npt.NDArray[np.int64]:
    """Per frame: pixels warmer than any background could be, the reference disc excluded."""
    x, y, w, h = scene.meta["reference"]["thermal_roi"]
    temp_c = scene.temp_c.copy()
    temp_c[:, max(0, y - h):y + 2 * h, max(0, x - w):x + 2 * w] = scene.spec.ambient_c
    return np.asarray((temp_c > scene.spec.ambient_c + 3.0).sum(axis=(1, 2)), dtype=np.int64)


def test_canthus_peak_is_skin_temperature_and_pixels_show_it_blurred(clean: Scene) -> None:
    """The warmer canthus's continuous peak is skin_from_body_c (labels); in the pixels the
    hot spot is spread by its own size, the PSF and the pixel, so the hottest head pixel sits
    at a labelled canthus and reads as much below the peak as the Gaussian arithmetic says."""
    for person in clean.people:
        index = person["closest_frame"]
        skin_c = skin_from_body_c(person["temp_c"], clean.spec.ambient_c, SITE)
        assert person["skin_c"] == pytest.approx(skin_c, abs=1e-4)
        assert max(person["canthus_c"]) == pytest.approx(person["skin_c"], abs=1e-4)
        assert 0.0 <= person["skin_c"] - min(person["canthus_c"]) <= 0.4
        assert 0.7 <= person["canthus_excess_c"] <= 1.8
        head = box_pixels(clean.temp_c[index], person["head_box"]) - clean.drift_c(index)
        low, high = pixel_peak_bounds(skin_c, person["canthus_excess_c"],
                                      person["hotspot_sigma_px"], clean.spec.psf_sigma_px)
        tolerance_c = CENTIKELVIN_STEP_C / 2 + 1e-4
        assert low - tolerance_c <= float(head.max()) <= high + tolerance_c, person["label"]
        x, y, _, _ = person["head_box"]
        hy, hx = np.unravel_index(int(np.argmax(head)), head.shape)
        distance = min(math.hypot(x + hx - cx, y + hy - cy) for cx, cy in person["canthus_px"])
        assert distance <= 1.0, person["label"]
        # Away from both canthi (4 blurred sigmas and a pixel) the face is skin, no warmer.
        sigma = math.hypot(person["hotspot_sigma_px"], clean.spec.psf_sigma_px)
        yy, xx = np.mgrid[0:head.shape[0], 0:head.shape[1]]
        far = np.ones(head.shape, dtype=bool)
        for cx, cy in person["canthus_px"]:
            far &= np.hypot(x + xx - cx, y + yy - cy) > 4 * sigma + 1.0
        face_c = skin_c - person["canthus_excess_c"]
        assert float(head[far].max()) <= face_c + tolerance_c, person["label"]


def test_nothing_in_view_is_warmer_than_the_canthi(clean: Scene) -> None:
    x, y, w, h = clean.meta["reference"]["thermal_roi"]
    temp_c = clean.temp_c.copy()
    temp_c[:, max(0, y - h):y + 2 * h, max(0, x - w):x + 2 * w] = -273.15
    for person in clean.people:
        enter, exit_ = clean.frame_of(person["enter_ns"]), clean.frame_of(person["exit_ns"])
        in_group = [p for p in clean.people if p["group"] == person["group"]]
        hottest_c = max(skin_from_body_c(p["temp_c"], clean.spec.ambient_c, SITE)
                        for p in in_group)
        for index in range(enter, exit_ + 1):
            assert temp_c[index].max() <= hottest_c + clean.drift_c(index) + 0.006


def test_measured_people_are_big_for_long_enough(clean: Scene) -> None:
    """Head width measured in the pixels: the warm run through the row of the hottest pixel
    that can be this person's canthus (between their surrounding skin and their peak)."""
    min_px = MEASURABLE_HEAD_PX * clean.spec.scale - 1
    x, y, w, h = clean.meta["reference"]["thermal_roi"]
    for person in clean.measured:
        enter, exit_ = clean.frame_of(person["enter_ns"]), clean.frame_of(person["exit_ns"])
        skin_c, face_c = person["skin_c"], person["skin_c"] - person["canthus_excess_c"]
        big = 0
        for index in range(enter, exit_ + 1):
            frame = clean.temp_c[index] - clean.drift_c(index)
            hot = np.where((frame >= face_c) & (frame <= skin_c + 0.006), frame, -273.15)
            hot[max(0, y - h):y + 2 * h, max(0, x - w):x + 2 * w] = -273.15
            if hot.max() < face_c:
                continue
            ys, xs = (int(v) for v in np.unravel_index(int(np.argmax(hot)), hot.shape))
            row = frame[ys] > clean.spec.ambient_c + 4.0
            left, right = xs, xs
            while left > 0 and row[left - 1]:
                left -= 1
            while right < row.size - 1 and row[right + 1]:
                right += 1
            big += left > 0 and right < row.size - 1 and right - left + 1 >= min_px
        assert big >= 12, person["label"]
        assert person["near_frames"] >= 12


def test_noisy_frames_are_the_clean_ones_plus_noise(noisy: Scene, clean: Scene) -> None:
    """Same people, same hot spots: at each closest frame the noisy head differs from the
    clean one by sensor noise only, and its hottest pixel by a few sigma at most."""
    sigma_c = noisy.spec.noise_c
    for before, after in zip(clean.measured, noisy.measured, strict=True):
        assert before == after
        index = after["closest_frame"]
        clean_head = box_pixels(clean.temp_c[index], after["head_box"])
        noisy_head = box_pixels(noisy.temp_c[index], after["head_box"])
        difference = noisy_head - clean_head
        assert float(np.abs(difference).max()) <= 5 * sigma_c + CENTIKELVIN_STEP_C
        assert float(noisy_head.max()) - float(clean_head.max()) <= 4 * sigma_c


def test_reference_roi_follows_drift(noisy: Scene) -> None:
    x, y, w, h = noisy.meta["reference"]["thermal_roi"]
    assert (w, h) == (8, 8)
    roi_mean_c = noisy.temp_c[:, y:y + h, x:x + w].mean(axis=(1, 2))
    expected_c = np.array([35.0 + noisy.drift_c(i) for i in range(roi_mean_c.size)])
    error_c = roi_mean_c - expected_c
    sigma_mean_c = noisy.spec.noise_c / np.sqrt(w * h)
    assert np.abs(error_c).max() <= 5 * sigma_mean_c + CENTIKELVIN_STEP_C / 2
    assert error_c.std() == pytest.approx(sigma_mean_c, rel=0.2)
    assert np.ptp(roi_mean_c) == pytest.approx(2 * noisy.spec.drift_c, abs=0.1)


def test_noise_has_the_requested_sigma(noisy: Scene, clean: Scene) -> None:
    assert [p["temp_c"] for p in noisy.people] == [p["temp_c"] for p in clean.people]
    difference_c = noisy.temp_c[::10] - clean.temp_c[::10]
    assert difference_c.std() == pytest.approx(noisy.spec.noise_c, rel=0.05)
    assert abs(difference_c.mean()) < 0.002


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_rotation_stores_rot90_of_the_upright_scene(tmp_path: Path, rotate: int) -> None:
    upright = make(tmp_path, "up", SMALL)
    turned = make(tmp_path, "turned", replace(SMALL, rotate=rotate))
    k = rotate // 90
    assert np.array_equal(turned.counts, np.rot90(upright.counts, k, axes=(1, 2)))
    thermal = turned.meta["thermal"]
    assert (thermal["width"], thermal["height"]) == ((120, 160) if k % 2 else (160, 120))
    x, y, w, h = turned.meta["reference"]["thermal_roi"]
    ux, uy, uw, uh = upright.meta["reference"]["thermal_roi"]
    assert np.array_equal(turned.counts[:, y:y + h, x:x + w],
                          np.rot90(upright.counts[:, uy:uy + uh, ux:ux + uw], k, axes=(1, 2)))
    for before, after in zip(upright.people, turned.people, strict=True):
        index = after["closest_frame"]
        assert box_pixels(turned.temp_c[index], after["head_box"]).max() == \
            box_pixels(upright.temp_c[index], before["head_box"]).max()
        for (bx, by), (ax, ay) in zip(before["canthus_px"], after["canthus_px"], strict=True):
            # Continuous positions turn with the frame: pixel (x, y) -> (y, W - 1 - x) per turn.
            assert (ax, ay) == pytest.approx(rotate_xy(bx, by, k, 160, 120), abs=2e-3)
            rx, ry = rotate_point(round(bx), round(by), k, 160, 120)
            assert turned.counts[index, ry, rx] == upright.counts[index, round(by), round(bx)]


def test_640x512_renders_with_scaled_sizes(tmp_path: Path) -> None:
    spec = SceneSpec(people=2, pair_fraction=1.0, fever_fraction=0.5, passers=0,
                     width=640, height=512, noise_c=0.0, seed=3, hotspot_sigma_px=4.0)
    scene = make(tmp_path, "big", spec)
    assert scene.counts.shape[1:] == (512, 640)
    assert (tmp_path / "big" / "thermal.u16").stat().st_size == scene.summary.frames * 640 * 512 * 2
    assert scene.meta["reference"]["thermal_roi"][2:] == [32, 32]
    first, second = scene.people
    assert first["pair"] == second["pair"] is not None
    for person in scene.people:
        assert 30 * 4 <= person["max_head_px"] <= 36 * 4
        assert person["near_frames"] >= 12
        index = person["closest_frame"]
        head = box_pixels(scene.temp_c[index], person["head_box"]) - scene.drift_c(index)
        # 4 px on a 130 px head is the Lepton default's physical size: the pixels nearly
        # reach the peak, within the Gaussian arithmetic's bounds.
        assert person["hotspot_sigma_px"] == pytest.approx(4.0, rel=0.05)
        low, high = pixel_peak_bounds(person["skin_c"], person["canthus_excess_c"],
                                      person["hotspot_sigma_px"], spec.psf_sigma_px)
        assert low - 0.006 <= float(head.max()) <= high + 0.006
        assert float(head.max()) >= person["skin_c"] - 0.1
    left, right = sorted((p["head_box"] for p in scene.people), key=lambda box: box[0])
    assert right[0] - (left[0] + left[2]) >= min(left[2], right[2]) - 2  # >= 1 head apart


@pytest.mark.parametrize("encoding", ["p2pro", "linear"])
def test_other_encodings_hold_the_same_temperatures(tmp_path: Path, encoding: str) -> None:
    base = make(tmp_path, "ck", SMALL)
    other = make(tmp_path, encoding, replace(SMALL, encoding=encoding))  # type: ignore[arg-type]
    assert other.meta["thermal"]["encoding"] == encoding
    assert ("linear" in other.meta["thermal"]) is (encoding == "linear")
    step_c = 1 / 64 if encoding == "p2pro" else SMALL.linear_gain
    assert np.abs(other.temp_c - base.temp_c).max() <= (step_c + CENTIKELVIN_STEP_C) / 2 + 1e-4


@pytest.mark.parametrize(
    "changes",
    [{"rotate": 45}, {"fever_fraction": 1.5}, {"people": 0, "passers": 0}, {"width": 10},
     {"reference_roi": (150, 0, 20, 8)}, {"encoding": "kelvin"}, {"hotspot_sigma_px": 0.0},
     {"psf_sigma_px": -0.1}, {"supersample": 0}, {"face_px": 70.0}, {"distance_m": 0.0}],
)
def test_bad_specs_are_config_errors(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="synth"):
        SceneSpec(**changes)


@pytest.mark.parametrize(
    ("spec", "pairs", "fevers"),
    [(SceneSpec(people=1, pair_fraction=1.0, passers=0), 0, 1),
     (SceneSpec(people=2, pair_fraction=1.0, fever_fraction=0.3, passers=0), 1, 1),
     (SceneSpec(people=3, fever_fraction=0.0, passers=0), 1, 0),
     (SceneSpec(people=0, passers=2), 0, 0),
     # One fever among 2 pairs and 6 singles: it must land in a pair, whatever the seed.
     *[(SceneSpec(people=10, pair_fraction=0.4, fever_fraction=0.1, passers=0, seed=seed), 2, 1)
       for seed in range(4)]],
)
def test_small_scenes(tmp_path: Path, spec: SceneSpec, pairs: int, fevers: int) -> None:
    scene = make(tmp_path, "s", spec)
    assert (scene.summary.pairs, scene.summary.fevers) == (pairs, fevers)
    assert len(scene.people) == spec.people + spec.passers
    paired_fevers = [p for p in scene.people if p["pair"] and p["fever"]]
    assert bool(paired_fevers) is (pairs > 0 and fevers > 0)
