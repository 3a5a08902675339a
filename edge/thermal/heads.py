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
    """Heads of one frame as a structure of arrays (N heads).

    boxes: (N, 4) int32 x, y, w, h in upright thermal pixels.
    label_ids: (N,) int32 ids of each head's pixels in `labels` ((H, W) int32).
    measurable: (N,) bool, big enough and not cut by the frame edge.
    """

    boxes: npt.NDArray[np.int32]
    label_ids: npt.NDArray[np.int32]
    labels: npt.NDArray[np.int32]
    measurable: npt.NDArray[np.bool_]

    @property
    def count(self) -> int:
        return int(self.boxes.shape[0])


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
    boxes = np.stack([x, y, w, h], axis=1)[keep].astype(np.int32).reshape(-1, 4)
    return Heads(boxes, ids, labels, measurable[keep])


@dataclass(frozen=True, slots=True)
class DiscParams:
    """A reference disc / blackbody: hot, small, round and uniform."""

    delta_c: float = 4.0  # above the scene background
    plateau_band_c: float = 1.0
    min_area_px: int = 12
    max_area_px: int = 900
    min_fill: float = 0.6
    max_std_c: float = 0.4
    ring_contrast_c: float = 2.5  # plateau minus its 3-px surroundings


def find_reference_disc(temp_c: npt.NDArray[np.float32], params: DiscParams) -> Roi | None:
    """The reference source's inner ROI (x, y, w, h) in this upright frame, or None.

    Faces can be as hot as the disc, so heat alone does not tell them apart; shape and
    uniformity do: a disc fills ~78% of its box and varies by a few tenths of a degree,
    a face has cold eyes, glasses and hair. The ROI is the central half of the disc so the
    blurred rim does not pull the reading down.
    """
    hot = (temp_c >= background_c(temp_c) + params.delta_c).astype(np.uint8)
    n, labels = cv2.connectedComponents(hot, connectivity=8)
    if n <= 1:
        return None
    # The plateau near each blob's own peak: the disc's flat top, without its blurred rim.
    on = labels > 0
    peak_c = np.full(n, -np.inf, dtype=np.float32)
    np.maximum.at(peak_c, labels[on].astype(np.intp), temp_c[on])
    plateau = (on & (temp_c >= peak_c[labels] - params.plateau_band_c)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(plateau, connectivity=8)
    flat = labels.ravel()
    values = temp_c.ravel().astype(np.float64)
    count = np.bincount(flat, minlength=n).astype(np.float64)
    mean_c = np.bincount(flat, values, minlength=n) / np.maximum(count, 1)
    var_c2 = np.bincount(flat, values * values, minlength=n) / np.maximum(count, 1) - mean_c**2
    # A disc stands out from its housing; a face's hot canthus patch sits in warm skin.
    grown = cv2.dilate(labels.astype(np.float32), np.ones((7, 7), np.uint8)).astype(np.intp)
    ring = (grown > 0) & (labels == 0)
    ring_n = np.bincount(grown[ring], minlength=n).astype(np.float64)
    ring_c = np.bincount(grown[ring], temp_c[ring].astype(np.float64), minlength=n)
    ring_mean_c = ring_c / np.maximum(ring_n, 1)
    w, h, area = stats[:, 2], stats[:, 3], stats[:, 4]
    aspect = w / np.maximum(h, 1)
    ok = (
        (area >= params.min_area_px)
        & (area <= params.max_area_px)
        & (aspect >= 0.7)
        & (aspect <= 1.4)
        & (area / np.maximum(w * h, 1) >= params.min_fill)
        & (np.sqrt(np.maximum(var_c2, 0.0)) <= params.max_std_c)
        & (mean_c - ring_mean_c >= params.ring_contrast_c)
    )
    ok[0] = False
    if not ok.any():
        return None
    best = int(np.argmax(np.where(ok, mean_c, -np.inf)))
    bx, by, bw, bh = (int(v) for v in stats[best, :4])
    return (bx + bw // 4, by + bh // 4, max(1, (bw + 1) // 2), max(1, (bh + 1) // 2))


class DiscLocator:
    """Locks onto the reference disc once it has been found in the same place for
    `confirm_frames` frames in a row: the disc is fixed to the gate, people are not."""

    def __init__(self, params: DiscParams, confirm_frames: int = 5) -> None:
        self._params = params
        self._confirm = confirm_frames
        self._candidate: Roi | None = None
        self._streak = 0
        self.locked: Roi | None = None

    def update(self, temp_c: npt.NDArray[np.float32]) -> Roi | None:
        """The locked ROI, trying to lock on this frame if not yet locked."""
        if self.locked is not None:
            return self.locked
        roi = find_reference_disc(temp_c, self._params)
        near = (
            roi is not None
            and self._candidate is not None
            and abs(roi[0] - self._candidate[0]) <= 1
            and abs(roi[1] - self._candidate[1]) <= 1
        )
        self._streak = self._streak + 1 if near else (1 if roi is not None else 0)
        self._candidate = roi if not near else self._candidate
        if self._streak >= self._confirm:
            self.locked = self._candidate
        return self.locked
