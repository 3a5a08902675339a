"""Face descriptors: dlib's 128-D ResNet (ONNX, `dlib_resnet`) on dlib-aligned 150x150 chips,
and a per-face quality score for choosing which faces to recognise or enrol.

The descriptor is dlib's, raw (not L2-normalised; norm about 1.4-1.7): two faces are the
same person when the Euclidean distance is below about 0.6 (dlib's threshold). Every stored
template carries `model_id`, so a gallery made with another model (or another conversion)
is never compared with these descriptors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.models import get_spec
from edge.vision.align import CHIP_PX, CHIP_TEMPLATE, align_faces
from edge.vision.landmarks import pose_ratios
from edge.vision.ort import session as open_session
from edge.vision.types import LEFT_EYE, RIGHT_EYE

FloatArray = npt.NDArray[np.float32]

# Inter-ocular distance of the chip (px): a face with eyes this far apart in the frame fills
# the chip at 1:1; more pixels than that cannot help the descriptor.
CHIP_EYE_DISTANCE_PX = float(np.hypot(*(CHIP_TEMPLATE[RIGHT_EYE] - CHIP_TEMPLATE[LEFT_EYE])))
# |yaw proxy| (nose offset along the eye axis in eye distances, ~0.6 tan(yaw)) at which the
# frontal factor reaches 0: 0.5 is about 40 degrees, where dlib's descriptor degrades badly.
YAW_ZERO_QUALITY = 0.5


class FaceEmbedder:
    """dlib's face descriptor for the faces of a frame, one onnxruntime run per batch.

    threads: onnxruntime intra-op threads (1 suits a 2-core box, edge.vision.ort).
    directory: model cache (default edge.models.models_dir()); the file is sha256-verified.
    """

    MODEL = "dlib_resnet"
    DIM = 128

    def __init__(self, threads: int = 1, directory: Path | None = None) -> None:
        self._session: Any = open_session(self.MODEL, threads, directory)
        self._input: str = self._session.get_inputs()[0].name
        self.model_id: str = f"{self.MODEL}:{get_spec(self.MODEL).sha256[:16]}"

    def embed(self, bgr: npt.NDArray[np.uint8], landmarks: FloatArray) -> FloatArray:
        """(K, 128) float32 descriptors of the faces with these (K, 5, 2) landmarks in a BGR
        (H, W, 3) uint8 frame; K == 0 gives (0, 128)."""
        marks = np.asarray(landmarks, np.float32).reshape(-1, 5, 2)
        if marks.shape[0] == 0:
            return np.zeros((0, self.DIM), np.float32)
        return self.embed_chips(align_faces(bgr, marks))

    def embed_chips(self, chips: npt.NDArray[np.uint8]) -> FloatArray:
        """(K, 128) float32 descriptors of (K, 150, 150, 3) uint8 RGB dlib chips, one run."""
        chips = np.asarray(chips)
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_PX, CHIP_PX, 3):
            raise ValueError(f"chips of shape {chips.shape}: expected (K, 150, 150, 3) RGB")
        if chips.shape[0] == 0:
            return np.zeros((0, self.DIM), np.float32)
        out = self._session.run(None, {self._input: chips.astype(np.float32)})[0]
        return np.asarray(out, np.float32)


def face_quality(landmarks: FloatArray, boxes: FloatArray) -> FloatArray:
    """(K,) float32 in [0, 1], higher = better for recognition: size * frontal.

    size = min(eye distance px / CHIP_EYE_DISTANCE_PX (54.5), 1): how much of the chip's
        resolution the face provides;
    frontal = clip(1 - |yaw| / 0.5, 0, 1), yaw = the nose tip's offset from the eye midpoint
        along the eye axis in eye distances (edge.vision.landmarks.pose_ratios): 1 when the
        nose is centred between the eyes, 0 from about 40 degrees of head turn;
    0 when the eye midpoint lies outside the face's box (x, y, w, h), i.e. the landmarks do
    not belong to the box (a failed landmark fit).
    """
    marks = np.asarray(landmarks, np.float32).reshape(-1, 5, 2)
    box = np.asarray(boxes, np.float32).reshape(-1, 4)
    if marks.shape[0] == 0:
        return np.zeros(0, np.float32)
    eyes = marks[:, RIGHT_EYE] - marks[:, LEFT_EYE]
    size = np.minimum(np.hypot(eyes[:, 0], eyes[:, 1]) / np.float32(CHIP_EYE_DISTANCE_PX), 1)
    yaw, _ = pose_ratios(marks)
    frontal = np.clip(1 - np.abs(yaw) / np.float32(YAW_ZERO_QUALITY), 0, 1)
    mid = (marks[:, LEFT_EYE] + marks[:, RIGHT_EYE]) / 2
    inside = (
        (mid[:, 0] >= box[:, 0]) & (mid[:, 0] <= box[:, 0] + box[:, 2])
        & (mid[:, 1] >= box[:, 1]) & (mid[:, 1] <= box[:, 1] + box[:, 3])
    )
    return np.where(inside, size * frontal, 0).astype(np.float32)
