"""One detections type for every detector: thermal heads, RGB faces, and whatever follows.

A structure of arrays over N detections of one frame. The box convention is the same
everywhere: (x, y, w, h) float32 in pixels of the frame named by `frame` ("thermal" =
upright thermal pixels, after `thermal.rotate_deg`; "rgb" = colour camera pixels).
Per-detection extras ride in `columns` (name -> array whose first axis is N): landmarks
(N, 5, 2), a thermal head's label id (N,), and later an embedding (N, 128) or a decoded
pass, without a new type. Shapes and dtypes are checked when the object is built, so a
detector that returns the wrong thing fails there, naming the field, not three stages on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FrameName = Literal["thermal", "rgb"]
FRAMES: tuple[str, ...] = ("thermal", "rgb")

# Why a detection is tracked but not measured; "" when it is measurable.
REASON_DTYPE = np.dtype("<U16")


def _check(name: str, arr: npt.NDArray[np.generic], dtype: type, shape: tuple[int, ...]) -> None:
    if arr.dtype != np.dtype(dtype):
        raise ValueError(f"Detections.{name}: dtype {arr.dtype}, expected {np.dtype(dtype)}")
    if arr.shape != shape:
        raise ValueError(f"Detections.{name}: shape {arr.shape}, expected {shape}")


@dataclass(frozen=True, slots=True)
class Detections:
    """boxes: (N, 4) float32 x, y, w, h in pixels of `frame`.
    scores: (N,) float32 detector confidence in [0, 1] (1 for rule-based detectors).
    measurable: (N,) bool, False when the detection is tracked but must not be measured.
    reasons: (N,) str, "" when measurable, else why not ("small", "turned", "edge", ...).
    columns: extra per-detection arrays, each with first axis N.
    frame: which image the boxes are in.
    """

    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    measurable: npt.NDArray[np.bool_]
    reasons: npt.NDArray[np.str_]
    frame: FrameName
    columns: Mapping[str, npt.NDArray[np.generic]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.frame not in FRAMES:
            raise ValueError(f"Detections.frame: {self.frame!r}, expected one of {FRAMES}")
        if self.boxes.ndim != 2:
            raise ValueError(f"Detections.boxes: shape {self.boxes.shape}, expected (N, 4)")
        n = self.boxes.shape[0]
        _check("boxes", self.boxes, np.float32, (n, 4))
        _check("scores", self.scores, np.float32, (n,))
        _check("measurable", self.measurable, np.bool_, (n,))
        if self.reasons.dtype.kind != "U" or self.reasons.shape != (n,):
            raise ValueError(
                f"Detections.reasons: {self.reasons.dtype} {self.reasons.shape}, expected "
                f"({n},) str"
            )
        for name, col in self.columns.items():
            if col.ndim == 0 or col.shape[0] != n:
                raise ValueError(
                    f"Detections.columns[{name!r}]: shape {col.shape}, expected first axis {n}"
                )

    @staticmethod
    def build(
        boxes: npt.ArrayLike,
        frame: FrameName,
        *,
        scores: npt.ArrayLike | None = None,
        measurable: npt.ArrayLike | None = None,
        reasons: npt.ArrayLike | None = None,
        **columns: npt.NDArray[np.generic],
    ) -> Detections:
        """Convenience constructor: casts boxes and scores to float32, fills defaults
        (score 1, all measurable, no reasons)."""
        b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        n = b.shape[0]
        s = np.ones(n, np.float32) if scores is None else np.asarray(scores, np.float32)
        m = np.ones(n, bool) if measurable is None else np.asarray(measurable, bool)
        r = np.full(n, "", REASON_DTYPE) if reasons is None else np.asarray(reasons, REASON_DTYPE)
        return Detections(b, s, m, r.reshape(n), frame, dict(columns))

    @staticmethod
    def empty(frame: FrameName, **column_shapes: tuple[tuple[int, ...], type]) -> Detections:
        """No detections; `column_shapes` gives each extra column's per-row shape and dtype,
        e.g. `landmarks=((5, 2), np.float32)`, so an empty frame has the same columns."""
        cols: dict[str, npt.NDArray[np.generic]] = {
            k: np.zeros((0, *shape), dtype) for k, (shape, dtype) in column_shapes.items()
        }
        return Detections.build(np.zeros((0, 4), np.float32), frame, **cols)

    @property
    def count(self) -> int:
        return int(self.boxes.shape[0])

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Detections:
        """Rows selected by a boolean mask of length N (or an integer index array)."""
        idx = np.asarray(index)
        if idx.dtype == np.bool_ and idx.shape != (self.count,):
            raise IndexError(f"Detections: mask of shape {idx.shape} for {self.count} rows")
        return Detections(
            self.boxes[idx],
            self.scores[idx],
            self.measurable[idx],
            self.reasons[idx],
            self.frame,
            {k: v[idx] for k, v in self.columns.items()},
        )

    def column(self, name: str) -> npt.NDArray[np.generic]:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(
                f"Detections has no column {name!r} (has: {', '.join(self.columns) or 'none'})"
            ) from None

    @property
    def landmarks(self) -> npt.NDArray[np.float32]:
        """(N, 5, 2) float32 landmarks (faces): left eye, right eye, nose, mouth corners."""
        return np.asarray(self.column("landmarks"), dtype=np.float32)

    @property
    def label_ids(self) -> npt.NDArray[np.int32]:
        """(N,) int32 ids of each thermal head's pixels in its frame's label image."""
        return np.asarray(self.column("label_id"), dtype=np.int32)

    def with_columns(self, **columns: npt.NDArray[np.generic]) -> Detections:
        """A copy with columns added or replaced (checked like the rest)."""
        return Detections(
            self.boxes, self.scores, self.measurable, self.reasons, self.frame,
            {**self.columns, **columns},
        )

    def int_boxes(self) -> npt.NDArray[np.int32]:
        """(N, 4) int32 boxes rounded to whole pixels (for events and checkpoints)."""
        return np.rint(self.boxes).astype(np.int32).reshape(-1, 4)


def iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(N, M) intersection over union between (N, 4) and (M, 4) x, y, w, h boxes."""
    a64 = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b64 = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax0, ay0, aw, ah = (a64[:, i, None] for i in range(4))
    bx0, by0, bw, bh = (b64[None, :, i] for i in range(4))
    iw = np.clip(np.minimum(ax0 + aw, bx0 + bw) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay0 + ah, by0 + bh) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    return np.asarray(inter / np.maximum(aw * ah + bw * bh - inter, 1e-9), dtype=np.float64)
