"""Derive edge.vision.align.CHIP_TEMPLATE: where our five O-Net landmarks sit in dlib's chip.

For every single-face photo in ../shared/data/faces: dlib's HOG detector (1 upsample) +
shape_predictor_5_face_landmarks + get_face_chip_details(size 150, padding 0.25) give dlib's
chip; its image -> chip affine is rebuilt exactly as dlib's get_mapping_to_chip does (chip
corners (0, 0), (149, 0), (149, 149) from the rect's corners rotated by `angle`). Our
FaceAnalyzer's landmarks on the same photo go through that affine; the template is their mean.

Printed: the template, per-point spread, how far our chips' corners land from dlib's with
the template (chip px), and a check of the rebuilt affine: our warp through it against
dlib.get_face_chip (mean absolute pixel difference, 0..255).

Needs the crosscheck extra (dlib-bin, face-recognition-models) and the face models.
Run: .venv/bin/python bench/face_chip_template.py [--faces DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.vision.align import CHIP_PX, chip_transforms, warp_chips
from edge.vision.landmarks import FaceAnalyzer

PADDING = 0.25
FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"


def dlib_models() -> tuple[Any, Any, Any]:
    """dlib's detector, 5-point shape predictor and face recognition model."""
    import dlib
    import face_recognition_models as frm

    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
        dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
    )


def dlib_chip_affine(details: Any) -> npt.NDArray[np.float64]:
    """dlib's get_mapping_to_chip(details): the (2, 3) image -> chip affine."""
    rect = details.rect
    cx, cy = (rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2
    cos, sin = np.cos(details.angle), np.sin(details.angle)

    def rotated(x: float, y: float) -> list[float]:
        dx, dy = x - cx, y - cy
        return [cos * dx - sin * dy + cx, sin * dx + cos * dy + cy]

    src = np.float32([rotated(rect.left(), rect.top()), rotated(rect.right(), rect.top()),
                      rotated(rect.right(), rect.bottom())])
    dst = np.float32([[0, 0], [details.cols - 1, 0], [details.cols - 1, details.rows - 1]])
    return cv2.getAffineTransform(src, dst).astype(np.float64)


def dlib_face(rgb: npt.NDArray[np.uint8], detector: Any, predictor: Any) -> Any:
    """dlib's 5-point shape of the largest face, or None."""
    rects = detector(rgb, 1)
    if not rects:
        return None
    rect = max(rects, key=lambda r: r.width() * r.height())
    return predictor(rgb, rect)


def ours_nearest(analyzer: FaceAnalyzer, bgr: npt.NDArray[np.uint8], centre: Any) -> Any:
    """Our landmarks (5, 2) of the face whose eye midpoint is nearest `centre`, or None."""
    det = analyzer.analyze(bgr)
    if det.count == 0:
        return None
    marks = det.landmarks
    mid = marks[:, :2].mean(axis=1)
    return marks[int(np.argmin(np.hypot(*(mid - centre).T)))]


def collect(faces: Path) -> dict[str, Any]:
    import dlib

    detector, predictor, _ = dlib_models()
    analyzer = FaceAnalyzer()
    rows: dict[str, Any] = {"names": [], "chip_pts": [], "affines": [], "marks": [], "mae": []}
    for path in sorted(faces.glob("img*.jpg")):
        bgr = cv2.imread(str(path))
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        shape = dlib_face(rgb, detector, predictor)
        if shape is None:
            print(f"{path.name}: dlib finds no face, skipped", file=sys.stderr)
            continue
        affine = dlib_chip_affine(dlib.get_face_chip_details(shape, CHIP_PX, PADDING))
        centre = np.array([[shape.part(i).x, shape.part(i).y] for i in range(4)]).mean(axis=0)
        marks = ours_nearest(analyzer, bgr, centre)
        if marks is None:
            print(f"{path.name}: our analyzer finds no face, skipped", file=sys.stderr)
            continue
        ours = warp_chips(bgr, affine[None])[0].astype(np.float32)
        theirs = dlib.get_face_chip(rgb, shape, CHIP_PX, PADDING).astype(np.float32)
        rows["names"].append(path.name)
        rows["chip_pts"].append(np.c_[marks, np.ones(5)] @ affine.T)
        rows["affines"].append(affine)
        rows["marks"].append(marks)
        rows["mae"].append(float(np.abs(ours - theirs).mean()))
    return rows


def corner_error(ours: npt.NDArray[np.float32], theirs: npt.NDArray[np.float64]) -> float:
    """Mean distance (chip px) between where two frame -> chip affines put the chip corners."""
    corners = np.array([[0, 0], [CHIP_PX, 0], [0, CHIP_PX], [CHIP_PX, CHIP_PX]], np.float64)
    inv = cv2.invertAffineTransform(theirs)
    frame = np.c_[corners, np.ones(4)] @ inv.T
    mapped = np.c_[frame, np.ones(4)] @ np.asarray(ours, np.float64).T
    return float(np.hypot(*(mapped - corners).T).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=FACES)
    args = parser.parse_args()
    rows = collect(args.faces)
    pts = np.array(rows["chip_pts"])  # (n, 5, 2)
    template = pts.mean(axis=0)
    print(f"photos: {len(pts)} (of {len(list(args.faces.glob('img*.jpg')))})")
    print("CHIP_TEMPLATE = [" + ", ".join(f"[{x:.2f}, {y:.2f}]" for x, y in template) + "]")
    spread = np.sqrt((pts - template).reshape(len(pts), 5, 2).var(axis=0).mean(axis=1))
    print("CHIP_SPREAD_PX = [" + ", ".join(f"{s:.2f}" for s in spread) + "]")
    import edge.vision.align as align

    align.CHIP_TEMPLATE = template.astype(np.float32)  # measure with the fresh constants
    for label, weights in (("unweighted", np.ones(5)), ("weighted", spread)):
        align.CHIP_SPREAD_PX = weights.astype(np.float32)
        ours = chip_transforms(np.array(rows["marks"], np.float32))
        errors = [corner_error(o, t) for o, t in zip(ours, rows["affines"], strict=True)]
        print(f"{label}: corner error vs dlib's chip (chip px): mean {np.mean(errors):.2f}, "
              f"median {np.median(errors):.2f}, max {np.max(errors):.2f} "
              f"({rows['names'][int(np.argmax(errors))]})")
    mae = np.array(rows["mae"])
    print(f"dlib's affine rebuilt, our warp vs dlib.get_face_chip: mean |diff| {mae.mean():.2f} "
          f"(max {mae.max():.2f}) grey levels")


if __name__ == "__main__":
    main()
