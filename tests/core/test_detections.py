"""edge.core.detections: the one detections type (shapes checked, masks, columns) and IoU."""

from __future__ import annotations

import numpy as np
import pytest

from edge.core.detections import Detections, iou_matrix

F32 = np.float32


def test_iou_matrix_xywh() -> None:
    box = np.array([[0, 0, 10, 10]], F32)
    # The same boxes as the detector's corner-form NMS test, in x, y, w, h.
    others = np.array([[5, 5, 10, 10], [0, 0, 10, 10], [20, 20, 10, 10], [3, 3, 0, 0]], F32)
    np.testing.assert_allclose(iou_matrix(box, others)[0], [25 / 175, 1.0, 0.0, 0.0])
    assert iou_matrix(np.zeros((0, 4)), others).shape == (0, 4)


def test_build_defaults_and_checks() -> None:
    dets = Detections.build([[1, 2, 3, 4], [5, 6, 7, 8]], "thermal", label_id=np.array([1, 2]))
    assert dets.count == 2 and len(dets) == 2
    assert dets.boxes.dtype == F32 and dets.scores.tolist() == [1.0, 1.0]
    assert dets.measurable.all() and dets.reasons.tolist() == ["", ""]
    assert dets.label_ids.tolist() == [1, 2] and dets.frame == "thermal"
    with pytest.raises(ValueError, match="scores"):
        Detections(dets.boxes, np.ones(3, F32), dets.measurable, dets.reasons, "thermal")
    with pytest.raises(ValueError, match="boxes: dtype float64"):
        Detections(dets.boxes.astype(np.float64), dets.scores, dets.measurable, dets.reasons,
                   "rgb")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"columns\['emb'\]"):
        dets.with_columns(emb=np.zeros((3, 128), F32))
    with pytest.raises(ValueError, match="frame"):
        Detections.build([[0, 0, 1, 1]], "depth")  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="no column 'landmarks'"):
        _ = dets.landmarks


def test_mask_indexing_keeps_columns_aligned() -> None:
    lm = np.arange(3 * 5 * 2, dtype=F32).reshape(3, 5, 2)
    dets = Detections.build(
        np.arange(12, dtype=F32).reshape(3, 4), "rgb",
        scores=[0.9, 0.8, 0.7], measurable=[True, False, True], reasons=["", "small", ""],
        landmarks=lm,
    )
    kept = dets[dets.measurable]
    assert kept.count == 2 and kept.frame == "rgb"
    np.testing.assert_array_equal(kept.boxes, dets.boxes[[0, 2]])
    np.testing.assert_array_equal(kept.landmarks, lm[[0, 2]])
    assert kept.scores.tolist() == pytest.approx([0.9, 0.7])
    assert dets[~dets.measurable].reasons.tolist() == ["small"]
    with pytest.raises(IndexError):
        _ = dets[np.array([True, False])]


def test_empty_has_the_same_columns() -> None:
    empty = Detections.empty("rgb", landmarks=((5, 2), F32))
    assert empty.count == 0 and empty.landmarks.shape == (0, 5, 2)
    assert empty[empty.measurable].count == 0
    assert empty.int_boxes().shape == (0, 4)
