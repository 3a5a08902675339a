"""Locating the reference source (a heated disc or blackbody) in an upright degC frame.

A reference is a round, uniform blob standing well above its surroundings; a face's hot
canthus patch sits in warm skin and fails the contrast test. `DiscLocator` locks a position
only after it was found consistently for a few frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.thermal.heads import Roi, background_c


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
