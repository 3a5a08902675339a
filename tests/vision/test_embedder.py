"""FaceEmbedder (dlib_resnet through onnxruntime) and face_quality: shapes, batching, the model
id, and recognition on the labelled real photos in ../shared/data/faces."""

from __future__ import annotations

import csv
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from edge.models import get_spec
from edge.vision.align import CHIP_PX, CHIP_TEMPLATE, align_faces
from edge.vision.embedder import CHIP_EYE_DISTANCE_PX, FaceEmbedder, face_quality
from tests.shared import require_models, shared_data_dir

F32 = np.float32


@pytest.fixture(scope="module")
def embedder() -> Iterator[FaceEmbedder]:
    require_models()
    yield FaceEmbedder()


def test_model_id_shapes_and_empty_batches(embedder: FaceEmbedder) -> None:
    assert embedder.model_id == "dlib_resnet:" + get_spec("dlib_resnet").sha256[:16]
    assert len(embedder.model_id) == len("dlib_resnet:") + 16
    empty = embedder.embed(np.zeros((120, 160, 3), np.uint8), np.zeros((0, 5, 2), F32))
    assert empty.shape == (0, FaceEmbedder.DIM) and empty.dtype == F32
    assert embedder.embed_chips(np.zeros((0, CHIP_PX, CHIP_PX, 3), np.uint8)).shape == (0, 128)
    with pytest.raises(ValueError, match=r"expected \(K, 150, 150, 3\)"):
        embedder.embed_chips(np.zeros((2, 112, 112, 3), np.uint8))


def test_batch_of_six_equals_one_by_one(embedder: FaceEmbedder) -> None:
    rng = np.random.default_rng(7)
    base = cv2.GaussianBlur(rng.integers(0, 256, (CHIP_PX, CHIP_PX, 3), np.uint8), (9, 9), 3)
    chips = np.stack([np.roll(base, 7 * k, axis=1) for k in range(6)])
    batch = embedder.embed_chips(chips)
    single = np.concatenate([embedder.embed_chips(chips[k : k + 1]) for k in range(6)])
    assert batch.shape == (6, 128) and batch.dtype == F32
    np.testing.assert_allclose(batch, single, rtol=1e-4, atol=1e-5)
    assert np.linalg.norm(batch[0] - batch[3]) > 1e-3  # different chips, different vectors


def test_embed_is_align_then_embed_chips(embedder: FaceEmbedder) -> None:
    rng = np.random.default_rng(8)
    bgr = cv2.GaussianBlur(rng.integers(0, 256, (300, 400, 3), np.uint8), (7, 7), 2)
    shift = np.array([[40, 30], [150, 60]], F32)
    marks = np.stack([CHIP_TEMPLATE + shift[0], CHIP_TEMPLATE * 1.4 + shift[1]]).astype(F32)
    np.testing.assert_array_equal(
        embedder.embed(bgr, marks), embedder.embed_chips(align_faces(bgr, marks))
    )


@pytest.mark.shared
def test_same_person_closer_than_06_and_others_farther(embedder: FaceEmbedder) -> None:
    """The 41 single-face photos of 13 people: every same-person pair below dlib's 0.6,
    every different-person pair above it (measured: same <= 0.56, different >= 0.62)."""
    faces_dir = shared_data_dir("faces")
    from edge.vision.landmarks import FaceAnalyzer

    with (faces_dir / "identities.csv").open(newline="") as f:
        who = {row["file"]: row["identity_group"] for row in csv.DictReader(f)}
    analyzer = FaceAnalyzer()
    names, vectors = sorted(who), []
    for name in names:
        bgr = cv2.imread(str(faces_dir / name))
        det = analyzer.analyze(bgr)
        biggest = int(np.argmax(det.boxes[:, 2]))
        vectors.append(embedder.embed(bgr, det.landmarks[biggest : biggest + 1])[0])
    emb = np.array(vectors)
    dist = np.linalg.norm(emb[:, None] - emb[None], axis=2)
    group = np.array([who[n] for n in names])
    upper = np.triu_indices(len(names), 1)
    same = (group[:, None] == group[None])[upper]
    assert len(set(group)) >= 10 and same.sum() >= 30
    assert dist[upper][same].max() < 0.6, dist[upper][same].max()
    assert dist[upper][~same].min() > 0.6, dist[upper][~same].min()


def test_face_quality_prefers_frontal_large_faces() -> None:
    frontal = CHIP_TEMPLATE.astype(F32)
    turned = frontal.copy()
    turned[2, 0] += 0.3 * CHIP_EYE_DISTANCE_PX  # nose 0.3 eye distances off centre (~25 deg)
    half = frontal * 0.5
    box = np.array([0, 0, CHIP_PX, CHIP_PX], F32)
    marks = np.stack([frontal, turned, half, frontal + 500])
    q = face_quality(marks, np.stack([box, box, box, box]))
    assert q.shape == (4,) and q.dtype == F32
    np.testing.assert_allclose(q[0], 1.0, atol=0.02)  # eyes 54.5 px apart, nose centred
    np.testing.assert_allclose(q[1], 1 - 0.3 / 0.5, atol=0.02)
    np.testing.assert_allclose(q[2], 0.5, atol=0.02)  # half the chip's resolution
    assert q[3] == 0  # landmarks outside their box
    assert face_quality(np.zeros((0, 5, 2), F32), np.zeros((0, 4), F32)).shape == (0,)
