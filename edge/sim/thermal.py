"""Synthetic thermal-only gate scenes with ground truth (`gate-edge synth`).

People walk up to the camera alone or in side-by-side pairs, stay close for a moment, then
leave; a few passers cross the view too far away to be measured. Every person's two inner
eye corners (canthi) are painted at exactly `skin_from_body_c(temp_c, ambient_c, "face-max")`,
the inverse of the map the thermal-only pipeline applies to its reading (the hottest 3x3 patch
of the face, site "face-max"), and nothing else on the face comes within 1.2 degC of them, so
a correct pipeline recovers the true body temperature up to sensor noise, quantisation and the
drift it is meant to remove with the reference disc.

Coordinates are pixel centres of the upright scene; frames are stored rotated by
`SceneSpec.rotate` (np.rot90, counter-clockwise, as a camera mounted turned clockwise by
that angle sees it), and every coordinate written to labels.json / meta.json is in stored
pixels. Sizes are given for a 160x120 sensor and scaled by min(width/160, height/120).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.core.bodytemp import skin_from_body_c
from edge.core.types import ReferenceSpec
from edge.sim.spec import (  # noqa: F401  (re-exported: the public synth API)
    EPOCH_NS,
    F32,
    FACE_BELOW_CANTHUS_C,
    FAR_HEAD_PX,
    FEVER_BODY_C,
    FEVER_THRESHOLD_C,
    HEAD_ASPECT,
    MEASURABLE_HEAD_PX,
    NEAR_HEAD_PX,
    NEAR_S,
    NORMAL_BODY_C,
    PASSER_HEAD_PX,
    SKIN_SITE,
    Box,
    SceneSpec,
    SynthSummary,
    _Person,
    _Pose,
    drift_offset_c,
    rotate_box,
    rotate_point,
)
from edge.sources.writer import RecordingWriter, counts_from_c

__all__ = [
    "EPOCH_NS",
    "SceneSpec",
    "SynthSummary",
    "drift_offset_c",
    "rotate_box",
    "rotate_point",
    "synthesize",
]


def _plan_people(
    spec: SceneSpec, rng: np.random.Generator
) -> tuple[list[_Person], list[list[int]]]:
    """People in order of appearance, and the groups (lists of person indices) they come in."""
    kinds = ["pair"] * spec.n_pairs + ["single"] * (spec.people - 2 * spec.n_pairs)
    kinds += ["passer"] * spec.passers
    kinds = [kinds[i] for i in rng.permutation(len(kinds))]
    sizes = [2 if kind == "pair" else 1 for kind in kinds]
    starts = np.cumsum([0, *sizes])
    slots = [int(starts[g]) + m for g, kind in enumerate(kinds) if kind != "passer"
             for m in range(sizes[g])]
    # A fever inside a pair is the case most likely to be mis-attributed, so force some.
    pair_groups = [g for g, kind in enumerate(kinds) if kind == "pair"]
    n_pair_fevers = min(spec.n_fevers, max(1, len(pair_groups) // 2)) if pair_groups else 0
    chosen = rng.choice(len(pair_groups), size=n_pair_fevers, replace=False)
    fevers = {int(starts[pair_groups[c]]) + int(rng.integers(2)) for c in chosen}
    rest = [s for s in slots if s not in fevers]
    fevers |= {int(s) for s in rng.choice(rest, size=spec.n_fevers - len(fevers), replace=False)}
    people: list[_Person] = []
    for g, kind in enumerate(kinds):
        exit_kind = "across" if kind == "passer" else str(rng.choice(["sideways", "retreat"],
                                                                     p=[0.7, 0.3]))
        for _ in range(sizes[g]):
            fever = len(people) in fevers
            temp_c = round(float(rng.uniform(*(FEVER_BODY_C if fever else NORMAL_BODY_C))), 2)
            skin_c = float(skin_from_body_c(temp_c, spec.ambient_c, site=SKIN_SITE))
            people.append(_Person(
                label=f"p{len(people) + 1}", temp_c=temp_c, skin_c=skin_c,
                face_c=skin_c - float(rng.uniform(*FACE_BELOW_CANTHUS_C)),
                hair_c=float(rng.uniform(29.5, 31.0)), clothes_c=float(rng.uniform(28.0, 30.0)),
                group=f"g{g + 1}", paired=kind == "pair", passer=kind == "passer",
                exit=exit_kind))
    groups = [list(range(int(starts[g]), int(starts[g + 1]))) for g in range(len(kinds))]
    return people, groups


def _fully_inside(pose: _Pose, spec: SceneSpec) -> bool:
    half_w, half_h = pose.head_px / 2, pose.head_px * HEAD_ASPECT / 2
    return (pose.cx - half_w >= 0 and pose.cx + half_w <= spec.width - 1
            and pose.cy - half_h >= 0 and pose.cy + half_h <= spec.height - 1)


def _visible(pose: _Pose, spec: SceneSpec) -> bool:
    return pose.cx + pose.head_px / 2 > -0.5 and pose.cx - pose.head_px / 2 < spec.width - 0.5


def _group_frames(
    members: list[int], retreat: bool, spec: SceneSpec, rng: np.random.Generator
) -> list[list[_Pose]]:
    """Approach (head width grows as 1/distance), dwell near the camera, exit: poses per frame."""
    s, fps = spec.scale, spec.fps
    near_px = [float(rng.uniform(*NEAR_HEAD_PX)) * s for _ in members]
    # Centre to centre at the gate: one head plus a gap of at least one head width.
    pitch_px = max(near_px) * (1.0 + float(rng.uniform(1.05, 1.2)))
    offsets = [(i - (len(members) - 1) / 2) * pitch_px for i in range(len(members))]
    span = max(abs(o) for o in offsets) + max(near_px) / 2 + 2 * s
    x0 = float(np.clip(spec.width / 2 + rng.uniform(-0.05, 0.05) * spec.width,
                       span, spec.width - 1 - span))
    direction = float(rng.choice([-1.0, 1.0]))
    sway = float(rng.uniform(0, 2 * math.pi))
    n_approach = round(fps * rng.uniform(2.4, 3.0))
    n_dwell = round(fps * rng.uniform(1.0, 1.5))
    n_exit = max(2, round(fps * (rng.uniform(1.2, 1.8) if retreat else rng.uniform(0.6, 0.9))))

    def poses(z: float, dx: float, wobble: float) -> list[_Pose]:
        out = []
        for m, near, off in zip(members, near_px, offsets, strict=True):
            w = 1.0 / ((1.0 - z) / (FAR_HEAD_PX * s) + z / near)
            cy = spec.height * (0.37 + 0.05 * z)
            out.append(_Pose(m, x0 + dx + off * w / near, cy, w * wobble))
        return out

    frames = [poses((k + 1) / n_approach, 0.0, 1.0) for k in range(n_approach)]
    need = math.ceil(NEAR_S * fps)
    for k in range(round(10 * fps)):
        if k >= n_dwell and _near_count(frames, spec) >= need:
            break
        phase = sway + 2 * math.pi * k / (1.3 * fps)
        frames.append(poses(1.0, 0.6 * s * math.sin(phase), 1.0 + 0.02 * math.cos(phase)))
    travel_px = spec.width / 2 + span + max(near_px)
    for k in range(1, 10 * n_exit):
        u = k / n_exit
        # Leaving sideways passes the camera (head grows a little); retreating shrinks it.
        z, wobble = (max(1.0 - u, 0.0), 1.0) if retreat else (1.0, 1.0 + 0.02 * min(u, 1.0))
        frame = poses(z, direction * travel_px * u, wobble)
        if not any(_visible(p, spec) for p in frame):
            break
        frames.append(frame)
    return frames


def _near_count(frames: list[list[_Pose]], spec: SceneSpec) -> int:
    limit = MEASURABLE_HEAD_PX * spec.scale
    return sum(all(p.head_px >= limit and _fully_inside(p, spec) for p in f) for f in frames)


def _passer_frames(member: int, spec: SceneSpec, rng: np.random.Generator) -> list[list[_Pose]]:
    """Crosses the whole view at a distance: never big enough to be measured."""
    w = float(rng.uniform(*PASSER_HEAD_PX)) * spec.scale
    n = round(spec.fps * rng.uniform(2.5, 3.5))
    leftward = bool(rng.random() < 0.5)
    frames = []
    for k in range(n + 1):
        x = -w + (spec.width - 1 + 2 * w) * k / n
        pose = _Pose(member, spec.width - 1 - x if leftward else x, spec.height * 0.36, w)
        if _visible(pose, spec):
            frames.append([pose])
    return frames


def _plan(spec: SceneSpec, rng: np.random.Generator) -> tuple[list[_Person], list[list[_Pose]]]:
    """Whole timeline: one group in view at a time, a few empty frames between groups."""
    people, groups = _plan_people(spec, rng)
    lead = max(6, round(spec.fps * 0.7))  # lets a reference tracker settle before anyone comes
    frames: list[list[_Pose]] = [[] for _ in range(lead)]
    for members in groups:
        first = people[members[0]]
        if first.passer:
            frames += _passer_frames(members[0], spec, rng)
        else:
            frames += _group_frames(members, first.exit == "retreat", spec, rng)
        frames += [[] for _ in range(int(rng.integers(3, 7)))]
    return people, frames + [[] for _ in range(lead)]


def _window(
    spec: SceneSpec, x_lo: float, x_hi: float, y_lo: float, y_hi: float
) -> tuple[tuple[slice, slice], F32, F32] | None:
    """Clipped pixel window with (1, n) x and (m, 1) y centre coordinates for broadcasting."""
    x0, x1 = max(0, math.floor(x_lo)), min(spec.width, math.ceil(x_hi) + 1)
    y0, y1 = max(0, math.floor(y_lo)), min(spec.height, math.ceil(y_hi) + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    xs = np.arange(x0, x1, dtype=np.float32)[None, :]
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    return (slice(y0, y1), slice(x0, x1)), xs, ys


def _eye_y(pose: _Pose) -> float:
    return pose.cy - 0.02 * HEAD_ASPECT * pose.head_px


def _canthus_centres(pose: _Pose) -> list[tuple[int, int]]:
    # Integer centres: with radius >= 1.5 a whole 3x3 block is then always at skin_c.
    dx = 0.11 * pose.head_px
    return [(round(pose.cx - dx), round(_eye_y(pose))), (round(pose.cx + dx), round(_eye_y(pose)))]


def _paint_body(frame: F32, pose: _Pose, person: _Person, spec: SceneSpec) -> None:
    w, cx, cy = pose.head_px, pose.cx, pose.cy
    h = HEAD_ASPECT * w
    win = _window(spec, cx - 1.4 * w, cx + 1.4 * w, cy + 0.3 * h, spec.height)
    if win is None:
        return
    (rows, cols), xs, ys = win
    region = frame[rows, cols]
    dx = np.abs(xs - cx)
    below = ys - (cy + 0.5 * h + 0.25 * w)
    # Shoulders widen below the neck; clothes cool with distance from the body core.
    torso = (below >= 0) & (dx <= np.minimum(1.35 * w, 0.45 * w + 1.2 * below))
    clothes = person.clothes_c - 0.6 * np.clip(below / (3 * w), 0.0, 1.0)
    neck = (below < 0) & (dx <= 0.22 * w)
    region[...] = np.where(torso, clothes, np.where(neck, person.face_c - 0.5, region))


def _paint_head(frame: F32, pose: _Pose, person: _Person, spec: SceneSpec) -> None:
    w, cx, cy = pose.head_px, pose.cx, pose.cy
    a, b = w / 2, HEAD_ASPECT * w / 2
    win = _window(spec, cx - a - 1, cx + a + 1, cy - b - 1, cy + b + 1)
    if win is None:
        return
    (rows, cols), xs, ys = win
    region = frame[rows, cols]
    rho2 = ((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2
    # A ~1 px anti-aliased rim, so a growing head changes smoothly, not in pixel steps.
    alpha = np.clip((1.0 - np.sqrt(rho2)) * a + 0.5, 0.0, 1.0)
    # Skin seen obliquely at the rim reads cooler (emissivity falls with viewing angle).
    temp = person.face_c - 0.9 * np.minimum(rho2, 1.0)
    hair = np.clip(((cy - 0.44 * b) - ys) / (0.2 * b), 0.0, 1.0)
    temp = temp + (person.hair_c - temp) * hair
    eye_y = _eye_y(pose)
    for side in (-1.0, 1.0):
        eye = (xs - (cx + side * 0.22 * w)) ** 2 + (ys - eye_y) ** 2 <= (0.08 * w) ** 2
        temp = np.where(eye, person.face_c - 0.6, temp)
    nose = (xs - cx) ** 2 + (ys - (cy + 0.25 * b)) ** 2 <= (0.07 * w) ** 2
    temp = np.where(nose, person.face_c - 1.0, temp)
    region += (temp - region) * alpha
    r = max(1.5, w / 12)
    for ccx, ccy in _canthus_centres(pose):
        region[(xs - ccx) ** 2 + (ys - ccy) ** 2 <= r * r] = person.skin_c


def _background(spec: SceneSpec) -> F32:
    ys = np.linspace(-0.5, 0.5, spec.height, dtype=np.float32)[:, None]
    xs = np.linspace(-0.5, 0.5, spec.width, dtype=np.float32)[None, :]
    # Floor cooler than ceiling, and one side (a doorway, a sunny wall) slightly warmer.
    return np.asarray(spec.ambient_c - 0.6 * ys + 0.25 * xs, dtype=np.float32)


def _reference_mask(spec: SceneSpec) -> npt.NDArray[np.bool_] | None:
    """The blackbody disc: it covers the whole ROI, so the ROI mean is the disc temperature."""
    if not spec.reference:
        return None
    x, y, w, h = spec.upright_reference_roi()
    cx, cy, r = x + (w - 1) / 2, y + (h - 1) / 2, 0.75 * max(w, h)
    yy, xx = np.ogrid[: spec.height, : spec.width]
    return np.asarray((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r)


def _t_ns(index: int, fps: float) -> int:
    return EPOCH_NS + round(index * 1e9 / fps)


def _truth(
    people: list[_Person], frames: list[list[_Pose]], spec: SceneSpec
) -> list[dict[str, Any]]:
    """labels.json "people": docs/recording-format.md keys, then extras in stored pixels."""
    k, limit = spec.rotate // 90, MEASURABLE_HEAD_PX * spec.scale
    seen: dict[int, list[int]] = {}
    best: dict[int, tuple[bool, float, int, _Pose]] = {}
    for i, poses in enumerate(frames):
        for p in (p for p in poses if _visible(p, spec)):
            seen.setdefault(p.person, []).append(i)
            key = (_fully_inside(p, spec), p.head_px, i, p)
            best[p.person] = max(best.get(p.person, key), key, key=lambda t: t[:2])
    out = []
    for n, person in enumerate(people):
        _, _, i, pose = best[n]
        near = sum(p.person == n and p.head_px >= limit and _fully_inside(p, spec)
                   for poses in frames for p in poses)
        half_w, half_h = pose.head_px / 2, HEAD_ASPECT * pose.head_px / 2
        x0, y0 = max(0, math.floor(pose.cx - half_w)), max(0, math.floor(pose.cy - half_h))
        x1 = min(spec.width - 1, math.ceil(pose.cx + half_w))
        y1 = min(spec.height - 1, math.ceil(pose.cy + half_h))
        fever = person.temp_c >= FEVER_THRESHOLD_C
        out.append({
            "label": person.label, "enter_ns": _t_ns(seen[n][0], spec.fps),
            "exit_ns": _t_ns(seen[n][-1], spec.fps), "temp_c": person.temp_c, "fever": fever,
            "subject": None, "pass": None,
            "expect": [] if person.passer else ["fever" if fever else "screening"],
            "group": person.group, "pair": person.group if person.paired else None,
            "passer": person.passer, "exit": person.exit, "skin_c": round(person.skin_c, 4),
            "max_head_px": round(pose.head_px, 2), "near_frames": near,
            "closest_frame": i, "closest_ns": _t_ns(i, spec.fps),
            "head_box": list(rotate_box((x0, y0, x1 - x0 + 1, y1 - y0 + 1), k,
                                        spec.width, spec.height)),
            "canthus_px": [list(rotate_point(x, y, k, spec.width, spec.height))
                           for x, y in _canthus_centres(pose)],
        })
    return out


def synthesize(
    out_dir: Path, spec: SceneSpec, progress: Callable[[int, int], None] | None = None
) -> SynthSummary:
    """Render `spec` into a recording v1 folder with labels.json; same spec -> same bytes.

    `progress(done, total)` is called after each frame is written.
    """
    layout_seq, noise_seq = np.random.SeedSequence(spec.seed).spawn(2)
    # Separate streams: the noise level never changes where people are or who has a fever.
    rng, noise_rng = np.random.default_rng(layout_seq), np.random.default_rng(noise_seq)
    people, frames = _plan(spec, rng)
    phase_rad = float(rng.uniform(0.0, 2 * math.pi))
    n, k = len(frames), spec.rotate // 90
    measured = [p for p in people if not p.passer]
    summary = SynthSummary(
        people=len(measured), passers=len(people) - len(measured),
        fevers=sum(p.temp_c >= FEVER_THRESHOLD_C for p in measured),
        pairs=len({p.group for p in people if p.paired}), frames=n, duration_s=n / spec.fps)
    stored_w, stored_h = (spec.height, spec.width) if k % 2 else (spec.width, spec.height)
    reference = ReferenceSpec(
        roi=rotate_box(spec.upright_reference_roi(), k, spec.width, spec.height),
        temp_c=spec.reference_temp_c) if spec.reference else None
    writer = RecordingWriter(
        out_dir, width=stored_w, height=stored_h, encoding=spec.encoding,
        linear_gain=spec.linear_gain, linear_offset_c=spec.linear_offset_c,
        reference=reference, ambient_c=spec.ambient_c,
        source=(f"gate-edge synth, seed {spec.seed}: {summary.people} people "
                f"({summary.fevers} fever, {summary.pairs} pairs), {summary.passers} passers; "
                f"stored rotated {spec.rotate} deg counter-clockwise (np.rot90)"))
    labels = {"people": _truth(people, frames, spec), "scene": asdict(spec),
              "synth": {"epoch_ns": EPOCH_NS, "frames": n, "fps": spec.fps,
                        "fever_threshold_c": FEVER_THRESHOLD_C,
                        "drift": {"amplitude_c": spec.drift_c, "period_frames": n,
                                  "phase_rad": phase_rad},
                        "upright_size": [spec.width, spec.height], "rotate_k": k}}
    with writer:
        writer.write_labels(labels)
        for i, frame_c in enumerate(_render_frames(people, frames, spec, phase_rad, noise_rng)):
            counts = counts_from_c(frame_c, spec.encoding, spec.linear_gain, spec.linear_offset_c)
            writer.add_thermal(_t_ns(i, spec.fps), np.rot90(counts, k))
            if progress is not None:
                progress(i + 1, n)
    return summary


def _render_frames(
    people: list[_Person], frames: list[list[_Pose]], spec: SceneSpec, phase_rad: float,
    noise_rng: np.random.Generator,
) -> Iterator[F32]:
    """Upright (height, width) float32 degC frames; the same buffer is reused for each."""
    background, ref_mask = _background(spec), _reference_mask(spec)
    frame = np.empty((spec.height, spec.width), dtype=np.float32)
    noise = np.empty_like(frame)
    for i, poses in enumerate(frames):
        np.copyto(frame, background)
        # Bodies first: a partner's shoulders must never cover a head.
        for pose in poses:
            _paint_body(frame, pose, people[pose.person], spec)
        for pose in poses:
            _paint_head(frame, pose, people[pose.person], spec)
        if ref_mask is not None:
            frame[ref_mask] = spec.reference_temp_c
        frame += drift_offset_c(i, len(frames), spec.drift_c, phase_rad)
        if spec.noise_c > 0:
            noise_rng.standard_normal(dtype=np.float32, out=noise)
            noise *= spec.noise_c
            frame += noise
        yield frame
