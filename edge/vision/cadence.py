"""The full face detector every Nth RGB frame, faces followed in between.

`CadencedFinder(analyzer, detect_every=N, fps=...)` is a drop-in `FaceFinder`:
`analyze(bgr) -> Detections` with the same columns, quality flags and reasons as
`FaceAnalyzer.analyze`. On a detection frame it *is* `FaceAnalyzer.analyze`. In between,
every known face is re-localised by O-Net alone, all faces in one batch: the crop is the
face's box predicted at constant velocity from its last two boxes; O-Net gives the face
probability and the 5 landmarks, and the box follows the landmarks (each face keeps the
box-to-landmarks relation of its last detection: centre offset and size in units of the
landmarks' spread, so the boxes stay in BlazeFace's convention and do not drift).

The cadence rule (frame counts; `entry_every` = floor(entry_ms * fps), 3 at 15 fps):

- detect at once on the first frame, and on the frame after a face was lost (O-Net face
  probability below `lost_prob`, or two followed faces collapsed onto one);
- while the scene shows motion outside the known faces (a downscaled grey frame differs from
  the previous one, outside each known face, its hair and the body below it, in at least
  `motion_cells` cells by more than `motion_diff` grey levels), or a known face moves faster
  than `fast_speed` face widths a frame, or a followed face has grown by more than
  GROW_SHARE since its last detection (walking up: a followed box under-reports growth, and
  the person must be measured at the distance they are at): at most `entry_every` frames
  between two detections. A person entering moves, so, if the detector can see them, they
  are found at most entry_every - 1 frames after their first frame fully in view (133 ms
  at 15 fps; the bound is 200 ms; tests/vision/test_cadence.py checks every phase of the
  cycle);
- otherwise (a still scene, or only known faces moving slowly): every `current_every` frames,
  which is `detect_every` unless the box is loaded (below).

Load (issue 13): the finder times its own `analyze` (the injectable `clock`, perf_counter by
default) against the frame interval 1/fps and keeps an EWMA (`BUSY_ALPHA`, ~10 frames) of
that busy share, each frame's share clipped at 1 so one slow frame (a model warming up)
cannot swing it alone. It cannot see the rest of the pipeline's time, so the rule is
conservative: on each detection frame, if the finder alone takes more than `BUSY_SHARE_HIGH`
(half) of the interval the still-scene interval doubles, up to `max_every` = min(4 x
detect_every, 60 frames = 4 s at 15 fps); below `BUSY_SHARE_LOW` (a quarter) it halves back,
never below `detect_every`. The gap between the thresholds keeps it from flapping. Only the
still-scene interval adapts: the entry bound and the lost-face rule hold under any load.
With fps None (unknown frame interval), or detect_every 1 (detect on every frame, asked
for), it stays at `detect_every`. `busy_share` and `current_every` expose the state.

Not covered here: "a new region warming in the thermal frame" (issue 13) needs the thermal
frame, which this vision stage never sees; motion in the RGB frame covers the same entries.

Measured alternative (bench/bench_follow.py, `FlowFinder`): pyramidal Lucas-Kanade optical
flow of the 5 landmarks between frames instead of O-Net. It has no face score (a face is lost
only when a point's flow fails), keeps ghosts of faces that walk out and lets landmarks run
off (about 100 px at worst on the 12-person gate scene, against 3.6 px for O-Net), and is no
faster (1.59 against 1.54 ms a frame): O-Net it is.
`_relocalise` is the one method to override for such a follower.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from edge.core.detections import Detections, iou_matrix
from edge.vision.landmarks import FaceAnalyzer, quality
from edge.vision.types import faces, no_faces

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

ENTRY_MS = 200.0  # a person entering is found within this
# A source that does not know its frame rate: assume a slow camera, so entry_every stays short
# enough in time (2 frames: 200 ms at 10 fps, less when faster).
UNKNOWN_FPS = 10.0
MOTION_SCALE = 8  # the motion frame is 1/8 of the RGB frame per side (80x60 for 640x480)
MOTION_DIFF = 12  # grey levels a motion cell must change by
MOTION_CELLS = 3  # changed cells outside the known faces that count as motion
LOST_PROB = 0.5  # O-Net face probability below which a followed face is lost
FAST_SPEED = 0.15  # face widths a frame
# A followed face this much wider than at its last detection is walking up: O-Net's landmarks
# scale with the crop they are given, so a followed box under-reports growth, and the person
# would be measured at a distance they have already left. Above O-Net's frame-to-frame
# jitter of the landmarks' spread (~1-2 %), below a walk-up's few % a frame.
GROW_SHARE = 1.05
MAX_SPEED = 0.5  # face widths a frame: faster predictions are clamped (a bad match, not a walk)
COLLAPSE_IOU = 0.5  # two followed faces overlapping this much are one face
# Around a known face, in face widths/heights, what moves with it: hair and head sides
# (0.8 w either side of the centre in the simulator's head crops), shoulders and body below
# (1.05 w either side). A pair's partner stands 2.25 w or more away, outside it.
MASK_HALF_W = 1.15
MASK_ABOVE_H = 0.6
BUSY_SHARE_HIGH = 0.5  # the finder alone above this share of the frame interval: slow down
BUSY_SHARE_LOW = 0.25  # below this: speed back up toward detect_every
BUSY_ALPHA = 0.1  # EWMA weight of one frame's busy share (about 10 frames' memory)
MAX_EVERY_FACTOR = 4  # the still-scene interval grows to at most this x detect_every...
MAX_EVERY_FRAMES = 60  # ...and at most this many frames (4 s at 15 fps)


class CadencedFinder:
    """FaceFinder that runs `analyzer`'s detector every Nth frame and follows faces between.

    analyzer: the FaceAnalyzer whose detector, O-Net and quality thresholds are used.
    detect_every: frames between two detections in a still scene (1 = every frame).
    fps: the RGB frame rate, to turn `entry_ms` into frames (None: UNKNOWN_FPS) and to measure
    load against (None: no load adaptation).
    clock: seconds, monotonic (time.perf_counter; tests inject a fake one).
    `frames` and `detections` count the calls and the full detections (benchmarks, metrics).
    Not thread-safe (one instance per pipeline thread, like the analyzer).
    """

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        *,
        detect_every: int = 6,
        fps: float | None = None,
        entry_ms: float = ENTRY_MS,
        lost_prob: float = LOST_PROB,
        motion_diff: int = MOTION_DIFF,
        motion_cells: int = MOTION_CELLS,
        fast_speed: float = FAST_SPEED,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if detect_every < 1:
            raise ValueError(f"detect_every = {detect_every}: must be at least 1")
        self.analyzer = analyzer
        self.detect_every = detect_every
        rate = fps if fps is not None and fps > 0 else UNKNOWN_FPS
        self.entry_every = max(1, min(detect_every, math.floor(entry_ms / 1000.0 * rate + 1e-9)))
        self.lost_prob = lost_prob
        self.motion_diff = motion_diff
        self.motion_cells = motion_cells
        self.fast_speed = fast_speed
        self.frames = 0
        self.detections = 0
        self._boxes = np.zeros((0, 4), np.float32)  # last known boxes
        self._velocity = np.zeros((0, 4), np.float32)  # per frame
        self._scores = np.zeros(0, np.float32)  # detector scores at the last detection
        self._detected_w = np.zeros(0, np.float32)  # widths at the last detection
        self._rel = np.zeros((0, 4), np.float32)  # box relative to its landmarks (see below)
        self._landmarks = np.zeros((0, 5, 2), np.float32)
        self._since = 0  # frames since the last detection
        self._force = True
        self._small: U8 | None = None
        self._clock = clock
        self._frame_s = 1.0 / fps if fps is not None and fps > 0 else None
        self.max_every = max(detect_every, min(MAX_EVERY_FACTOR * detect_every, MAX_EVERY_FRAMES))
        self._every = detect_every
        self._busy = 0.0

    @property
    def current_every(self) -> int:
        """Frames between two detections in a still scene now (detect_every..max_every)."""
        return self._every

    @property
    def busy_share(self) -> float:
        """EWMA of the finder's processing time per frame over the frame interval (0..1)."""
        return self._busy

    @property
    def frames_since_detection(self) -> int:
        return self._since

    @property
    def boxes(self) -> F32:
        """(N, 4) float32 boxes of the faces known after the last frame."""
        return self._boxes

    @property
    def landmarks(self) -> F32:
        """(N, 5, 2) float32 landmarks of the faces known after the last frame."""
        return self._landmarks

    def analyze(self, bgr: U8) -> Detections:
        """Faces of the (H, W, 3) uint8 BGR frame, as `FaceAnalyzer.analyze` gives them."""
        start_s = self._clock()
        det = self._analyze(bgr)
        self._load(self._clock() - start_s)
        return det

    def _analyze(self, bgr: U8) -> Detections:
        self.frames += 1
        moving = self._motion(bgr)
        if self._due(moving):
            return self._detect(bgr)
        self._since += 1
        if self._boxes.shape[0] == 0:
            return no_faces()
        return self._follow(bgr)

    def reset(self) -> None:
        """Forget every face: the next frame runs the detector."""
        self._adopt_none()
        self._force = True
        self._small = None

    # ------------------------------------------------------------------ cadence

    def _load(self, busy_s: float) -> None:
        """Fold one frame's processing time into the busy share; on a detection frame, adapt
        the still-scene interval (once per detection, so one step per cycle at most)."""
        if self._frame_s is None or self.detect_every == 1:
            return
        share = min(1.0, max(0.0, busy_s / self._frame_s))
        self._busy += BUSY_ALPHA * (share - self._busy)
        if self._since != 0:
            return
        if self._busy > BUSY_SHARE_HIGH:
            self._every = min(self.max_every, self._every * 2)
        elif self._busy < BUSY_SHARE_LOW:
            self._every = max(self.detect_every, self._every // 2)

    def _due(self, moving: bool) -> bool:
        if self._force or self.detect_every == 1:
            return True
        gap = self._since + 1  # frames since the last detection if it ran now
        if moving or self._fast() or self._growing():
            return gap >= self.entry_every
        return gap >= self._every

    def _fast(self) -> bool:
        if self._boxes.shape[0] == 0:
            return False
        speed = np.hypot(self._velocity[:, 0], self._velocity[:, 1]) / np.maximum(
            self._boxes[:, 2], np.float32(1.0)
        )
        return bool((speed > self.fast_speed).any())

    def _growing(self) -> bool:
        return bool((self._boxes[:, 2] > GROW_SHARE * self._detected_w).any())

    def _motion(self, bgr: U8) -> bool:
        """Whether the downscaled grey frame changed outside the known faces."""
        h, w = bgr.shape[:2]
        sw, sh = max(1, w // MOTION_SCALE), max(1, h // MOTION_SCALE)
        small = np.asarray(
            cv2.cvtColor(cv2.resize(bgr, (sw, sh), interpolation=cv2.INTER_AREA),
                         cv2.COLOR_BGR2GRAY), np.uint8)
        prev, self._small = self._small, small
        if prev is None or prev.shape != small.shape:
            return True
        changed = np.asarray(cv2.absdiff(small, prev), np.uint8) > self.motion_diff
        if not changed.any():
            return False
        changed &= ~self._mask((sh, sw), sw / w, sh / h)
        return int(np.count_nonzero(changed)) >= self.motion_cells

    def _mask(self, shape: tuple[int, int], sx: float, sy: float) -> npt.NDArray[np.bool_]:
        """Cells of the motion frame covered by the known faces, their heads and bodies."""
        mask = np.zeros(shape, bool)
        for x, y, bw, bh in self._boxes.tolist():
            cx = x + bw / 2
            x0 = max(0, math.floor((cx - MASK_HALF_W * bw) * sx))
            x1 = max(0, math.ceil((cx + MASK_HALF_W * bw) * sx))
            y0 = max(0, math.floor((y - MASK_ABOVE_H * bh) * sy))
            mask[y0:, x0:x1] = True  # the body below the face reaches the frame's bottom
        return mask

    # ------------------------------------------------------------------ detection

    def _detect(self, bgr: U8) -> Detections:
        det = self.analyzer.analyze(bgr)
        self.detections += 1
        self._since = 0
        self._force = False
        if det.count == 0:
            self._adopt_none()
        else:
            self._adopt(det.boxes, det.scores, det.landmarks)
        return det

    def _adopt_none(self) -> None:
        self._boxes = np.zeros((0, 4), np.float32)
        self._velocity = np.zeros((0, 4), np.float32)
        self._scores = np.zeros(0, np.float32)
        self._detected_w = np.zeros(0, np.float32)
        self._rel = np.zeros((0, 4), np.float32)
        self._landmarks = np.zeros((0, 5, 2), np.float32)

    def _adopt(self, boxes: F32, scores: F32, landmarks: F32) -> None:
        """Detected faces become the known ones; a face that matches a known one (IoU) keeps
        its velocity, measured from the known box to the detected one."""
        velocity = np.zeros_like(boxes)
        if self._boxes.shape[0]:
            iou = iou_matrix(boxes, self._boxes)
            best = iou.argmax(axis=1)
            hit = iou[np.arange(boxes.shape[0]), best] > 0.3
            velocity[hit] = boxes[hit] - self._boxes[best[hit]]
        self._velocity = _clamp(velocity, boxes)
        self._boxes = boxes.astype(np.float32)
        self._scores = scores.astype(np.float32)
        self._detected_w = self._boxes[:, 2].copy()
        self._landmarks = landmarks.astype(np.float32)
        self._rel = relative_box(boxes, landmarks)

    # ------------------------------------------------------------------ following

    def _follow(self, bgr: U8) -> Detections:
        landmarks, keep = self._relocalise(bgr, self._boxes + self._velocity)
        boxes = box_from_landmarks(self._rel, landmarks)
        keep &= _not_collapsed(boxes, keep)
        if not keep.all():
            self._force = True  # a face was lost: look for it (or whoever it became) at once
        velocity = _clamp(boxes[keep] - self._boxes[keep], boxes[keep])
        self._boxes, self._velocity = boxes[keep], velocity
        self._scores, self._rel = self._scores[keep], self._rel[keep]
        self._detected_w = self._detected_w[keep]
        self._landmarks = landmarks[keep]
        return self._faces(bgr)

    def _relocalise(self, bgr: U8, predicted: F32) -> tuple[F32, npt.NDArray[np.bool_]]:
        """O-Net on the crops of the (N, 4) predicted boxes, one batch: (N, 5, 2) landmarks
        and which faces are still faces."""
        refiner = self.analyzer.refiner
        squares = refiner.squares(predicted)
        landmarks, prob = refiner.run(refiner.crops(bgr, squares), squares)
        return landmarks, np.asarray(prob >= np.float32(self.lost_prob), bool)

    def _faces(self, bgr: U8) -> Detections:
        a = self.analyzer
        h, w = bgr.shape[:2]
        measurable, reasons = quality(
            self._boxes, self._landmarks, (w, h), a.min_face_px, a.edge_margin_px,
            a.max_yaw, a.max_pitch, a.min_eye_ratio,
        )
        return faces(self._boxes.copy(), self._scores.copy(), self._landmarks.copy(),
                     measurable, reasons)


def relative_box(boxes: F32, landmarks: F32) -> F32:
    """(N, 4) boxes in units of their (N, 5, 2) landmarks: the box centre's offset from the
    landmarks' centroid and the box's width and height, all divided by the landmarks' spread
    (RMS distance from the centroid)."""
    centroid = landmarks.mean(axis=1)
    spread = _spread(landmarks, centroid)
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    rel = np.concatenate([centre - centroid, boxes[:, 2:]], axis=1) / spread[:, None]
    return rel.astype(np.float32)


def box_from_landmarks(rel: F32, landmarks: F32) -> F32:
    """Inverse of `relative_box`: (N, 4) x, y, w, h boxes for new (N, 5, 2) landmarks."""
    centroid = landmarks.mean(axis=1)
    spread = _spread(landmarks, centroid)[:, None]
    centre = centroid + rel[:, :2] * spread
    size = rel[:, 2:] * spread
    return np.concatenate([centre - size / 2, size], axis=1).astype(np.float32)


def _spread(landmarks: F32, centroid: F32) -> F32:
    d = landmarks - centroid[:, None, :]
    rms = np.sqrt((d * d).sum(axis=2).mean(axis=1))
    return np.asarray(np.maximum(rms, np.float32(1e-3)), np.float32)


def _clamp(velocity: F32, boxes: F32) -> F32:
    """Velocities capped at MAX_SPEED face widths a frame, per component."""
    limit = (MAX_SPEED * np.maximum(boxes[:, 2:3], 1.0)).astype(np.float32)
    return np.clip(velocity, -limit, limit).astype(np.float32)


def _not_collapsed(boxes: F32, keep: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """False for a kept face that overlaps an earlier kept one by more than COLLAPSE_IOU."""
    out = np.ones(boxes.shape[0], bool)
    if boxes.shape[0] < 2:
        return out
    iou = np.triu(iou_matrix(boxes, boxes), k=1)
    iou[~keep, :] = 0.0
    iou[:, ~keep] = 0.0
    out[(iou > COLLAPSE_IOU).any(axis=0)] = False
    return out
