"""Synthetic RGB + thermal gate scenes with ground truth (recording format v1, both streams).

Real face photos (edge.sim.faces) walk up to the gate alone or in side-by-side pairs, stay
a moment, then leave sideways; one group at a time. The RGB camera (640x480, 15 fps) and the
thermal camera (160x120, 9 fps) have independent clocks on one t_ns timeline and sample the
same continuous motion (edge.sim.rgb_plan). The thermal scene is the RGB scene seen through
the fixed registration H (meta.json registration.rgb_to_thermal): every thermal pixel centre
is mapped back into RGB pixels with H^-1 and coloured by which body part is there.

Each person's two inner canthi are painted at `map_points(H, inner_canthi(landmarks))` of the
composited face, the same functions the measurement side uses, as discs of radius
max(1.5, thermal face width / 12) at exactly `skin_from_body_c(temp_c)`, whose default site
"canthus" is the map the RGB+thermal pipeline applies (the thermal-only simulator, edge.sim.thermal,
paints at site "face-max" instead). Disc centres are rounded to whole pixels so that a full
3x3 block is at that temperature; the exact mapped point is always inside the disc. Nothing
else on a face comes within 1.0 degC of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.core.types import ReferenceSpec
from edge.sim.faces import FaceFinder, HeadCrop, Placement, composite, load_library, place
from edge.sim.rgb_plan import Person, Pose, RgbSceneSpec, Timeline, plan, rgb_to_thermal
from edge.sim.spec import EPOCH_NS, FEVER_THRESHOLD_C, drift_offset_c
from edge.sources.writer import RecordingWriter, counts_from_c
from edge.vision.geometry import inner_canthi, map_points
from edge.vision.types import LEFT_EYE, MOUTH_LEFT, MOUTH_RIGHT, NOSE, RIGHT_EYE

__all__ = ["RgbSceneSpec", "RgbSynthSummary", "rgb_to_thermal", "synthesize_rgb"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]
JITTER_NS = 1_000_000  # capture-time jitter of either camera, +-
BACKGROUND_SEED = 20240601  # the gate looks the same in every scene


@dataclass(frozen=True)
class RgbSynthSummary:
    people: int
    fevers: int
    pairs: int
    subjects: tuple[str, ...]  # library identities used, in order of first appearance
    library: int  # photos with a usable face
    rgb_frames: int
    thermal_frames: int
    duration_s: float


class _Scene:
    """Fixed per recording: registration, thermal->RGB pixel grid, backgrounds, people."""

    def __init__(self, spec: RgbSceneSpec, people: list[Person], crops: list[HeadCrop]) -> None:
        self.spec, self.people, self.crops = spec, people, crops
        self.h = rgb_to_thermal(spec)
        tw, th = spec.thermal_width, spec.thermal_height
        grid = np.stack(np.meshgrid(np.arange(tw, dtype=np.float32),
                                    np.arange(th, dtype=np.float32)), axis=-1)
        self.h_inv: F64 = np.asarray(np.linalg.inv(self.h), dtype=np.float64)
        pre = map_points(self.h_inv, grid)
        self.u, self.v = pre[..., 0], pre[..., 1]  # RGB coordinates of thermal pixel centres
        self.tx = np.arange(tw, dtype=np.float32)[None, :]
        self.ty = np.arange(th, dtype=np.float32)[:, None]
        self.px_scale = math.sqrt(abs(float(np.linalg.det(self.h[:2, :2]))))  # thermal/RGB px
        roi = spec.reference_roi()
        x, y, w, hh = roi
        r = 0.75 * max(w, hh)  # the disc covers the whole ROI: its mean is the disc temperature
        self.ref_mask = (self.tx - (x + (w - 1) / 2)) ** 2 + (self.ty - (y + (hh - 1) / 2)) ** 2 \
            <= r * r
        self.reference = ReferenceSpec(roi=roi, temp_c=spec.reference_temp_c)
        self.rgb_bg, self.thermal_bg = self._backgrounds()
        outline = np.array([[x + (w - 1) / 2 + r * math.cos(a), y + (hh - 1) / 2 + r * math.sin(a)]
                            for a in np.linspace(0, 2 * math.pi, 24, endpoint=False)], np.float32)
        self.ref_rgb = np.rint(map_points(self.h_inv, outline)).astype(np.int32)

    def _backgrounds(self) -> tuple[U8, F32]:
        """A lit wall with a door, a floor and the gate's two posts; thermal: the same layout."""
        spec, rng = self.spec, np.random.default_rng(BACKGROUND_SEED)
        w, h = spec.rgb_width, spec.rgb_height
        ys = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
        xs = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
        light = 1.0 + 0.10 * (0.5 - ys) - 0.25 * (xs - 0.5) ** 2
        coarse = cv2.resize(rng.normal(0, 1, (12, 16)).astype(np.float32), (w, h),
                            interpolation=cv2.INTER_CUBIC)[:, :, None]
        fine = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 0.8)
        wall = np.array([176, 190, 200], np.float32) * light + 5 * coarse + 4 * fine[:, :, None]
        img = np.clip(wall, 0, 255).astype(np.uint8)

        def box(x0: float, y0: float, x1: float, y1: float, bgr: tuple[int, int, int]) -> None:
            cv2.rectangle(img, (round(x0 * w), round(y0 * h)), (round(x1 * w) - 1,
                          round(y1 * h) - 1), bgr, thickness=-1)

        box(0.0, 0.78, 1.0, 1.0, (105, 112, 118))  # floor
        for k in range(1, 9):
            yk = 0.78 + 0.22 * (k / 9) ** 1.6
            cv2.line(img, (0, round(yk * h)), (w - 1, round(yk * h)), (92, 98, 104), 1)
        box(0.37, 0.14, 0.63, 0.78, (70, 92, 120))  # door
        box(0.385, 0.16, 0.615, 0.78, (84, 108, 138))
        box(0.13, 0.16, 0.27, 0.26, (150, 90, 40))  # sign
        box(0.14, 0.19, 0.26, 0.215, (235, 235, 235))
        for x0 in (0.05, 0.91):  # gate posts and beam
            box(x0, 0.08, x0 + 0.04, 1.0, (108, 110, 116))
            box(x0 + 0.012, 0.08, x0 + 0.02, 1.0, (150, 152, 158))
        box(0.05, 0.07, 0.95, 0.10, (108, 110, 116))
        img[:] = np.clip(img.astype(np.int16) + (3 * fine[:, :, None]).astype(np.int16), 0, 255)

        amb, th_w, th_h = spec.ambient_c, spec.thermal_width, spec.thermal_height
        ty = np.linspace(-0.5, 0.5, th_h, dtype=np.float32)[:, None]
        tx = np.linspace(-0.5, 0.5, th_w, dtype=np.float32)[None, :]
        thermal = np.asarray(amb - 0.6 * ty + 0.25 * tx, dtype=np.float32)
        fu, fv = self.u / w, self.v / h
        posts = ((fu >= 0.05) & (fu < 0.09)) | ((fu >= 0.91) & (fu < 0.95))
        beam = (fu >= 0.05) & (fu < 0.95) & (fv >= 0.07) & (fv < 0.10)
        thermal[(posts & (fv >= 0.07)) | beam] -= 0.4  # metal
        thermal[(fu >= 0.37) & (fu < 0.63) & (fv >= 0.14) & (fv < 0.78)] -= 0.2  # door
        return img, thermal

    def placement(self, pose: Pose) -> Placement:
        return place(self.crops[self.people[pose.person].crop], pose.cx, pose.cy, pose.face_px)

    def canthi_thermal(self, placement: Placement) -> F32:
        """(2, 2) thermal points of the two inner canthi of a placed face."""
        canthi: F32 = map_points(self.h, inner_canthi(placement.landmarks[None]))[0]
        return canthi

    def face_px_thermal(self, placement: Placement) -> float:
        x, y, w, h = placement.face_box
        ends = map_points(self.h, np.array([[x, y + h / 2], [x + w, y + h / 2]], np.float32))
        return float(np.linalg.norm(ends[1] - ends[0]))

    # ------------------------------------------------------------------ RGB

    def render_rgb(self, frame: U8, poses: list[Pose]) -> None:
        np.copyto(frame, self.rgb_bg)
        placed = [(pose, self.placement(pose)) for pose in poses]
        h = self.spec.rgb_height
        for pose, pl in placed:  # bodies first: a partner's shoulders never cover a head
            w, chin = pose.face_px, pl.face_box[1] + pl.face_box[3]
            colour = self.people[pose.person].clothes_bgr
            cv2.rectangle(frame, (round(pose.cx - 0.25 * w), round(chin - 0.2 * w)),
                          (round(pose.cx + 0.25 * w), round(chin + 0.25 * w)),
                          pl.crop.skin_bgr, thickness=-1)
            cv2.rectangle(frame, (round(pose.cx - 1.05 * w), round(chin + 0.25 * w)),
                          (round(pose.cx + 1.05 * w), h - 1), colour, thickness=-1)
            dark = tuple(int(c * 0.7) for c in colour)
            cv2.line(frame, (round(pose.cx - 0.6 * w), round(chin + 0.6 * w)),
                     (round(pose.cx - 0.6 * w), h - 1), dark, max(1, round(0.04 * w)))
            cv2.line(frame, (round(pose.cx + 0.6 * w), round(chin + 0.6 * w)),
                     (round(pose.cx + 0.6 * w), h - 1), dark, max(1, round(0.04 * w)))
        for _, pl in placed:
            composite(frame, pl)
        cv2.fillPoly(frame, [self.ref_rgb], (40, 40, 44))  # the blackbody, in front of all
        cv2.polylines(frame, [self.ref_rgb], True, (150, 150, 150), 1)

    # -------------------------------------------------------------- thermal

    def _window(self, x_lo: float, y_lo: float, x_hi: float, y_hi: float
                ) -> tuple[slice, slice] | None:
        """Thermal pixel window around the image of an RGB rectangle (H maps lines to lines)."""
        corners = np.array([[x_lo, y_lo], [x_hi, y_lo], [x_lo, y_hi], [x_hi, y_hi]], np.float32)
        mapped = map_points(self.h, corners)
        x0, y0 = np.floor(mapped.min(axis=0)).astype(int) - 1
        x1, y1 = np.ceil(mapped.max(axis=0)).astype(int) + 2
        x0, y0 = max(0, int(x0)), max(0, int(y0))
        x1, y1 = min(self.spec.thermal_width, int(x1)), min(self.spec.thermal_height, int(y1))
        return (slice(y0, y1), slice(x0, x1)) if x0 < x1 and y0 < y1 else None

    def _paint_body(self, frame: F32, pose: Pose, pl: Placement) -> None:
        person, w = self.people[pose.person], pose.face_px
        chin = pl.face_box[1] + pl.face_box[3]
        win = self._window(pose.cx - 1.05 * w, chin - 0.2 * w, pose.cx + 1.05 * w,
                           2.0 * self.spec.rgb_height)
        if win is None:
            return
        u, v, region = self.u[win], self.v[win], frame[win]
        dx, below = np.abs(u - pose.cx), v - (chin + 0.25 * w)
        torso = (below >= 0) & (dx <= 1.05 * w)
        neck = (below < 0) & (v >= chin - 0.2 * w) & (dx <= 0.25 * w)
        clothes = person.clothes_c - 0.6 * np.clip(below / (3 * w), 0.0, 1.0)
        region[...] = np.where(torso, clothes, np.where(neck, person.face_c - 0.5, region))

    def _paint_head(self, frame: F32, pose: Pose, pl: Placement) -> None:
        person, w = self.people[pose.person], pose.face_px
        ex, ey, a, b = pl.ellipse
        win = self._window(ex - a, ey - b, ex + a, ey + b)
        if win is None:
            return
        u, v, region = self.u[win], self.v[win], frame[win]
        rho2 = ((u - ex) / a) ** 2 + ((v - ey) / b) ** 2
        # ~1 thermal pixel anti-aliased rim; skin seen obliquely at the rim reads cooler.
        alpha = np.clip(0.5 + (1.0 - np.sqrt(rho2)) * a * self.px_scale, 0.0, 1.0)
        temp = person.face_c - 0.9 * np.minimum(rho2, 1.0)
        lm = pl.landmarks
        eye_y = float(lm[LEFT_EYE, 1] + lm[RIGHT_EYE, 1]) / 2
        d = max(1.0, float(lm[MOUTH_LEFT, 1] + lm[MOUTH_RIGHT, 1]) / 2 - eye_y)
        hair = np.clip(((eye_y - 0.95 * d) - v) / (0.35 * d), 0.0, 1.0)
        temp = temp + (person.hair_c - temp) * hair
        for part, radius, below_c in ((LEFT_EYE, 0.09, 0.6), (RIGHT_EYE, 0.09, 0.6),
                                      (NOSE, 0.08, 1.0)):
            spot = (u - lm[part, 0]) ** 2 + (v - lm[part, 1]) ** 2 <= (radius * w) ** 2
            temp = np.where(spot, person.face_c - below_c, temp)
        region += (temp - region) * alpha
        r = max(1.5, self.face_px_thermal(pl) / 12)
        for cx, cy in np.rint(self.canthi_thermal(pl)).astype(int):
            y0, y1 = max(0, cy - 3 - int(r)), min(frame.shape[0], cy + 4 + int(r))
            x0, x1 = max(0, cx - 3 - int(r)), min(frame.shape[1], cx + 4 + int(r))
            if x0 >= x1 or y0 >= y1:
                continue
            disc = (self.tx[:, x0:x1] - cx) ** 2 + (self.ty[y0:y1] - cy) ** 2 <= r * r
            frame[y0:y1, x0:x1][disc] = person.skin_c

    def render_thermal(self, frame: F32, poses: list[Pose]) -> None:
        """Noise-free degC; drift and noise are added by the caller."""
        np.copyto(frame, self.thermal_bg)
        placed = [(pose, self.placement(pose)) for pose in poses]
        for pose, pl in placed:
            self._paint_body(frame, pose, pl)
        for pose, pl in placed:
            self._paint_head(frame, pose, pl)
        frame[self.ref_mask] = self.spec.reference_temp_c


def _clock(n: int, fps: float, offset_ns: int, rng: np.random.Generator) -> list[int]:
    jitter = rng.integers(-JITTER_NS, JITTER_NS + 1, size=n)
    return [EPOCH_NS + offset_ns + round(i * 1e9 / fps) + int(j) for i, j in enumerate(jitter)]


class _Truth:
    """What labels.json reports per person, gathered from the RGB frames as they render."""

    def __init__(self, scene: _Scene) -> None:
        self.scene = scene
        self.seen: dict[int, list[int]] = {}
        self.best: dict[int, tuple[float, dict[str, Any]]] = {}  # face_px, labels at closest

    def add(self, t_ns: int, poses: list[Pose]) -> None:
        spec = self.scene.spec
        w, h, tw, th = spec.rgb_width, spec.rgb_height, spec.thermal_width, spec.thermal_height
        for pose in poses:
            pl = self.scene.placement(pose)
            if pl.x0 >= w or pl.x0 + pl.width <= 0 or pl.y0 >= h or pl.y0 + pl.height <= 0:
                continue
            self.seen.setdefault(pose.person, []).append(t_ns)
            ex, ey, a, b = pl.ellipse
            canthi = self.scene.canthi_thermal(pl)
            inside = (ex - a >= 0 and ex + a <= w - 1 and ey - b >= 0 and ey + b <= h - 1
                      and bool(((canthi >= 0) & (canthi <= [tw - 1, th - 1])).all()))
            old = self.best.get(pose.person)
            if not inside or (old is not None and old[0] >= pose.face_px):
                continue
            fx, fy, fw, fh = pl.face_box
            self.best[pose.person] = (pose.face_px, {
                "closest_ns": t_ns, "head_box_rgb": list(pl.head_box(w, h)),
                "face_box_rgb": [round(v, 2) for v in (fx, fy, fw, fh)],
                "landmarks_rgb": np.round(pl.landmarks, 2).tolist(),
                "canthus_rgb": np.round(inner_canthi(pl.landmarks[None])[0], 2).tolist(),
                "canthus_thermal": np.round(canthi, 2).tolist(),
                "canthus_radius_px": round(max(1.5, self.scene.face_px_thermal(pl) / 12), 3),
                "face_px": round(pose.face_px, 2)})

    def people(self, thermal_t_ns: list[int]) -> list[dict[str, Any]]:
        out = []
        stamps = np.array(thermal_t_ns, np.int64)
        for n, person in enumerate(self.scene.people):
            if n not in self.best:
                raise RuntimeError(f"synth: {person.label} is never fully in view (scene plan)")
            extra = self.best[n][1]
            nearest = int(stamps[np.argmin(np.abs(stamps - extra["closest_ns"]))])
            out.append({
                "label": person.label, "enter_ns": self.seen[n][0], "exit_ns": self.seen[n][-1],
                "temp_c": person.temp_c, "fever": person.fever,
                "subject": self.scene.crops[person.crop].subject, "pass": None,
                "expect": ["fever" if person.fever else "screening"],
                "identity": self.scene.crops[person.crop].identity,
                "group": person.group, "pair": person.group if person.paired else None,
                "skin_c": round(person.skin_c, 4), **extra, "closest_thermal_ns": nearest})
        return out


def synthesize_rgb(
    out_dir: Path, spec: RgbSceneSpec, *, analyzer: FaceFinder | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RgbSynthSummary:
    """Render `spec` into a recording v1 folder (rgb.avi + thermal.u16) with labels.json.

    `analyzer` finds the faces and landmarks in the library photos (default
    edge.vision.landmarks.FaceAnalyzer(threads=1)). Same spec and analyzer -> same thermal
    bytes. `progress(done, total)` is called after each frame of either stream.
    """
    crops = load_library(spec.faces_dir, analyzer)
    layout_seq, noise_seq, clock_seq = np.random.SeedSequence(spec.seed).spawn(3)
    rng, noise_rng = np.random.default_rng(layout_seq), np.random.default_rng(noise_seq)
    clock_rng = np.random.default_rng(clock_seq)
    people, timeline = plan(spec, [c.identity for c in crops], rng)
    scene = _Scene(spec, people, crops)
    phase_rad = float(rng.uniform(0.0, 2 * math.pi))
    n_rgb = math.floor(timeline.duration_s * spec.rgb_fps) + 1
    offset_ns = round(float(clock_rng.uniform(0.15, 0.85)) * 1e9 / spec.thermal_fps)
    n_thermal = math.floor((timeline.duration_s - offset_ns / 1e9) * spec.thermal_fps) + 1
    rgb_t = _clock(n_rgb, spec.rgb_fps, 0, clock_rng)
    thermal_t = _clock(n_thermal, spec.thermal_fps, offset_ns, clock_rng)
    subjects = tuple(dict.fromkeys(crops[p.crop].subject for p in people))
    summary = RgbSynthSummary(
        people=len(people), fevers=sum(p.fever for p in people),
        pairs=len({p.group for p in people if p.paired}), subjects=subjects, library=len(crops),
        rgb_frames=n_rgb, thermal_frames=n_thermal, duration_s=timeline.duration_s)
    writer = RecordingWriter(
        out_dir, width=spec.thermal_width, height=spec.thermal_height, encoding="centikelvin",
        reference=scene.reference, ambient_c=spec.ambient_c,
        rgb_size=(spec.rgb_width, spec.rgb_height), rgb_fps=spec.rgb_fps, rgb_to_thermal=scene.h,
        source=(f"gate-edge synth_rgb, seed {spec.seed}: {summary.people} people "
                f"({summary.fevers} fever, {summary.pairs} pairs), {len(subjects)} identities "
                f"from {spec.faces_dir or 'matplotlib grace_hopper.jpg'}"))
    truth = _Truth(scene)
    with writer:
        _render(writer, scene, timeline, truth, (rgb_t, thermal_t), phase_rad, noise_rng, progress)
        scene_dict = {**asdict(spec), "faces_dir": str(spec.faces_dir) if spec.faces_dir else None}
        writer.write_labels({
            "people": truth.people(thermal_t), "scene": scene_dict,
            "synth": {"epoch_ns": EPOCH_NS, "fever_threshold_c": FEVER_THRESHOLD_C,
                      "rgb": {"frames": n_rgb, "fps": spec.rgb_fps},
                      "thermal": {"frames": n_thermal, "fps": spec.thermal_fps,
                                  "offset_ns": offset_ns},
                      "jitter_ns": JITTER_NS,
                      "drift": {"amplitude_c": spec.drift_c, "period_frames": n_thermal,
                                "phase_rad": phase_rad},
                      "rgb_to_thermal": scene.h.tolist(), "subjects": list(subjects),
                      "library": [c.subject for c in crops]}})
    return summary


def _render(
    writer: RecordingWriter, scene: _Scene, timeline: Timeline, truth: _Truth,
    clocks: tuple[list[int], list[int]], phase_rad: float,
    noise_rng: np.random.Generator, progress: Callable[[int, int], None] | None,
) -> None:
    """Both streams in time order: RGB frames composited, thermal frames painted with drift
    and sensor noise, each written as it is made."""
    spec = scene.spec
    rgb_t, thermal_t = clocks
    n_rgb, n_thermal = len(rgb_t), len(thermal_t)
    rgb = np.empty((spec.rgb_height, spec.rgb_width, 3), np.uint8)
    thermal = np.empty((spec.thermal_height, spec.thermal_width), np.float32)
    noise = np.empty_like(thermal)
    total, i, k = n_rgb + n_thermal, 0, 0
    while i < n_rgb or k < n_thermal:
        if k >= n_thermal or (i < n_rgb and rgb_t[i] <= thermal_t[k]):
            poses = timeline.poses((rgb_t[i] - EPOCH_NS) / 1e9)
            scene.render_rgb(rgb, poses)
            truth.add(rgb_t[i], poses)
            writer.add_rgb(rgb_t[i], rgb)
            i += 1
        else:
            scene.render_thermal(thermal, timeline.poses((thermal_t[k] - EPOCH_NS) / 1e9))
            thermal += drift_offset_c(k, n_thermal, spec.drift_c, phase_rad)
            if spec.noise_c > 0:
                noise_rng.standard_normal(dtype=np.float32, out=noise)
                noise *= spec.noise_c
                thermal += noise
            writer.add_thermal(thermal_t[k], counts_from_c(thermal, "centikelvin"))
            k += 1
        if progress is not None:
            progress(i + k, total)
