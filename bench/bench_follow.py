"""Following faces between detections: O-Net on the predicted crop (edge.vision.cadence, the
implementation) against pyramidal Lucas-Kanade optical flow of the 5 landmarks (`FlowFinder`,
here only). Both under the same cadence rule, on the synthetic gate scene, scored against
the detector on every frame (cadence 1). Run by bench_rgbt.py; `python bench/bench_follow.py
SCENE_DIR` alone."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edge.core.detections import Detections, iou_matrix
from edge.core.types import RgbFrame
from edge.sources.recording import RecordingSource
from edge.vision.cadence import CadencedFinder
from edge.vision.landmarks import FaceAnalyzer

F32 = npt.NDArray[np.float32]


class FlowFinder(CadencedFinder):
    """The cadence of CadencedFinder; between detections the landmarks move by LK flow. No
    face score: a face is lost only when a point's flow fails."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._prev_grey: npt.NDArray[np.uint8] | None = None
        self._grey: npt.NDArray[np.uint8] | None = None

    def analyze(self, bgr: npt.NDArray[np.uint8]) -> Detections:
        self._grey = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), np.uint8)
        try:
            return super().analyze(bgr)
        finally:
            self._prev_grey = self._grey

    def _relocalise(self, bgr: npt.NDArray[np.uint8], predicted: F32
                    ) -> tuple[F32, npt.NDArray[np.bool_]]:
        n = self.landmarks.shape[0]
        if self._prev_grey is None or self._grey is None:
            return self.landmarks.copy(), np.zeros(n, bool)
        points = np.ascontiguousarray(self.landmarks.reshape(-1, 1, 2))
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            self._prev_grey, self._grey, points, None, winSize=(15, 15), maxLevel=2)
        ok = np.asarray(status, bool).reshape(n, 5).all(axis=1)
        return np.asarray(moved, np.float32).reshape(n, 5, 2), ok


def _score(scene: Path, finder: CadencedFinder, reference: FaceAnalyzer) -> dict[str, float]:
    frames = run = longest = extra = 0
    errors: list[float] = []
    spent = 0.0
    for frame in RecordingSource(scene).frames():
        if not isinstance(frame, RgbFrame):
            continue
        frames += 1
        ref = reference.analyze(frame.bgr)
        t0 = time.perf_counter()
        got = finder.analyze(frame.bgr)
        spent += time.perf_counter() - t0
        iou = iou_matrix(ref.boxes, got.boxes)
        hit = iou.max(axis=1) > 0.3 if got.count else np.zeros(ref.count, bool)
        extra += got.count - (int((iou.max(axis=0) > 0.3).sum()) if ref.count else 0)
        run = run + 1 if not hit.all() else 0
        longest = max(longest, run)
        for i in np.flatnonzero(hit & ref.measurable):
            j = int(iou[i].argmax())
            errors.append(float(np.abs(ref.landmarks[i] - got.landmarks[j]).max()))
    e = np.array(errors)
    return {"ms": spent / frames * 1e3, "detections": finder.detections, "frames": frames,
            "longest_miss": longest, "extra": extra, "median": float(np.median(e)),
            "p95": float(np.quantile(e, 0.95)), "max": float(e.max())}


def bench_followers(scene: Path, detect_every: int = 12, fps: float = 15.0) -> None:
    print("\n## Following faces between detections: O-Net re-localisation vs LK optical flow "
          "(gate scene, against the detector on every frame)\n")
    print("| follower | finder ms/frame | detector runs | longest miss (frames) "
          "| extra faces (frames) | landmark error px: median / p95 / max |")
    print("|---|---|---|---|---|---|")
    reference = FaceAnalyzer(threads=1)
    for name, cls in (("O-Net (kept)", CadencedFinder), ("LK flow", FlowFinder)):
        finder = cls(FaceAnalyzer(threads=1), detect_every=detect_every, fps=fps)
        s = _score(scene, finder, reference)
        print(f"| {name} | {s['ms']:.2f} | {s['detections']:.0f} of {s['frames']:.0f} "
              f"| {s['longest_miss']:.0f} | {s['extra']:.0f} "
              f"| {s['median']:.2f} / {s['p95']:.2f} / {s['max']:.1f} |")


if __name__ == "__main__":
    cv2.setNumThreads(1)
    bench_followers(Path(sys.argv[1]))
