"""Synthetic RGB + thermal gate scenes with ground truth (recording format v1, both streams).

Real face photos (edge.sim.faces) walk up to the gate alone or in side-by-side pairs, stay
a moment, then leave sideways; one group at a time. The RGB camera (640x480, 15 fps) and the
thermal camera (160x120, 9 fps) have independent clocks on one t_ns timeline and sample the
same continuous motion (edge.sim.rgb_plan). The thermal scene is the RGB scene seen through
the fixed registration H (meta.json registration.rgb_to_thermal): every thermal pixel centre
is mapped back into RGB pixels with H^-1 and coloured by which body part is there.

The thermal frame is rendered physically (edge.sim.rgb_scene, edge.sim.optics): a focal-plane
field on a supersampled grid, the lens PSF, integration over each sensor pixel, then noise,
drift and quantisation. Each person's two inner canthi are Gaussian hot spots
(`hotspot_sigma_px`) at the anatomical inner eye corners: from the composited photo's eye
centres (its O-Net landmarks) with the person's own intercanthal / interpupillary ratio, not the
pipeline's convention, through the registration, plus a sub-pixel offset of up to 1 px. The
warmer spot's continuous peak is exactly `skin_from_body_c(temp_c)` (labels' `skin_c`), whose
default site "canthus" is the map the RGB+thermal pipeline applies (the thermal-only simulator,
edge.sim.thermal, uses site "face-max"), on facial skin 0.7-1.8 degC cooler. The true spot
centres are in labels.json (`canthus_thermal`, `canthus_rgb`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from edge.sim import passes as pp
from edge.sim.cast import QUARANTINED, RESIDENT, STRANGER, VISITOR, Cast, cast, enroll_plan
from edge.sim.faces import FaceFinder, HeadCrop, load_library
from edge.sim.optics import draw_anatomy
from edge.sim.rgb_passes import PassScene
from edge.sim.rgb_plan import Pose, RgbSceneSpec, Timeline, plan, rgb_to_thermal
from edge.sim.rgb_scene import Scene, apply_h
from edge.sim.spec import EPOCH_NS, FEVER_THRESHOLD_C, drift_offset_c
from edge.sources.writer import RecordingWriter, counts_from_c

__all__ = ["RgbSceneSpec", "RgbSynthSummary", "rgb_to_thermal", "synthesize_rgb"]

F32 = npt.NDArray[np.float32]
JITTER_NS = 1_000_000  # capture-time jitter of either camera, +-


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
    enrolled: tuple[str, ...] = ()  # identity scenes: subject ids in enroll.json
    enroll_plan: Path | None = None  # identity scenes: <out>/enroll.json
    passes: tuple[pp.PassPlan, ...] = ()  # pass scenes: each person's case, in order


ENROLL_PLAN = "enroll.json"
PASS_PLAN = "passes.json"  # written by the caller that issued the passes (the CLI)


def _clock(n: int, fps: float, offset_ns: int, rng: np.random.Generator) -> list[int]:
    jitter = rng.integers(-JITTER_NS, JITTER_NS + 1, size=n)
    return [EPOCH_NS + offset_ns + round(i * 1e9 / fps) + int(j) for i, j in enumerate(jitter)]


class _Truth:
    """What labels.json reports per person, gathered from the RGB frames as they render."""

    def __init__(self, scene: Scene, the_cast: Cast | None, grant_by_face: bool,
                 passes: PassScene | None = None) -> None:
        self.scene, self.cast, self.grant_by_face = scene, the_cast, grant_by_face
        self.passes = passes
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
            spots = self.scene.canthus_spots(pose, pl)
            canthi = np.array([[x, y] for x, y, _, _ in spots], np.float64)
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
                "canthus_rgb": np.round(apply_h(self.scene.h_inv, canthi), 3).tolist(),
                "canthus_thermal": np.round(canthi, 3).tolist(),
                "canthus_c": [round(peak, 4) for _, _, _, peak in spots],
                "hotspot_sigma_px": round(spots[0][2], 4),
                "face_px": round(pose.face_px, 2),
                "face_px_thermal": round(pose.face_px * self.scene.px_scale, 2)})

    def _who(self, n: int) -> dict[str, Any]:
        """subject and expect; identity scenes add role and photo (the subject is then the
        enrolled id, or null for a stranger)."""
        person = self.scene.people[n]
        photo = self.scene.crops[person.crop].subject
        temperature = "fever" if person.fever else "screening"
        if self.cast is None:
            return {"subject": photo, "pass": None, "expect": [temperature]}
        member = self.cast.members[n]
        plans = self.passes.plans if self.passes is not None else {}
        codes = self.passes.codes if self.passes is not None else {}
        label = self.passes.label(n) if self.passes is not None else {}
        return {"subject": member.subject, "pass": label or None, "role": member.role,
                "photo": photo,
                "expect": pp.expected(member.role, plans.get(n), codes.get(n), temperature,
                                      self.grant_by_face)}

    def people(self, thermal_t_ns: list[int]) -> list[dict[str, Any]]:
        out = []
        stamps = np.array(thermal_t_ns, np.int64)
        for n, person in enumerate(self.scene.people):
            if n not in self.best:
                raise RuntimeError(f"synth: {person.label} is never fully in view (scene plan)")
            extra = self.best[n][1]
            nearest = int(stamps[np.argmin(np.abs(stamps - extra["closest_ns"]))])
            anatomy = self.scene.anatomy[n]
            out.append({
                "label": person.label, "enter_ns": self.seen[n][0], "exit_ns": self.seen[n][-1],
                "temp_c": person.temp_c, "fever": person.fever, **self._who(n),
                "identity": self.scene.crops[person.crop].identity,
                "group": person.group, "pair": person.group if person.paired else None,
                "skin_c": round(person.skin_c, 4), **extra, "closest_thermal_ns": nearest,
                "canthus_excess_c": round(person.skin_c - person.face_c, 4),
                "canthus_fraction": round(anatomy.fraction, 4)})
        return out


def synthesize_rgb(
    out_dir: Path, spec: RgbSceneSpec, *, analyzer: FaceFinder | None = None,
    progress: Callable[[int, int], None] | None = None, issue: pp.PassIssuer | None = None,
) -> RgbSynthSummary:
    """Render `spec` into a recording v1 folder (rgb.avi + thermal.u16) with labels.json.

    `analyzer` finds the faces and landmarks in the library photos (default
    edge.vision.landmarks.FaceAnalyzer(threads=1)). Same spec and analyzer -> same thermal
    bytes. `progress(done, total)` is called after each frame of either stream. `issue` makes
    the payload and QR of each planned pass (`spec.passes`; edge.sim.passes).
    """
    crops = load_library(spec.faces_dir, analyzer)
    # Child i depends on i only: streams 5 (roles) and 6 (passes) leave 1-4's bytes as before.
    seqs = np.random.SeedSequence(spec.seed).spawn(6)
    rng, noise_rng = np.random.default_rng(seqs[0]), np.random.default_rng(seqs[1])
    clock_rng, anatomy_rng = np.random.default_rng(seqs[2]), np.random.default_rng(seqs[3])
    the_cast = _cast(spec, crops, np.random.default_rng(seqs[4]))
    people, timeline = plan(spec, [c.identity for c in crops], rng,
                            [m.crop for m in the_cast.members] if the_cast else None)
    near_px = {m: near for g in timeline.groups
               for m, near in zip(g.members, g.near_px, strict=True)}
    scene = Scene(spec, people, crops, near_px, [draw_anatomy(anatomy_rng) for _ in people])
    held = _passes(spec, the_cast, scene, timeline, issue, np.random.default_rng(seqs[5]))
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
        rgb_frames=n_rgb, thermal_frames=n_thermal, duration_s=timeline.duration_s,
        enrolled=tuple(str(m.subject) for m in the_cast.enrolled) if the_cast else (),
        enroll_plan=out_dir / ENROLL_PLAN if the_cast else None,
        passes=tuple(held.plans[n] for n in sorted(held.plans)) if held else ())
    writer = RecordingWriter(
        out_dir, width=spec.thermal_width, height=spec.thermal_height, encoding="centikelvin",
        reference=scene.reference, ambient_c=spec.ambient_c,
        rgb_size=(spec.rgb_width, spec.rgb_height), rgb_fps=spec.rgb_fps, rgb_to_thermal=scene.h,
        source=(f"gate-edge synth_rgb, seed {spec.seed}: {summary.people} people "
                f"({summary.fevers} fever, {summary.pairs} pairs), {len(subjects)} identities "
                f"from {spec.faces_dir or 'matplotlib grace_hopper.jpg'}"))
    truth = _Truth(scene, the_cast, spec.grant_by_face, held)
    with writer:
        _render(writer, scene, timeline, truth, (rgb_t, thermal_t), phase_rad, noise_rng, progress)
        synth = {"epoch_ns": EPOCH_NS, "fever_threshold_c": FEVER_THRESHOLD_C,
                 "rgb": {"frames": n_rgb, "fps": spec.rgb_fps},
                 "thermal": {"frames": n_thermal, "fps": spec.thermal_fps, "offset_ns": offset_ns},
                 "jitter_ns": JITTER_NS,
                 "drift": {"amplitude_c": spec.drift_c, "period_frames": n_thermal,
                           "phase_rad": phase_rad},
                 "rgb_to_thermal": scene.h.tolist(), "subjects": list(subjects),
                 "library": [c.subject for c in crops]}
        writer.write_labels({"people": truth.people(thermal_t), "scene": _scene_dict(spec),
                             "synth": synth, **_identity_labels(spec, the_cast)})
    if the_cast is not None:
        _write_json(out_dir / ENROLL_PLAN, enroll_plan(the_cast, crops))
    return summary


def _scene_dict(spec: RgbSceneSpec) -> dict[str, Any]:
    return {**asdict(spec), "faces_dir": str(spec.faces_dir) if spec.faces_dir else None,
            "passes": list(spec.passes)}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _cast(spec: RgbSceneSpec, crops: list[HeadCrop], rng: np.random.Generator) -> Cast | None:
    if not spec.with_roles:
        return None
    counts = pp.role_counts(spec.passes)
    counts[RESIDENT] += spec.residents
    counts[QUARANTINED] += spec.quarantined
    counts[STRANGER] += spec.strangers
    return cast(counts, crops, spec.enroll_min_eye_px, spec.quarantine_until, rng)


def _passes(spec: RgbSceneSpec, the_cast: Cast | None, scene: Scene, timeline: Timeline,
            issue: pp.PassIssuer | None, rng: np.random.Generator) -> PassScene | None:
    """The pass cases given to the cast, their codes from the caller, and how each is held."""
    if spec.passes and issue is None:
        raise ConfigError("synth: pass cases need an issuer (payload and QR of each pass)")
    if not spec.passes or the_cast is None or issue is None:
        return None
    plans = pp.assign(spec.passes, the_cast, spec.gate, rng)
    codes = {n: issue(p) for n, p in plans.items() if p.pass_id is not None}
    return PassScene(scene, timeline, plans, codes, rng)


def _identity_labels(spec: RgbSceneSpec, the_cast: Cast | None) -> dict[str, Any]:
    """labels.json's top-level `identity` (identity scenes only)."""
    if the_cast is None:
        return {}
    return {"identity": {
        "enroll_plan": ENROLL_PLAN, "lists": "lists", "grant_residents_by_face": spec.grant_by_face,
        "quarantine_until": the_cast.quarantine_until,
        "roles": {role: sum(m.role == role for m in the_cast.members)
                  for role in (RESIDENT, QUARANTINED, STRANGER, VISITOR)},
        **({"passes": {"plan": PASS_PLAN, "gate": spec.gate, "cases": list(spec.passes)}}
           if spec.passes else {})}}


def _render(
    writer: RecordingWriter, scene: Scene, timeline: Timeline, truth: _Truth,
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
    field = np.empty((spec.thermal_height * spec.supersample,
                      spec.thermal_width * spec.supersample), np.float32)
    noise = np.empty_like(thermal)
    total, i, k = n_rgb + n_thermal, 0, 0
    while i < n_rgb or k < n_thermal:
        if k >= n_thermal or (i < n_rgb and rgb_t[i] <= thermal_t[k]):
            poses = timeline.poses((rgb_t[i] - EPOCH_NS) / 1e9)
            scene.render_rgb(rgb, poses)
            if truth.passes is not None:
                truth.passes.draw_rgb(rgb, poses, (rgb_t[i] - EPOCH_NS) / 1e9, rgb_t[i])
            truth.add(rgb_t[i], poses)
            writer.add_rgb(rgb_t[i], rgb)
            i += 1
        else:
            t_s = (thermal_t[k] - EPOCH_NS) / 1e9
            poses = timeline.poses(t_s)
            scene.render_field(field, poses)
            if truth.passes is not None:
                truth.passes.paint_thermal(field, poses, t_s)
            scene.to_sensor(field, thermal)
            thermal += drift_offset_c(k, n_thermal, spec.drift_c, phase_rad)
            if spec.noise_c > 0:
                noise_rng.standard_normal(dtype=np.float32, out=noise)
                noise *= spec.noise_c
                thermal += noise
            writer.add_thermal(thermal_t[k], counts_from_c(thermal, "centikelvin"))
            k += 1
        if progress is not None:
            progress(i + k, total)
