"""The thermal-only simulator's renderer: the upright scene as a focal-plane temperature field
on the supersampled grid (edge.sim.optics), then blurred and integrated into sensor pixels.

Coordinates are sensor pixel centres of the upright scene; the field's sub-pixels carry their
own sensor-pixel coordinates, so every shape below is drawn in sensor pixels whatever the
supersampling.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from edge.sim.optics import add_hotspots, reference_radius_px, sub_coords, sub_range, to_sensor
from edge.sim.spec import F32, HEAD_ASPECT, SceneSpec, _Person, _Pose, drift_offset_c

Window = tuple[tuple[slice, slice], F32, F32]


class Canvas:
    """The supersampled focal-plane field of one upright frame and its coordinates."""

    def __init__(self, spec: SceneSpec) -> None:
        self.spec, self.s = spec, spec.supersample
        self.xs = sub_coords(spec.width, self.s)[None, :]
        self.ys = sub_coords(spec.height, self.s)[:, None]
        self.field = np.empty((spec.height * self.s, spec.width * self.s), np.float32)

    def window(self, x_lo: float, x_hi: float, y_lo: float, y_hi: float) -> Window | None:
        """Sub-pixels with centres in [x_lo, x_hi] x [y_lo, y_hi] (sensor px), clipped, with
        their (1, n) x and (m, 1) y coordinates for broadcasting."""
        a, b = sub_range(x_lo, x_hi, self.spec.width, self.s)
        c, d = sub_range(y_lo, y_hi, self.spec.height, self.s)
        if a >= b or c >= d:
            return None
        return (slice(c, d), slice(a, b)), self.xs[:, a:b], self.ys[c:d, :]


def eye_y(pose: _Pose) -> float:
    return pose.cy - 0.02 * HEAD_ASPECT * pose.head_px


EYE_HALF_SPAN = 0.22  # eye centres at cx -+ this share of the head width (IPD ~ 0.44 w)


def canthus_spots(pose: _Pose, person: _Person, spec: SceneSpec
                  ) -> list[tuple[float, float, float, float]]:
    """(x, y, sigma_px, peak_c) of the two inner canthi (left, right) of a posed head: the
    anatomical inner eye corners (a person's ICD / IPD ratio, edge.sim.optics), shifted by the
    person's sub-pixel offset; sizes and offsets scale with the head (fixed physical size)."""
    k = pose.head_px / pose.near_px
    a = person.anatomy
    inner = EYE_HALF_SPAN * pose.head_px * (1.0 - 2.0 * a.fraction)  # canthus to face midline
    sigma = spec.hotspot_sigma_px * k
    return [(pose.cx + side * inner + dx * k, eye_y(pose) + dy * k, sigma,
             person.skin_c - below)
            for side, (dx, dy), below in zip((-1.0, 1.0), a.offsets, a.below_c, strict=True)]


def paint_body(canvas: Canvas, pose: _Pose, person: _Person) -> None:
    w, cx, cy = pose.head_px, pose.cx, pose.cy
    h = HEAD_ASPECT * w
    win = canvas.window(cx - 1.4 * w, cx + 1.4 * w, cy + 0.3 * h, canvas.spec.height)
    if win is None:
        return
    (rows, cols), xs, ys = win
    region = canvas.field[rows, cols]
    dx = np.abs(xs - cx)
    below = ys - (cy + 0.5 * h + 0.25 * w)
    # Shoulders widen below the neck; clothes cool with distance from the body core.
    torso = (below >= 0) & (dx <= np.minimum(1.35 * w, 0.45 * w + 1.2 * below))
    clothes = person.clothes_c - 0.6 * np.clip(below / (3 * w), 0.0, 1.0)
    neck = (below < 0) & (dx <= 0.22 * w)
    region[...] = np.where(torso, clothes, np.where(neck, person.face_c - 0.5, region))


def paint_head(canvas: Canvas, pose: _Pose, person: _Person) -> None:
    w, cx, cy = pose.head_px, pose.cx, pose.cy
    a, b = w / 2, HEAD_ASPECT * w / 2
    win = canvas.window(cx - a - 1, cx + a + 1, cy - b - 1, cy + b + 1)
    if win is None:
        return
    (rows, cols), xs, ys = win
    region = canvas.field[rows, cols]
    rho2 = ((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2
    # The outline is sharp (anti-aliased over one sub-pixel); the PSF and the pixels blur it.
    alpha = np.clip((1.0 - np.sqrt(rho2)) * a * canvas.s + 0.5, 0.0, 1.0)
    # Skin seen obliquely at the rim reads cooler (emissivity falls with viewing angle).
    temp = person.face_c - 0.9 * np.minimum(rho2, 1.0)
    hair = np.clip(((cy - 0.44 * b) - ys) / (0.2 * b), 0.0, 1.0)
    temp = temp + (person.hair_c - temp) * hair
    y_eye = eye_y(pose)
    for side in (-1.0, 1.0):
        eye = (xs - (cx + side * EYE_HALF_SPAN * w)) ** 2 + (ys - y_eye) ** 2 <= (0.08 * w) ** 2
        temp = np.where(eye, person.face_c - 0.6, temp)
    nose = (xs - cx) ** 2 + (ys - (cy + 0.25 * b)) ** 2 <= (0.07 * w) ** 2
    temp = np.where(nose, person.face_c - 1.0, temp)
    region += (temp - region) * alpha
    add_hotspots(region, xs, ys, canthus_spots(pose, person, canvas.spec))


def background(canvas: Canvas) -> F32:
    """Floor cooler than ceiling, one side (a doorway, a sunny wall) slightly warmer, and the
    reference blackbody disc, on the supersampled grid."""
    spec = canvas.spec
    ys = canvas.ys / np.float32(spec.height - 1) - np.float32(0.5)
    xs = canvas.xs / np.float32(spec.width - 1) - np.float32(0.5)
    return np.asarray(spec.ambient_c - 0.6 * ys + 0.25 * xs, dtype=np.float32)


def reference_window(canvas: Canvas) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The blackbody disc (in front of everything): sub-pixel window and its mask there."""
    spec = canvas.spec
    if not spec.reference:
        return None
    x, y, w, h = spec.upright_reference_roi()
    cx, cy = x + (w - 1) / 2, y + (h - 1) / 2
    r = reference_radius_px(w, h, spec.psf_sigma_px)
    win = canvas.window(cx - r, cx + r, cy - r, cy + r)
    if win is None:
        return None
    slices, xs, ys = win
    return slices, np.asarray((xs - cx) ** 2 + (ys - cy) ** 2 <= r * r)


def render_field(canvas: Canvas, base: F32, people: list[_Person], poses: list[_Pose],
                 disc: tuple[tuple[slice, slice], np.ndarray] | None) -> F32:
    """One frame's focal-plane field (drift- and noise-free) into canvas.field."""
    np.copyto(canvas.field, base)
    # Bodies first: a partner's shoulders must never cover a head.
    for pose in poses:
        paint_body(canvas, pose, people[pose.person])
    for pose in poses:
        paint_head(canvas, pose, people[pose.person])
    if disc is not None:
        canvas.field[disc[0]][disc[1]] = canvas.spec.reference_temp_c
    return canvas.field


def render_frames(
    people: list[_Person], frames: list[list[_Pose]], spec: SceneSpec, phase_rad: float,
    noise_rng: np.random.Generator,
) -> Iterator[F32]:
    """Upright (height, width) float32 degC sensor frames; the same buffer is reused."""
    canvas = Canvas(spec)
    base, disc = background(canvas), reference_window(canvas)
    frame = np.empty((spec.height, spec.width), dtype=np.float32)
    noise = np.empty_like(frame)
    for i, poses in enumerate(frames):
        field = render_field(canvas, base, people, poses, disc)
        to_sensor(field, spec.supersample, spec.psf_sigma_px, frame)
        frame += drift_offset_c(i, len(frames), spec.drift_c, phase_rad)
        if spec.noise_c > 0:
            noise_rng.standard_normal(dtype=np.float32, out=noise)
            noise *= spec.noise_c
            frame += noise
        yield frame

