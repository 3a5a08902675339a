"""Face geometry of the measurement: where the inner eye corners (canthi) are taken to be,
and mapping points through a homography. The simulators place the canthus from anthropometry
on their own (edge.sim.optics), so they do not share this convention."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from edge.vision.types import LEFT_EYE, RIGHT_EYE

# The inner canthus sits between the pupil and the nose bridge: about a quarter of the way
# from one eye centre to the other (adult anthropometry: intercanthal width ~ 0.5 of the
# interpupillary distance).
CANTHUS_FRACTION = 0.25


def inner_canthi(landmarks: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """(N, 5, 2) landmarks -> (N, 2, 2) inner canthus points (left, right), same pixels."""
    left = landmarks[:, LEFT_EYE, :]
    right = landmarks[:, RIGHT_EYE, :]
    step = CANTHUS_FRACTION * (right - left)
    return np.stack([left + step, right - step], axis=1).astype(np.float32)


def map_points(
    homography: npt.NDArray[np.float64], points: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """(..., 2) points through a 3x3 homography (all faces' points in one call)."""
    flat = points.reshape(-1, 1, 2).astype(np.float64)
    if flat.shape[0] == 0:
        return points.astype(np.float32)
    mapped = cv2.perspectiveTransform(flat, homography)
    return mapped.reshape(points.shape).astype(np.float32)
