"""RGB + thermal synthetic scenes: the recording opens with both streams and its registration,
labels agree with the spec, and the thermal physics (canthus hot spots at the anatomical inner
eye corners, peaking at skin_from_body_c of the true temperature and reaching the pixels as the
Gaussian arithmetic of tests/sim/physics.py says; nothing else on the face as warm) is read
straight from thermal.u16."""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.core.bodytemp import skin_from_body_c
from edge.core.types import RgbFrame, ThermalFrame
from edge.errors import ConfigError
from edge.sim.rgb import RgbSceneSpec, RgbSynthSummary, rgb_to_thermal, synthesize_rgb
from edge.sources import open_recording
from edge.vision.geometry import inner_canthi, map_points
from tests.shared import shared_data_dir
from tests.sim.physics import pixel_peak_bounds

F32 = npt.NDArray[np.float32]
NOISE_SIGMAS = 5.0
RENDER_BUDGET_S = 60.0


class Scene:
    """A synthesised folder, thermal decoded with the test's own centikelvin arithmetic."""

    def __init__(self, folder: Path, spec: RgbSceneSpec, summary: RgbSynthSummary,
                 seconds: float) -> None:
        self.folder, self.spec, self.summary, self.seconds = folder, spec, summary, seconds
        self.meta: dict[str, Any] = json.loads((folder / "meta.json").read_text())
        self.labels: dict[str, Any] = json.loads((folder / "labels.json").read_text())
        self.people: list[dict[str, Any]] = self.labels["people"]
        th = self.meta["thermal"]
        counts = np.fromfile(folder / "thermal.u16", dtype="<u2")
        self.temp_c = (counts.reshape(-1, th["height"], th["width"]) / 100.0 - 273.15)
        self.thermal_t = csv_t_ns(folder / "thermal.csv")
        self.rgb_t = csv_t_ns(folder / "rgb.csv")
        self.h = np.array(self.meta["registration"]["rgb_to_thermal"], np.float64)

    def thermal_at(self, t_ns: int) -> F32:
        return np.asarray(self.temp_c[int(np.searchsorted(self.thermal_t, t_ns))], np.float32)

    def drift_c(self, frame: F32) -> float:
        """The camera offset of one frame, read off the blackbody like the pipeline does."""
        x, y, w, h = self.meta["reference"]["thermal_roi"]
        return float(frame[y:y + h, x:x + w].mean()) - self.meta["reference"]["temp_c"]


def csv_t_ns(path: Path) -> npt.NDArray[np.int64]:
    lines = path.read_text().splitlines()
    assert lines[0] == "index,t_ns"
    rows = [line.split(",") for line in lines[1:]]
    assert [int(i) for i, _ in rows] == list(range(len(rows)))
    return np.array([int(t) for _, t in rows], np.int64)


def make(folder: Path, spec: RgbSceneSpec) -> Scene:
    start = time.perf_counter()
    summary = synthesize_rgb(folder, spec)
    return Scene(folder, spec, summary, time.perf_counter() - start)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, models_ready: None) -> Scene:
    """The default 12-person scene with matplotlib's portrait."""
    return make(tmp_path_factory.mktemp("rgb") / "default", RgbSceneSpec())


def thermal_box(h: npt.NDArray[np.float64], box: list[int], shape: tuple[int, ...]
                ) -> tuple[slice, slice]:
    x, y, w, hh = box
    corners = np.array([[x, y], [x + w - 1, y], [x, y + hh - 1], [x + w - 1, y + hh - 1]],
                       np.float32)
    mapped = map_points(h, corners)
    x0, y0 = np.floor(mapped.min(axis=0)).astype(int)
    x1, y1 = np.ceil(mapped.max(axis=0)).astype(int) + 1
    return slice(max(0, y0), min(shape[0], y1)), slice(max(0, x0), min(shape[1], x1))


# ------------------------------------------------------------------------ the recording


def test_recording_opens_with_both_streams_and_registration(scene: Scene) -> None:
    source = open_recording(scene.folder)
    meta = source.meta
    assert meta.has_rgb and meta.thermal is not None and meta.rgb_to_thermal is not None
    np.testing.assert_array_equal(meta.rgb_to_thermal, rgb_to_thermal(scene.spec))
    assert meta.reference is not None and meta.reference.temp_c == 35.0
    assert meta.thermal.encoding == "centikelvin" and meta.ambient_c == scene.spec.ambient_c
    assert (meta.thermal.width, meta.thermal.height) == (160, 120)
    assert meta.thermal.frame_count == len(scene.thermal_t) == scene.summary.thermal_frames
    kinds = {"rgb": 0, "thermal": 0}
    last = 0
    for frame in source.frames():
        assert frame.t_ns >= last
        last = frame.t_ns
        if isinstance(frame, RgbFrame):
            assert frame.bgr.shape == (480, 640, 3)
            kinds["rgb"] += 1
        else:
            assert isinstance(frame, ThermalFrame) and frame.counts.shape == (120, 160)
            kinds["thermal"] += 1
    assert kinds == {"rgb": len(scene.rgb_t), "thermal": len(scene.thermal_t)}
    assert kinds["rgb"] == scene.summary.rgb_frames


def test_clocks_are_independent(scene: Scene) -> None:
    rgb_fps = (len(scene.rgb_t) - 1) * 1e9 / (scene.rgb_t[-1] - scene.rgb_t[0])
    thermal_fps = (len(scene.thermal_t) - 1) * 1e9 / (scene.thermal_t[-1] - scene.thermal_t[0])
    assert rgb_fps == pytest.approx(15.0, rel=0.01)
    assert thermal_fps == pytest.approx(9.0, rel=0.01)
    assert not set(scene.rgb_t.tolist()) & set(scene.thermal_t.tolist())
    duration_s = (max(scene.rgb_t[-1], scene.thermal_t[-1]) - scene.rgb_t[0]) / 1e9
    assert duration_s == pytest.approx(scene.summary.duration_s, abs=0.2)


def test_renders_fast(scene: Scene) -> None:
    assert scene.seconds < RENDER_BUDGET_S


# ------------------------------------------------------------------------------ labels


def test_labels_agree_with_the_spec(scene: Scene) -> None:
    people, spec = scene.people, scene.spec
    assert len(people) == spec.people == scene.summary.people
    assert [p["label"] for p in people] == [f"p{i + 1}" for i in range(spec.people)]
    fevers = [p for p in people if p["fever"]]
    assert len(fevers) >= 3 and len(fevers) == scene.summary.fevers
    pairs: dict[str, list[dict[str, Any]]] = {}
    for p in people:
        if p["pair"] is not None:
            pairs.setdefault(p["pair"], []).append(p)
    assert len(pairs) >= 3 and all(len(m) == 2 for m in pairs.values())
    for p in people:
        assert p["fever"] == (p["temp_c"] >= 37.3)
        assert p["expect"] == (["fever"] if p["fever"] else ["screening"])
        low, high = (37.8, 39.0) if p["fever"] else (36.1, 36.9)
        assert low <= p["temp_c"] <= high
        assert p["enter_ns"] < p["closest_ns"] < p["exit_ns"]
        assert p["subject"] == "grace_hopper" and p["pass"] is None
        assert 110 <= p["face_px"] <= 155
        x, y, w, h = p["head_box_rgb"]
        assert x >= 0 and y >= 0 and x + w <= 640 and y + h <= 480
    # One group at a time: a group has left before the next one arrives.
    spans: dict[str, tuple[int, int]] = {}
    for p in people:
        lo, hi = spans.get(p["group"], (p["enter_ns"], p["exit_ns"]))
        spans[p["group"]] = (min(lo, p["enter_ns"]), max(hi, p["exit_ns"]))
    ordered = sorted(spans.values())
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ordered))


def test_canthus_points_are_anatomical_inner_eye_corners(scene: Scene) -> None:
    """The hot spots sit at the inner eye corners of the person's own anthropometry (a
    fraction of the eye-to-eye vector from each eye centre, plus up to 1 px), not at the
    pipeline's quarter-way convention (edge.vision.geometry), though close to it."""
    from_convention = []
    for p in scene.people:
        landmarks = np.array(p["landmarks_rgb"], np.float32)
        left, right = landmarks[0], landmarks[1]
        f = p["canthus_fraction"]
        assert 0.12 <= f <= 0.32
        corners = np.array([left + f * (right - left), right - f * (right - left)], np.float32)
        anatomical = map_points(scene.h, corners)
        canthi = np.array(p["canthus_thermal"], np.float32)
        offsets = np.linalg.norm(canthi - anatomical, axis=1)
        assert (offsets <= 1.02).all(), p["label"]
        np.testing.assert_allclose(map_points(scene.h, np.array(p["canthus_rgb"], np.float32)),
                                   canthi, atol=0.01)
        assert ((canthi >= 0) & (canthi <= [159, 119])).all()
        convention = map_points(scene.h, inner_canthi(landmarks[None]))[0]
        from_convention += np.linalg.norm(canthi - convention, axis=1).tolist()
    assert float(np.mean(from_convention)) >= 0.2 and max(from_convention) <= 3.0


# ------------------------------------------------------------------------------ physics


def test_face_max_is_the_canthus_blurred_below_skin_from_body(scene: Scene) -> None:
    sigma = scene.spec.noise_c
    for p in scene.people:
        frame = scene.thermal_at(p["closest_thermal_ns"])
        frame = frame - scene.drift_c(frame)
        skin_c = float(skin_from_body_c(p["temp_c"], scene.spec.ambient_c, site="canthus"))
        assert p["skin_c"] == pytest.approx(skin_c, abs=1e-4)
        assert max(p["canthus_c"]) == pytest.approx(skin_c, abs=1e-4)
        box = thermal_box(scene.h, p["head_box_rgb"], frame.shape)
        region = frame[box]
        assert region.size > 100
        # The hottest pixel: the hot spot through the PSF and the pixel, plus noise.
        low, high = pixel_peak_bounds(skin_c, p["canthus_excess_c"], p["hotspot_sigma_px"],
                                      scene.spec.psf_sigma_px)
        assert low - 0.05 <= float(region.max()) <= high + NOISE_SIGMAS * sigma, p["label"]
        # Away from both canthi (4 blurred sigmas and 1.5 px) the head, neck and clothes are
        # no warmer than the skin around the canthi.
        blurred = math.hypot(p["hotspot_sigma_px"], scene.spec.psf_sigma_px)
        ys, xs = np.mgrid[0:frame.shape[0], 0:frame.shape[1]]
        far = np.ones(frame.shape, bool)
        for cx, cy in p["canthus_thermal"]:
            far &= np.hypot(xs - cx, ys - cy) > 4 * blurred + 1.5
        face_c = skin_c - p["canthus_excess_c"]
        assert float(region[far[box]].max()) <= face_c + NOISE_SIGMAS * sigma, p["label"]


def test_reference_disc_and_background(scene: Scene) -> None:
    x, y, w, h = scene.meta["reference"]["thermal_roi"]
    drift = scene.temp_c[:, y:y + h, x:x + w].mean(axis=(1, 2)) - 35.0
    assert np.abs(drift).max() <= scene.spec.drift_c + 0.05
    assert np.ptp(drift) > scene.spec.drift_c  # slow drift over the recording
    empty = scene.temp_c[0] - drift[0]  # nobody in view at the start
    assert float(np.median(empty)) == pytest.approx(scene.spec.ambient_c, abs=0.3)


def test_same_seed_same_bytes(tmp_path: Path, models_ready: None) -> None:
    spec = RgbSceneSpec(people=3, pair_fraction=0.67, seed=5)
    a, b = make(tmp_path / "a", spec), make(tmp_path / "b", spec)
    assert (a.folder / "thermal.u16").read_bytes() == (b.folder / "thermal.u16").read_bytes()
    assert (a.folder / "thermal.csv").read_bytes() == (b.folder / "thermal.csv").read_bytes()
    assert a.labels == b.labels and a.summary == b.summary
    assert a.summary.pairs == 1 and a.summary.fevers >= 1
    c = make(tmp_path / "c", replace(spec, seed=6))
    assert (c.folder / "thermal.u16").read_bytes() != (a.folder / "thermal.u16").read_bytes()


@pytest.mark.shared
def test_real_face_photos_give_several_identities(tmp_path: Path, models_ready: None) -> None:
    faces = shared_data_dir("faces")
    spec = RgbSceneSpec(people=8, pair_fraction=0.5, seed=2, faces_dir=faces)
    s = make(tmp_path / "faces", spec)
    photos = {p.stem for p in faces.iterdir() if p.suffix.lower() in (".jpg", ".png")}
    assert s.summary.library >= 10
    subjects = [p["subject"] for p in s.people]
    assert set(subjects) <= photos and len(set(subjects)) == len(subjects)
    # identities.csv groups several photos per person: a pair is always two people.
    assert len({p["identity"] for p in s.people}) >= 6
    by_pair: dict[str, set[str]] = {}
    for p in s.people:
        if p["pair"] is not None:
            by_pair.setdefault(p["pair"], set()).add(p["identity"])
    assert by_pair and all(len(v) == 2 for v in by_pair.values())
    for p in s.people:
        frame = s.thermal_at(p["closest_thermal_ns"])
        region = frame[thermal_box(s.h, p["head_box_rgb"], frame.shape)] - s.drift_c(frame)
        skin_c = float(skin_from_body_c(p["temp_c"], spec.ambient_c, site="canthus"))
        low, high = pixel_peak_bounds(skin_c, p["canthus_excess_c"], p["hotspot_sigma_px"],
                                      spec.psf_sigma_px)
        assert low - 0.05 <= float(region.max()) <= high + NOISE_SIGMAS * spec.noise_c


# ------------------------------------------------------------------------------ spec


def test_spec_and_library_errors(tmp_path: Path, models_ready: None) -> None:
    with pytest.raises(ConfigError, match="people"):
        RgbSceneSpec(people=0)
    with pytest.raises(ConfigError, match="rgb_fps"):
        RgbSceneSpec(rgb_fps=0.0)
    with pytest.raises(ConfigError, match="hotspot_sigma_px"):
        RgbSceneSpec(hotspot_sigma_px=0.1)
    with pytest.raises(ConfigError, match="too big for pairs"):
        RgbSceneSpec(face_px=60.0)
    with pytest.raises(ConfigError, match="not a folder"):
        synthesize_rgb(tmp_path / "out", RgbSceneSpec(faces_dir=tmp_path / "nowhere"))
    blank = tmp_path / "blank"
    blank.mkdir()
    cv2.imwrite(str(blank / "wall.png"), np.full((120, 160, 3), 200, np.uint8))
    with pytest.raises(ConfigError, match="no photo"):
        synthesize_rgb(tmp_path / "out", RgbSceneSpec(faces_dir=blank))
    assert not (tmp_path / "out" / "meta.json").exists()
