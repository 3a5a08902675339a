"""Synthetic thermal-only gate scenes with ground truth (`gate-edge synth`).

People walk up to the camera alone or in side-by-side pairs, stay close for a moment, then
leave; a few passers cross the view too far away to be measured. The frame is rendered
physically (edge.sim.optics, edge.sim.thermal_paint): a focal-plane temperature field on a
supersampled grid, blurred by the lens PSF, integrated over each sensor pixel, then sensor
noise, drift and quantisation. Each person's two inner eye corners (canthi) are Gaussian hot
spots (`hotspot_sigma_px`) at the anatomical inner eye corners with a sub-pixel offset; the
warmer one's continuous peak is exactly `skin_from_body_c(temp_c, ambient_c, "face-max")`
(labels' `skin_c`), the inverse of the map the thermal-only pipeline applies to its reading of
the face's hottest spot (site "face-max"), on skin 0.7-1.8 degC cooler. What a pixel shows of
that peak depends on the spot's size, the PSF and the pixel phase: a pipeline that reads the
peak of a small hot spot correctly is what this simulator is for.

Coordinates are pixel centres of the upright scene; frames are stored rotated by
`SceneSpec.rotate` (np.rot90, counter-clockwise, as a camera mounted turned clockwise by
that angle sees it), and every coordinate written to labels.json / meta.json is in stored
pixels. Sizes are given for a 160x120 sensor and scaled by min(width/160, height/120).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from edge.core.bodytemp import skin_from_body_c
from edge.core.types import ReferenceSpec
from edge.sim.optics import CANTHUS_EXCESS_C, draw_anatomy
from edge.sim.spec import (  # noqa: F401  (re-exported: the public synth API)
    EPOCH_NS,
    F32,
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
    rotate_xy,
)
from edge.sim.thermal_paint import Canvas, background, canthus_spots, reference_window
from edge.sim.thermal_paint import render_field as _render_field
from edge.sim.thermal_paint import render_frames as _render_frames
from edge.sources.writer import RecordingWriter, counts_from_c

__all__ = [
    "EPOCH_NS",
    "SceneSpec",
    "SynthSummary",
    "drift_offset_c",
    "render_field",
    "rotate_box",
    "rotate_point",
    "rotate_xy",
    "synthesize",
]


def _plan_people(
    spec: SceneSpec, rng: np.random.Generator, anatomy_rng: np.random.Generator
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
                face_c=skin_c - float(rng.uniform(*CANTHUS_EXCESS_C)),
                hair_c=float(rng.uniform(29.5, 31.0)), clothes_c=float(rng.uniform(28.0, 30.0)),
                group=f"g{g + 1}", paired=kind == "pair", passer=kind == "passer",
                exit=exit_kind, anatomy=draw_anatomy(anatomy_rng)))
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
    near_px = [float(rng.uniform(*spec.near_head_px)) for _ in members]
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
            w = 1.0 / ((1.0 - z) / spec.far_head_px + z / near)
            cy = spec.height * (0.37 + 0.05 * z)
            out.append(_Pose(m, x0 + dx + off * w / near, cy, w * wobble, near))
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
    limit = spec.measurable_head_px
    return sum(all(p.head_px >= limit and _fully_inside(p, spec) for p in f) for f in frames)


def _passer_frames(member: int, spec: SceneSpec, rng: np.random.Generator) -> list[list[_Pose]]:
    """Crosses the whole view at a distance: never big enough to be measured."""
    w = float(rng.uniform(*spec.passer_head_px))
    n = round(spec.fps * rng.uniform(2.5, 3.5))
    leftward = bool(rng.random() < 0.5)
    frames = []
    for k in range(n + 1):
        x = -w + (spec.width - 1 + 2 * w) * k / n
        pose = _Pose(member, spec.width - 1 - x if leftward else x, spec.height * 0.36, w,
                     float(np.mean(spec.near_head_px)))
        if _visible(pose, spec):
            frames.append([pose])
    return frames


def _plan(spec: SceneSpec, rng: np.random.Generator, anatomy_rng: np.random.Generator
          ) -> tuple[list[_Person], list[list[_Pose]]]:
    """Whole timeline: one group in view at a time, a few empty frames between groups."""
    people, groups = _plan_people(spec, rng, anatomy_rng)
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


def _t_ns(index: int, fps: float) -> int:
    return EPOCH_NS + round(index * 1e9 / fps)


def _truth(
    people: list[_Person], frames: list[list[_Pose]], spec: SceneSpec
) -> list[dict[str, Any]]:
    """labels.json "people": docs/recording-format.md keys, then extras in stored pixels."""
    k, limit = spec.rotate // 90, spec.measurable_head_px
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
            **_canthus_truth(pose, person, spec),
        })
    return out


def _canthus_truth(pose: _Pose, person: _Person, spec: SceneSpec) -> dict[str, Any]:
    """Where the hot spots are at the closest frame (stored pixels, continuous), how big and how
    warm: `canthus_px` (left, right), `canthus_c` (each spot's peak; the warmer is `skin_c`)."""
    spots = canthus_spots(pose, person, spec)
    k = spec.rotate // 90
    return {
        "canthus_px": [[round(v, 3) for v in rotate_xy(x, y, k, spec.width, spec.height)]
                       for x, y, _, _ in spots],
        "canthus_c": [round(peak, 4) for _, _, _, peak in spots],
        "hotspot_sigma_px": round(spots[0][2], 4),
        "canthus_excess_c": round(person.skin_c - person.face_c, 4),
        "canthus_fraction": round(person.anatomy.fraction, 4),
    }


def _rngs(spec: SceneSpec) -> tuple[np.random.Generator, ...]:
    """Layout, noise and anatomy streams: the noise level never changes where people are or
    who has a fever, and the anatomy never changes the plan."""
    return tuple(np.random.default_rng(seq) for seq in np.random.SeedSequence(spec.seed).spawn(3))


def render_field(spec: SceneSpec, index: int) -> tuple[F32, F32, F32]:
    """The upright focal-plane field of frame `index` (supersampled, before blur, pixel
    integration, drift and noise) and its (1, n) x and (m, 1) y sensor-pixel coordinates; for
    tests and figures. Same spec -> the scene synthesize() writes."""
    rng, _, anatomy_rng = _rngs(spec)
    people, frames = _plan(spec, rng, anatomy_rng)
    canvas = Canvas(spec)
    field = _render_field(canvas, background(canvas), people, frames[index],
                          reference_window(canvas))
    return field.copy(), canvas.xs, canvas.ys


def synthesize(
    out_dir: Path, spec: SceneSpec, progress: Callable[[int, int], None] | None = None
) -> SynthSummary:
    """Render `spec` into a recording v1 folder with labels.json; same spec -> same bytes.

    `progress(done, total)` is called after each frame is written.
    """
    rng, noise_rng, anatomy_rng = _rngs(spec)
    people, frames = _plan(spec, rng, anatomy_rng)
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

