"""Faces of one RGB frame: `edge.core.detections.Detections` in "rgb" pixels with a
`landmarks` column, and the landmark order."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.core.detections import Detections

# Landmark order, as O-Net gives them ("left" = image left).
LEFT_EYE, RIGHT_EYE, NOSE, MOUTH_LEFT, MOUTH_RIGHT = range(5)
LANDMARKS = "landmarks"  # column name: (N, 5, 2) float32 x, y in RGB pixels


def faces(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    landmarks: npt.NDArray[np.float32],
    measurable: npt.NDArray[np.bool_] | None = None,
    reasons: npt.ArrayLike | None = None,
) -> Detections:
    """Faces as detections: boxes (N, 4) x, y, w, h, scores (N,), landmarks (N, 5, 2), all
    float32 RGB pixels; `measurable`/`reasons` default to every face measurable."""
    return Detections.build(
        boxes, "rgb", scores=scores, measurable=measurable, reasons=reasons,
        landmarks=np.asarray(landmarks, np.float32).reshape(-1, 5, 2),
    )


def no_faces() -> Detections:
    return Detections.empty("rgb", landmarks=((5, 2), np.float32))
