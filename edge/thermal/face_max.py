"""The thermal-only hot loop: one temperature statistic for every face of a frame, at once.

The reading is the face's maximum, as the FDA's `T_Max` feature the face-max map was fitted
on: the warmest facial spot, normally the inner eye corner, which is the site screening
standards measure (ISO/TR 13154, IEC 80601-2-59). `FacePeak` (the default) reads that spot
at its interpolated peak with defective pixels rejected (edge.thermal.peak);
`FaceMaxLocalMean`, the maximum of a small local mean, is kept as the comparison the
benchmarks and tests measure against: it spreads a one-pixel canthus over its window and
reads it low.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from edge.thermal.peak import PeakParams, PeakReader, first_argmax_per_label


class FacePeak:
    """(N,) float32 degC per face: the interpolated peak of its hottest clean pixel."""

    def __init__(self, params: PeakParams | None = None) -> None:
        self._reader = PeakReader(params)

    def __call__(
        self,
        temp_c: npt.NDArray[np.float32],
        labels: npt.NDArray[np.int32],
        label_ids: npt.NDArray[np.int32],
    ) -> npt.NDArray[np.float32]:
        """temp_c: (H, W) float32 degC; labels: (H, W) int32, 0 = no face; label_ids: (N,).
        One defect-cleaning pass over the frame, one sort of the faces' pixels, then a
        gather of five pixels per face."""
        if label_ids.size == 0:
            return np.empty(0, dtype=np.float32)
        cleaned = self._reader.clean(temp_c)
        ys, xs = first_argmax_per_label(cleaned, labels, label_ids)
        return self._reader.peak_at(ys, xs)


class FaceMaxLocalMean:
    """Reusable buffers for `face_stat_c`; one instance per pipeline (single-threaded)."""

    def __init__(self, window_px: int = 3) -> None:
        self.window_px = window_px
        self._local: npt.NDArray[np.float32] | None = None

    def __call__(
        self,
        temp_c: npt.NDArray[np.float32],
        labels: npt.NDArray[np.int32],
        label_ids: npt.NDArray[np.int32],
    ) -> npt.NDArray[np.float32]:
        """(N,) float32 degC for the N faces named by `label_ids` in `labels`.

        temp_c: (H, W) float32 degC; labels: (H, W) int32, 0 = no face.
        One box filter over the frame, then one scatter-max over every face pixel.
        """
        if label_ids.size == 0:
            return np.empty(0, dtype=np.float32)
        if self._local is None or self._local.shape != temp_c.shape:
            self._local = np.empty_like(temp_c)
        k = self.window_px
        cv2.blur(temp_c, (k, k), dst=self._local, borderType=cv2.BORDER_REPLICATE)
        on = labels > 0
        best_c = np.full(int(labels.max()) + 1, -np.inf, dtype=np.float32)
        np.maximum.at(best_c, labels[on].astype(np.intp), self._local[on])
        return best_c[label_ids]


def face_stat_naive_c(
    temp_c: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int32],
    label_ids: npt.NDArray[np.int32],
    window_px: int = 3,
) -> npt.NDArray[np.float32]:
    """The same statistic with a Python loop per face: the benchmark's baseline, and an
    independent oracle for the tests. Not for the pipeline."""
    out = np.empty(label_ids.size, dtype=np.float32)
    r = window_px // 2
    padded = np.pad(temp_c, r, mode="edge")
    for i, lid in enumerate(label_ids):
        ys, xs = np.nonzero(labels == lid)
        best = -np.inf
        for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
            best = max(best, float(padded[y : y + window_px, x : x + window_px].mean()))
        out[i] = best
    return out
