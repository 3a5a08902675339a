"""Faces of one RGB frame as a structure of arrays (N faces)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Landmark order, as O-Net gives them.
LEFT_EYE, RIGHT_EYE, NOSE, MOUTH_LEFT, MOUTH_RIGHT = range(5)


@dataclass(frozen=True, slots=True)
class Faces:
    """boxes: (N, 4) float32 x, y, w, h in RGB pixels.
    scores: (N,) float32 detector confidence in [0, 1].
    landmarks: (N, 5, 2) float32 x, y in RGB pixels (left eye, right eye, nose, mouth
        left, mouth right; "left" = image left).
    measurable: (N,) bool, False when the face is too small, too turned or cut by the
        frame edge (it is still tracked, not measured).
    reasons: per face, "" when measurable, else why not ("small", "turned", "edge").
    """

    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    landmarks: npt.NDArray[np.float32]
    measurable: npt.NDArray[np.bool_]
    reasons: tuple[str, ...]

    @property
    def count(self) -> int:
        return int(self.boxes.shape[0])

    @staticmethod
    def empty() -> Faces:
        return Faces(
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros((0, 5, 2), np.float32),
            np.zeros(0, bool),
            (),
        )
