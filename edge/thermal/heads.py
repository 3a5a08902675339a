"""Thermal-only head finding: warm, compact regions in an upright degC frame.

No learned model: a fever kiosk's thermal view is simple enough that thresholds relative to
the scene hold up (people are 4-8 degC above a room), and it keeps the Pi's CPU for the
hot loop. Steps, all whole-frame array operations:

1. person mask: warmer than the scene background (robust median) by `person_delta_c`
   and above an absolute skin floor;
2. face core: within `face_band_c` of the hottest pixel of its own person blob (faces are
   the warmest skin; clothes and hair fall out), closed to bridge glasses and eyebrows;
3. components of the core, gated by size, aspect ratio and fill (arms and hands are long
   or sparse; the reference disc is masked out).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.core.detections import Detections

Roi = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class HeadParams:
    person_delta_c: float = 2.5
    skin_floor_c: float = 30.0
    face_band_c: float = 2.5
    close_px: int = 5
    min_area_px: int = 30
    max_aspect: float = 2.5
    min_fill: float = 0.35
    min_face_px: int = 20  # face width in thermal pixels below which nobody is measured
    max_face_px: int = 90  # taller than this is a face merged with a body, not measured
    edge_margin_px: int = 1


@dataclass(frozen=True, slots=True)
class Heads:
    """Heads of one frame.

    detections: N heads in upright thermal pixels (whole-pixel boxes), with a `label_id`
        column naming each head's pixels in `labels`; `measurable` when big enough, upright
        and not cut by the frame edge, else `reasons` says why not.
    labels: (H, W) int32 label image, 0 = not a head.
    """

    detections: Detections
    labels: npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class HeadSizing:
    """The configured part of `HeadParams`; the rest scales with the frame (`head_params`).
    min_face_px, when set, overrides `min_face_frac` (a share of the frame's short side)."""

    person_delta_c: float = 2.5
    skin_floor_c: float = 30.0
    face_band_c: float = 2.5
    min_face_frac: float = 0.16
    min_face_px: int | None = None


# Detector sizes were tuned on 120-pixel-wide upright Lepton frames; they scale with area.
_TUNED_SHORT_SIDE_PX = 120


def head_params(sizing: HeadSizing, upright_hw: tuple[int, int]) -> HeadParams:
    short_px = min(upright_hw)
    scale = short_px / _TUNED_SHORT_SIDE_PX
    min_face_px = sizing.min_face_px or max(4, round(sizing.min_face_frac * short_px))
    return HeadParams(
        person_delta_c=sizing.person_delta_c,
        skin_floor_c=sizing.skin_floor_c,
        face_band_c=sizing.face_band_c,
        close_px=max(3, round(5 * scale) | 1),
        min_area_px=max(6, round(30 * scale * scale)),
        min_face_px=min_face_px,
        max_face_px=round(0.75 * short_px),
    )


def background_c(temp_c: npt.NDArray[np.float32]) -> float:
    """Scene background: median of a 4x subsample (people rarely fill half the view)."""
    return float(np.median(temp_c[::4, ::4]))


def _core_mask(
    temp_c: npt.NDArray[np.float32], params: HeadParams, exclude: Roi | None
) -> npt.NDArray[np.uint8]:
    floor_c = max(params.skin_floor_c, background_c(temp_c) + params.person_delta_c)
    person = (temp_c >= floor_c).astype(np.uint8)
    if exclude is not None:
        x, y, w, h = exclude
        m = 2  # the disc's blurred rim reads warm too
        person[max(0, y - m) : y + h + m, max(0, x - m) : x + w + m] = 0
    n, labels = cv2.connectedComponents(person, connectivity=8)
    on = labels > 0
    peak_c = np.full(n, -np.inf, dtype=np.float32)
    np.maximum.at(peak_c, labels[on].astype(np.intp), temp_c[on])
    core = on & (temp_c >= peak_c[labels] - params.face_band_c)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (params.close_px, params.close_px))
    closed = cv2.morphologyEx(core.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    # Closing must not grow the face onto background the person mask never had.
    return np.asarray(np.bitwise_and(closed, person), dtype=np.uint8)


def _group_stacked(stats: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """(N,) group index per box: pieces of one face stacked vertically share a group.

    Glasses and eyebrows are cold and cut a face core into a forehead and a lower face; both
    pieces overlap horizontally and sit less than a face width apart. N is the number of
    blobs in a frame (tens at most), so the (N, N) test is cheap. `stats` is (N, 5) int64
    x, y, w, h, area as OpenCV's connected components give them.
    """
    x0, y0 = stats[:, 0], stats[:, 1]
    x1, y1 = x0 + stats[:, 2], y0 + stats[:, 3]
    w, area = stats[:, 2], stats[:, 4]
    overlap_x = np.minimum(x1[:, None], x1[None, :]) - np.maximum(x0[:, None], x0[None, :])
    gap_y = np.maximum(y0[:, None], y0[None, :]) - np.minimum(y1[:, None], y1[None, :])
    # Both halves of a face are substantial; a chin or a collar fleck is not worth merging.
    near = (
        (overlap_x >= 0.5 * np.minimum(w[:, None], w[None, :]))
        & (gap_y <= 0.5 * np.minimum(w[:, None], w[None, :]))
        & (
            np.minimum(area[:, None], area[None, :])
            >= 0.25 * np.maximum(area[:, None], area[None, :])
        )
    )
    group = np.arange(len(stats))
    # Min-label propagation converges in at most N rounds; it is one vector op per round.
    for _ in range(len(stats)):
        nxt = np.where(near, group[None, :], len(stats)).min(axis=1)
        nxt = np.minimum(nxt, group)
        if np.array_equal(nxt, group):
            break
        group = nxt[nxt]
    return group


def find_heads(
    temp_c: npt.NDArray[np.float32], params: HeadParams, exclude: Roi | None = None
) -> Heads:
    """Heads in an upright (H, W) float32 degC frame; `exclude` masks the reference ROI."""
    core = _core_mask(temp_c, params, exclude)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=8)
    stats = np.asarray(stats[1:], dtype=np.int64)
    big = stats[:, 4] >= params.min_area_px // 3
    group = np.full(n, -1, dtype=np.int64)
    if big.any():
        group[1:][big] = _group_stacked(np.asarray(stats[big], dtype=np.int64))
    # Renumber groups 1..G and give every pixel its group's label in one gather.
    uniq, lut = np.unique(group, return_inverse=True)
    lut = lut - (1 if uniq[0] == -1 else 0)
    lut[group == -1] = -1
    lut = lut + 1
    labels = lut[labels].astype(np.int32)
    n_groups = int(lut.max()) if n > 1 else 0
    x0 = np.full(n_groups + 1, 1 << 30)
    y0 = np.full(n_groups + 1, 1 << 30)
    x1 = np.zeros(n_groups + 1, dtype=np.int64)
    y1 = np.zeros(n_groups + 1, dtype=np.int64)
    area = np.zeros(n_groups + 1, dtype=np.int64)
    g = lut[1:]
    np.minimum.at(x0, g, stats[:, 0])
    np.minimum.at(y0, g, stats[:, 1])
    np.maximum.at(x1, g, stats[:, 0] + stats[:, 2])
    np.maximum.at(y1, g, stats[:, 1] + stats[:, 3])
    np.add.at(area, g, stats[:, 4])
    x, y, w, h, area = x0[1:], y0[1:], (x1 - x0)[1:], (y1 - y0)[1:], area[1:]
    return _gate(x, y, w, h, area, labels, temp_c.shape, params)


def _gate(
    x: npt.NDArray[np.int64],
    y: npt.NDArray[np.int64],
    w: npt.NDArray[np.int64],
    h: npt.NDArray[np.int64],
    area: npt.NDArray[np.int64],
    labels: npt.NDArray[np.int32],
    shape: tuple[int, ...],
    params: HeadParams,
) -> Heads:
    aspect = w / np.maximum(h, 1)
    fill = area / np.maximum(w * h, 1)
    keep = (
        (area >= params.min_area_px)
        & (aspect <= params.max_aspect)
        & (aspect >= 1.0 / params.max_aspect)
        & (fill >= params.min_fill)
    )
    height_px, width_px = shape
    m = params.edge_margin_px
    inside = (x >= m) & (y >= m) & (x + w <= width_px - m) & (y + h <= height_px - m)
    # An upright face is about as tall as wide; a wide low blob is an arm or a hand.
    upright = (aspect <= 1.8) & (h >= 0.8 * params.min_face_px)
    measurable = (w >= params.min_face_px) & (h <= params.max_face_px) & inside & upright
    ids = (np.flatnonzero(keep) + 1).astype(np.int32)
    boxes = np.stack([x, y, w, h], axis=1)[keep].reshape(-1, 4)
    reasons = np.select(
        [w < params.min_face_px, ~inside, h > params.max_face_px, ~upright],
        ["small", "edge", "tall", "shape"],
        "",
    )
    dets = Detections.build(
        boxes, "thermal", measurable=measurable[keep], reasons=reasons[keep], label_id=ids
    )
    return Heads(dets, labels)
