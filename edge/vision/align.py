"""Face alignment: dlib's 150x150 "face chip" from our five O-Net landmarks.

dlib's descriptor network was trained on chips made by `dlib.get_face_chip(img, shape, 150,
padding=0.25)`: a similarity transform that puts dlib's own 5-point shape (eye corners, base
of the nose) on a fixed template. Our landmarks are different points (eye centres, nose tip,
mouth corners, edge.vision.types), so `CHIP_TEMPLATE` holds where OUR five points land in
dlib's chip, measured on the shared photos (bench/face_chip_template.py):

    for every single-face photo in ../shared/data/faces (44): dlib's HOG detector +
    shape_predictor_5_face_landmarks + get_face_chip_details(size 150, padding 0.25) give
    dlib's image -> chip affine (its get_mapping_to_chip); our FaceAnalyzer's landmarks on the
    same photo are mapped through it; the template is the mean over the photos (41), and
    CHIP_SPREAD_PX each point's spread about it (std, chip px).

A face's transform is the weighted least-squares similarity onto the template (Umeyama's, in
closed form for 2-D: rotation + scale is the complex number sum(w conj(p) q) / sum(w |p|^2)
over weighted-centred points), all K faces at once. The weights are the inverse variances
1 / CHIP_SPREAD_PX^2, so the eyes (spread ~1 px: 4 of dlib's 5 points are eye corners) count
far more than nose and mouth (~3 px, they move with expression and pose). On the 41 photos
this puts our chip's corners 2.5 px (mean; max 5.0) from dlib's instead of 3.6 (max 8.6)
unweighted, and the descriptor 0.095 (mean Euclidean distance; max 0.149) from the one of
dlib's chip instead of 0.111 (max 0.181); dlib's same-person threshold is 0.6.

The warp is one cv2.warpAffine per face (bilinear, black border like dlib's), a loop over
faces, never pixels: for 6 faces of a 640x480 frame it takes 0.8 ms against 24 ms for a
vectorised numpy bilinear gather of all 6 x 150 x 150 x 3 samples (same pixels within 1 grey
level), and each face may need its own pre-shrink: like dlib's extract_image_chips, a face
more than twice the chip's size is first halved with an image pyramid (cv2.pyrDown on a crop
around the face), so a big enrolment photo is not resampled by sparse bilinear taps.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

CHIP_PX = 150

# Our five landmarks (image-left eye centre, image-right eye centre, nose tip, mouth left,
# mouth right) in dlib's 150x150 chip, padding 0.25, and their spread: see the docstring.
CHIP_TEMPLATE = np.array(
    [[46.50, 44.67], [100.99, 44.77], [73.18, 76.97], [48.90, 100.03], [99.32, 100.15]],
    np.float32,
)
CHIP_SPREAD_PX = np.array([0.84, 1.05, 2.86, 3.52, 3.32], np.float32)

_MAX_LEVELS = 8  # a 38400 px wide face: beyond any camera
_PYRAMID_MARGIN_PX = 4  # context kept around the face's region for pyrDown's 5x5 kernel

FloatArray = npt.NDArray[np.float32]


def chip_transforms(landmarks: FloatArray) -> FloatArray:
    """(K, 5, 2) landmarks in frame pixels -> (K, 2, 3) float32 frame -> chip affines.

    Each is the weighted least-squares similarity taking the face's landmarks onto
    CHIP_TEMPLATE (weights 1 / CHIP_SPREAD_PX^2).
    Degenerate landmarks (all in one point) give a zero scale: an all-black chip.
    """
    pts = np.asarray(landmarks, np.float64).reshape(-1, 5, 2)
    weight = 1.0 / np.square(CHIP_SPREAD_PX.astype(np.float64))
    weight /= weight.sum()
    src = pts[..., 0] + 1j * pts[..., 1]  # (K, 5) complex
    dst = CHIP_TEMPLATE[:, 0].astype(np.float64) + 1j * CHIP_TEMPLATE[:, 1]
    src_mean = (src * weight).sum(axis=1, keepdims=True)
    dst_mean = (dst * weight).sum()
    src_c, dst_c = src - src_mean, dst - dst_mean
    power = (weight * np.abs(src_c) ** 2).sum(axis=1)
    z = (weight * np.conj(src_c) * dst_c).sum(axis=1) / np.maximum(power, 1e-12)  # s e^(i theta)
    shift = dst_mean - z * src_mean[:, 0]
    out = np.empty((pts.shape[0], 2, 3), np.float64)
    out[:, 0, 0], out[:, 0, 1], out[:, 0, 2] = z.real, -z.imag, shift.real
    out[:, 1, 0], out[:, 1, 1], out[:, 1, 2] = z.imag, z.real, shift.imag
    return out.astype(np.float32)


def _pyramid_source(
    bgr: npt.NDArray[np.uint8], affine: npt.NDArray[np.float64], levels: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float64]]:
    """The face's region of the frame halved `levels` times, and the affine from it to the chip.

    A pyrDown pixel i is centred on pixel 2i of its input, so a level-n pixel (x, y) of a crop
    at (x0, y0) is the frame point (x0 + 2^n x, y0 + 2^n y).
    """
    inverse = cv2.invertAffineTransform(affine)
    corners = np.array([[0, 0, 1], [CHIP_PX, 0, 1], [0, CHIP_PX, 1], [CHIP_PX, CHIP_PX, 1]])
    frame_pts = corners @ inverse.T
    h, w = bgr.shape[:2]
    margin = _PYRAMID_MARGIN_PX << levels
    x0, y0 = (np.floor(frame_pts.min(axis=0)) - margin).astype(int)
    x1, y1 = (np.ceil(frame_pts.max(axis=0)) + margin).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:  # the face's chip lies outside the frame
        return bgr, affine
    region, factor = bgr[y0:y1, x0:x1], 1.0
    for _ in range(levels):
        if min(region.shape[:2]) < 4:
            break
        region, factor = np.asarray(cv2.pyrDown(region), np.uint8), factor * 2
    to_frame = np.array([[factor, 0.0, x0], [0.0, factor, y0], [0.0, 0.0, 1.0]])
    return np.ascontiguousarray(region), affine @ to_frame


def align_faces(bgr: npt.NDArray[np.uint8], landmarks: FloatArray) -> npt.NDArray[np.uint8]:
    """(K, 150, 150, 3) uint8 RGB chips of the faces of a BGR frame, dlib-aligned.

    bgr: (H, W, 3) uint8; landmarks: (K, 5, 2) float32 frame pixels. K == 0 gives (0, 150,
    150, 3). Outside the frame the chip is black, as in dlib.
    """
    return warp_chips(bgr, chip_transforms(landmarks))


def warp_chips(bgr: npt.NDArray[np.uint8], affines: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """(K, 150, 150, 3) uint8 RGB chips of a BGR frame through (K, 2, 3) frame -> chip affines."""
    affines = np.asarray(affines, np.float64).reshape(-1, 2, 3)
    chips = np.empty((affines.shape[0], CHIP_PX, CHIP_PX, 3), np.uint8)
    scales = np.hypot(affines[:, 0, 0], affines[:, 1, 0])  # chip px per frame px
    # dlib's rule: halve while the face region stays above the chip size (chip scale < 1/2)
    levels = np.ceil(-np.log2(np.maximum(scales, 1e-9))) - 1
    levels = np.where(scales > 0, np.clip(levels, 0, _MAX_LEVELS), 0).astype(int)
    for k in range(affines.shape[0]):  # per face, never per pixel
        source, affine = bgr, affines[k]
        if levels[k] > 0:
            source, affine = _pyramid_source(bgr, affine, int(levels[k]))
        cv2.warpAffine(
            source, affine, (CHIP_PX, CHIP_PX), dst=chips[k], flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0),
        )
    return chips[..., ::-1].copy()  # BGR -> RGB, contiguous for onnxruntime
