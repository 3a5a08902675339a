"""The hot loop: one temperature statistic for every face of a frame, all at once.

The statistic is the maximum, over a face's pixels, of the local mean of a small window:
the local mean makes one hot pixel (sensor noise, a glint) unable to decide a fever on its
own, and the maximum lands on the warmest facial region, the inner eye corner, which is
the site screening standards measure (ISO/TR 13154, IEC 80601-2-59).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt


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
