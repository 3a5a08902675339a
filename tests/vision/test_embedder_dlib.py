"""Cross-check of the converted embedder against dlib itself (the `crosscheck` extra:
dlib-bin + face-recognition-models, which ship dlib's own copy of the same network).

1. The SAME 150x150 chips (from our aligner) through dlib's face_recognition_model_v1 and
   through our ONNX: cosine >= 0.999 on every photo (uint8 weights in face-api's copy).
2. Our whole path (BlazeFace + O-Net + our alignment + ONNX) against dlib's whole path (HOG
   detector + shape_predictor_5 + its own chip + its network): reported, and checked only
   loosely (every distance well under dlib's 0.6 same-person threshold).

Run with -s to see the numbers.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.vision.align import align_faces
from edge.vision.embedder import FaceEmbedder
from tests.shared import require_models, shared_data_dir, skip_or_fail

pytestmark = pytest.mark.shared

MIN_COSINE = 0.999
MAX_PIPELINE_DISTANCE = 0.3  # half of dlib's same-person threshold


def _dlib() -> tuple[Any, Any]:
    try:
        dlib = importlib.import_module("dlib")
        frm = importlib.import_module("face_recognition_models")
    except ImportError as exc:
        skip_or_fail(f"dlib cross-check needs the crosscheck extra (dlib-bin, "
                     f"face-recognition-models; make test-deps installs it): {exc}")
        raise  # unreachable: skip_or_fail raises
    return dlib, frm


@pytest.fixture(scope="module")
def photos() -> list[Path]:
    faces_dir = shared_data_dir("faces")
    found = sorted(faces_dir.glob("img*.jpg"))
    assert len(found) >= 40, found
    return found


@pytest.fixture(scope="module")
def ours() -> tuple[FaceEmbedder, Any]:
    require_models()
    from edge.vision.landmarks import FaceAnalyzer

    return FaceEmbedder(), FaceAnalyzer()


def _our_chip(analyzer: Any, bgr: np.ndarray) -> np.ndarray:
    det = analyzer.analyze(bgr)
    assert det.count >= 1
    biggest = int(np.argmax(det.boxes[:, 2]))
    return align_faces(bgr, det.landmarks[biggest : biggest + 1])


def test_same_chips_give_dlibs_descriptors(photos: list[Path], ours: tuple[Any, Any]) -> None:
    dlib, frm = _dlib()
    network = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    embedder, analyzer = ours
    cosines = []
    for path in photos:
        chips = _our_chip(analyzer, cv2.imread(str(path)))
        mine = embedder.embed_chips(chips)[0].astype(np.float64)
        theirs = np.array(network.compute_face_descriptor(np.ascontiguousarray(chips[0])))
        cosines.append(mine @ theirs / np.linalg.norm(mine) / np.linalg.norm(theirs))
    values = np.array(cosines)
    print(f"\nsame chips, ONNX vs dlib: cosine min {values.min():.5f} mean {values.mean():.5f} "
          f"over {len(values)} photos")
    worst = photos[int(values.argmin())].name
    assert values.min() >= MIN_COSINE, f"{worst}: cosine {values.min():.5f}"


def test_our_pipeline_close_to_dlibs_pipeline(photos: list[Path], ours: tuple[Any, Any]) -> None:
    dlib, frm = _dlib()
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    network = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    embedder, analyzer = ours
    distances, names = [], []
    for path in photos:
        bgr = cv2.imread(str(path))
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        rects = detector(rgb, 1)
        if not rects:
            continue
        rect = max(rects, key=lambda r: r.width() * r.height())
        theirs = np.array(network.compute_face_descriptor(rgb, predictor(rgb, rect)))
        mine = embedder.embed_chips(_our_chip(analyzer, bgr))[0]
        distances.append(float(np.linalg.norm(mine - theirs)))
        names.append(path.name)
    d = np.array(distances)
    print(f"\nour pipeline vs dlib's, Euclidean distance over {len(d)} photos: mean {d.mean():.3f} "
          f"median {np.median(d):.3f} p90 {np.percentile(d, 90):.3f} max {d.max():.3f} "
          f"({names[int(d.argmax())]})")
    assert len(d) >= 0.9 * len(photos)
    assert d.max() < MAX_PIPELINE_DISTANCE, f"{names[int(d.argmax())]}: {d.max():.3f}"
