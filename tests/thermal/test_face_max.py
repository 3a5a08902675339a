"""The hot loop (edge.thermal.face_max.FaceMaxLocalMean) against its naive per-face oracle."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from edge.thermal.face_max import FaceMaxLocalMean, face_stat_naive_c

TOL_C = 1e-4


def _random_faces(
    rng: np.random.Generator, shape: tuple[int, int], count: int
) -> npt.NDArray[np.int32]:
    """(H, W) int32 labels with `count` non-overlapping rectangles and ellipses.

    Label ids are a random permutation of 1..count, so nothing relies on placement order.
    A one-pixel gap is kept between faces so no window decides which face a pixel is in.
    """
    height, width = shape
    labels = np.zeros(shape, dtype=np.int32)
    taken = np.zeros(shape, dtype=bool)
    ids = rng.permutation(np.arange(1, count + 1)).astype(np.int32)
    yy, xx = np.mgrid[0:height, 0:width]
    placed = 0
    for _ in range(10_000):
        if placed == count:
            break
        w = int(rng.integers(4, 20))
        h = int(rng.integers(4, 24))
        x = int(rng.integers(0, width - w + 1))
        y = int(rng.integers(0, height - h + 1))
        if taken[max(0, y - 1) : y + h + 1, max(0, x - 1) : x + w + 1].any():
            continue
        if rng.random() < 0.5:
            shape_mask = np.zeros(shape, dtype=bool)
            shape_mask[y : y + h, x : x + w] = True
        else:
            cx, cy = x + w / 2.0, y + h / 2.0
            shape_mask = ((xx + 0.5 - cx) / (w / 2.0)) ** 2 + (
                (yy + 0.5 - cy) / (h / 2.0)
            ) ** 2 <= 1.0
        labels[shape_mask] = ids[placed]
        taken[y : y + h, x : x + w] = True
        placed += 1
    assert placed == count, "could not place all faces; use a larger frame"
    return labels


def _frame(rng: np.random.Generator, shape: tuple[int, int]) -> npt.NDArray[np.float32]:
    # A room at 22 C with 2 C of structure plus noise: every window has a different mean.
    return (22.0 + rng.normal(0.0, 2.0, shape) + rng.random(shape) * 12.0).astype(np.float32)


@pytest.mark.parametrize("faces", [1, 10, 30])
@pytest.mark.parametrize("window_px", [3, 5])
def test_matches_naive_oracle(faces: int, window_px: int) -> None:
    rng = np.random.default_rng(1000 + faces * 10 + window_px)
    shape = (120, 160)
    stat = FaceMaxLocalMean(window_px)
    for _ in range(3):
        temp_c = _frame(rng, shape)
        labels = _random_faces(rng, shape, faces)
        ids = rng.permutation(np.unique(labels[labels > 0])).astype(np.int32)
        assert ids.size == faces
        fast = stat(temp_c, labels, ids)
        naive = face_stat_naive_c(temp_c, labels, ids, window_px)
        assert fast.shape == (faces,)
        assert fast.dtype == np.float32
        np.testing.assert_allclose(fast, naive, rtol=0, atol=TOL_C)
        # The statistic is a local mean: never above the face's hottest raw pixel.
        for lid, value in zip(ids.tolist(), fast.tolist(), strict=True):
            assert value <= float(temp_c[labels == lid].max()) + TOL_C


def test_subset_of_label_ids_in_any_order() -> None:
    rng = np.random.default_rng(7)
    shape = (90, 120)
    temp_c = _frame(rng, shape)
    labels = _random_faces(rng, shape, 12)
    ids = np.array([12, 3, 7], dtype=np.int32)
    fast = FaceMaxLocalMean(3)(temp_c, labels, ids)
    np.testing.assert_allclose(fast, face_stat_naive_c(temp_c, labels, ids), atol=TOL_C)
    # Asking for the same faces in reverse gives the same values in reverse.
    back = FaceMaxLocalMean(3)(temp_c, labels, ids[::-1].copy())
    np.testing.assert_array_equal(back, fast[::-1])


def test_faces_touching_the_frame_border_match_oracle() -> None:
    """Border replication in the box filter must match the oracle's edge padding."""
    rng = np.random.default_rng(11)
    temp_c = _frame(rng, (40, 50))
    labels = np.zeros((40, 50), dtype=np.int32)
    labels[0:6, 0:6] = 1  # top-left corner
    labels[34:40, 44:50] = 2  # bottom-right corner
    labels[15:25, 0:3] = 3  # left edge
    ids = np.array([1, 2, 3], dtype=np.int32)
    for window_px in (3, 5):
        np.testing.assert_allclose(
            FaceMaxLocalMean(window_px)(temp_c, labels, ids),
            face_stat_naive_c(temp_c, labels, ids, window_px),
            atol=TOL_C,
        )


def test_single_hot_pixel_is_diluted_by_the_window() -> None:
    rng = np.random.default_rng(3)
    shape = (120, 160)
    temp_c = np.full(shape, 22.0, dtype=np.float32)
    labels = np.zeros(shape, dtype=np.int32)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    face = ((xx + 0.5 - 80) / 15.0) ** 2 + ((yy + 0.5 - 50) / 18.0) ** 2 <= 1.0
    labels[face] = 1
    temp_c[face] = 34.0 + rng.normal(0.0, 0.1, int(face.sum())).astype(np.float32)
    ids = np.array([1], dtype=np.int32)
    stat = FaceMaxLocalMean(3)
    before = float(stat(temp_c, labels, ids)[0])
    raw_before = float(temp_c[face].max())

    hot = temp_c.copy()
    hot[45, 78] += 10.0  # inside the face, far from the frame border
    assert labels[45, 78] == 1
    after = float(stat(hot, labels, ids)[0])
    raw_after = float(hot[face].max())

    # A 3x3 local mean spreads the +10 C over 9 pixels.
    assert after - before <= 10.0 / 9.0 + TOL_C
    assert after - before > 0.5  # the glint is seen, just not believed
    assert raw_after - raw_before > 9.0  # the plain maximum would jump by ~10 C
    np.testing.assert_allclose(after, face_stat_naive_c(hot, labels, ids)[0], atol=TOL_C)


def test_window_one_is_the_plain_maximum() -> None:
    rng = np.random.default_rng(5)
    temp_c = _frame(rng, (60, 80))
    labels = _random_faces(rng, (60, 80), 5)
    ids = np.arange(1, 6, dtype=np.int32)
    expected = np.array([temp_c[labels == i].max() for i in ids], dtype=np.float32)
    np.testing.assert_array_equal(FaceMaxLocalMean(1)(temp_c, labels, ids), expected)


def test_empty_label_ids_give_empty_array() -> None:
    rng = np.random.default_rng(0)
    stat = FaceMaxLocalMean(3)
    temp_c = _frame(rng, (30, 40))
    none = np.empty(0, dtype=np.int32)
    out = stat(temp_c, np.zeros((30, 40), dtype=np.int32), none)
    assert out.shape == (0,)
    assert out.dtype == np.float32
    # Faces present in the labels but none asked for: still empty.
    labels = _random_faces(rng, (30, 40), 2)
    assert stat(temp_c, labels, none).shape == (0,)
    np.testing.assert_array_equal(face_stat_naive_c(temp_c, labels, none), np.empty(0))


def test_buffers_are_reused_across_frame_sizes() -> None:
    """One instance over frames of changing size (a rotated camera, a different sensor)
    must give each frame its own correct answer, never a stale or mis-shaped buffer."""
    rng = np.random.default_rng(9)
    stat = FaceMaxLocalMean(3)
    shapes = [(120, 160), (120, 160), (60, 80), (160, 120), (120, 160), (33, 47)]
    buffers = []
    for shape in shapes:
        temp_c = _frame(rng, shape)
        labels = _random_faces(rng, shape, 4)
        ids = np.arange(1, 5, dtype=np.int32)
        fast = stat(temp_c, labels, ids)
        np.testing.assert_allclose(fast, face_stat_naive_c(temp_c, labels, ids), atol=TOL_C)
        buffers.append(stat._local)
        assert stat._local is not None and stat._local.shape == shape
    # Same size as the previous frame: the buffer is reused, not reallocated.
    assert buffers[1] is buffers[0]
    assert buffers[2] is not buffers[1]


def test_same_size_frames_do_not_return_stale_values() -> None:
    rng = np.random.default_rng(13)
    stat = FaceMaxLocalMean(3)
    shape = (48, 64)
    labels = _random_faces(rng, shape, 3)
    ids = np.arange(1, 4, dtype=np.int32)
    first = _frame(rng, shape)
    a = stat(first, labels, ids).copy()
    b = stat(first + np.float32(1.5), labels, ids)
    np.testing.assert_allclose(b - a, 1.5, atol=TOL_C)
    # The returned array is not the caller's to worry about: the next call must not change it.
    kept = b.copy()
    stat(first - np.float32(3.0), labels, ids)
    np.testing.assert_array_equal(b, kept)
