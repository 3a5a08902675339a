"""Face alignment: the similarity fit against an independent Umeyama (SVD), the warp's pixels
and channel order, the pyramid pre-shrink of big faces, and real photos."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.vision.align import (
    CHIP_PX,
    CHIP_SPREAD_PX,
    CHIP_TEMPLATE,
    align_faces,
    chip_transforms,
    warp_chips,
)
from tests.shared import require_models, shared_data_dir

F32 = np.float32


F64 = npt.NDArray[np.float64]


def _similarity(scale: float, angle_rad: float, shift: tuple[float, float]) -> F64:
    c, s = scale * np.cos(angle_rad), scale * np.sin(angle_rad)
    return np.array([[c, -s, shift[0]], [s, c, shift[1]]])


def _apply(affine: F64, pts: npt.NDArray[np.float32]) -> F64:
    return np.asarray(pts, np.float64) @ affine[:, :2].T + affine[:, 2]


def _umeyama_svd(src: F64, dst: F64, w: F64) -> F64:
    """Weighted Umeyama (1991) by SVD, one face: the textbook form, as an independent check."""
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    sc, dc = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd((dc * w[:, None]).T @ sc)
    d = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
    rot = u @ d @ vt
    scale = np.trace(np.diag(sig) @ d) / (w @ (sc**2).sum(axis=1))
    return np.c_[scale * rot, mu_d - scale * rot @ mu_s]


def test_chip_transforms_recover_known_similarities_and_match_umeyama() -> None:
    truths = [_similarity(0.5, 0.3, (-20, 7)), _similarity(2.0, -1.2, (40, -3)),
              _similarity(0.1, 3.0, (100, 90))]
    # Landmarks that each truth maps exactly onto the template (frame = truth^-1(template)).
    marks = np.stack([
        _apply(np.asarray(cv2.invertAffineTransform(t)), CHIP_TEMPLATE) for t in truths
    ]).astype(F32)
    got = chip_transforms(marks)
    assert got.shape == (3, 2, 3) and got.dtype == F32
    for k, truth in enumerate(truths):
        np.testing.assert_allclose(got[k], truth, rtol=1e-4, atol=1e-3)

    rng = np.random.default_rng(1)
    noisy = marks + rng.normal(0, 3, marks.shape).astype(F32)
    weights = 1.0 / np.square(CHIP_SPREAD_PX.astype(np.float64))
    fitted = chip_transforms(noisy)
    for k in range(3):
        want = _umeyama_svd(noisy[k].astype(np.float64), CHIP_TEMPLATE.astype(np.float64), weights)
        np.testing.assert_allclose(fitted[k], want, rtol=1e-4, atol=1e-3)
    assert chip_transforms(np.zeros((0, 5, 2), F32)).shape == (0, 2, 3)


def test_align_faces_warps_each_face_and_returns_rgb() -> None:
    rng = np.random.default_rng(2)
    bgr = cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), np.uint8), (5, 5), 2)
    bgr[:, :, 0] = 255  # blue channel saturated: it must end up last in the RGB chip
    truths = [_similarity(1.5, 0.2, (-60, -40)), _similarity(0.9, -0.1, (-80, 10))]
    marks = np.stack([
        _apply(np.asarray(cv2.invertAffineTransform(t)), CHIP_TEMPLATE) for t in truths
    ]).astype(F32)
    chips = align_faces(bgr, marks)
    assert chips.shape == (2, CHIP_PX, CHIP_PX, 3) and chips.dtype == np.uint8
    assert chips.flags.c_contiguous
    for k, truth in enumerate(truths):
        want = cv2.warpAffine(bgr, truth, (CHIP_PX, CHIP_PX), flags=cv2.INTER_LINEAR)[..., ::-1]
        diff = np.abs(chips[k].astype(int) - want.astype(int))
        assert np.percentile(diff, 99) <= 1, k
    inside = chips[:, 30:120, 30:120]
    assert (inside[..., 2] == 255).all() and inside[..., 0].std() > 5
    assert align_faces(bgr, np.zeros((0, 5, 2), F32)).shape == (0, CHIP_PX, CHIP_PX, 3)


def test_big_faces_are_shrunk_through_a_pyramid_not_aliased() -> None:
    """A 1-px checkerboard seen at 1/5 scale must come out grey, as dlib's pyramid makes it;
    plain bilinear sampling at that scale would keep full-contrast aliasing."""
    yy, xx = np.mgrid[0:1200, 0:1200]
    board = np.where((xx + yy) % 2 == 0, 255, 0).astype(np.uint8)
    bgr = np.repeat(board[..., None], 3, axis=2)
    affine = _similarity(0.2, 0.05, (-30, -20))  # chip px per frame px = 0.2: 2 pyramid levels
    chip = warp_chips(bgr, affine[None])[0]
    naive = cv2.warpAffine(bgr, affine, (CHIP_PX, CHIP_PX), flags=cv2.INTER_LINEAR)
    assert naive.std() > 40  # the aliasing this guards against
    assert chip.std() < 12 and abs(float(chip.mean()) - 127.5) < 10


@pytest.mark.shared
def test_real_faces_land_on_the_template() -> None:
    """On real photos our chips put the eyes where dlib's chips have them: O-Net on the chip
    (re-detected) finds the eyes within 3 px of the template's eye points."""
    faces_dir = shared_data_dir("faces")
    require_models()
    from edge.vision.landmarks import FaceAnalyzer

    analyzer = FaceAnalyzer()
    errors = []
    for name in ("img5.jpg", "img27.jpg", "img50.jpg", "img12.jpg"):
        bgr = cv2.imread(str(faces_dir / name))
        det = analyzer.analyze(bgr)
        chip = align_faces(bgr, det.landmarks[:1])[0]
        canvas = np.zeros((450, 450, 3), np.uint8)  # the detector wants context around a face
        canvas[150:300, 150:300] = chip[..., ::-1]
        again = analyzer.analyze(canvas)
        assert again.count >= 1, name
        eyes = again.landmarks[0, :2] - 150
        errors.append(np.hypot(*(eyes - CHIP_TEMPLATE[:2]).T).max())
    assert max(errors) < 3.0, errors
