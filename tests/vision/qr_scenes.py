"""Synthetic 640x480 BGR frames with QR codes in them, for the QR reader's tests and bench.

A code is made by segno, placed by a pinhole projection (in-plane roll, out-of-plane tilt about
the vertical axis) and rendered at SUPERSAMPLE times the frame resolution, then area-averaged
down: that is what a camera pixel does (it integrates light), so codes of 1.5 px per module get
the grey mixed edges a real sensor gives, not the aliasing of a nearest-pixel warp. Then optional
Gaussian blur (defocus / motion), sensor noise and a "thumb" covering part of the code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import segno

FRAME_W, FRAME_H = 640, 480
SUPERSAMPLE = 4
QUIET_MODULES = 4  # the QR standard's quiet zone
FOCAL_PX = 554.0  # 640 px over a 60 degree horizontal field of view: f = 320 / tan(30 deg)
DARK, LIGHT = 35, 225  # a printed or on-screen code never spans the full 0..255
SKIN_TONE = 0.55  # a thumb, as a tone between DARK (0) and LIGHT (1)
PSF_SIGMA_PX = 0.5  # lens and demosaicing blur of a cheap RGB camera, even in focus

# Payloads. DCC: the alphanumeric HC1 texts are 450-650 characters (versions 12-16 at level M);
# the compound's own Ed25519 passes are ~200 (version ~8).
COMPOUND_TEXT = "GE1:" + "6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEPWK G2EP4J0B" * 3
DCC_TEXT = "HC1:" + "NCFU A4C86WQ:20%612N3 %17AF+7LLNCC/84P9:-C*0H+Y9$TRN+MD$D6YRIEF1AM7RD/R" * 7


@dataclass(frozen=True)
class Placement:
    """One code in the frame: centre in frame px, size as px per module at the code centre,
    roll (in-plane, degrees), tilt (out of plane about the vertical axis, degrees)."""

    text: str
    centre_xy: tuple[float, float] = (FRAME_W / 2, FRAME_H / 2)
    module_px: float = 3.0
    roll_deg: float = 0.0
    tilt_deg: float = 0.0
    error: str = "m"


def qr_matrix(text: str, error: str = "m") -> npt.NDArray[np.uint8]:
    """(n, n) uint8 module image, 0 = dark, 1 = light, quiet zone included."""
    code = segno.make(text, error=error, micro=False, boost_error=False)
    dark = np.array(code.matrix, dtype=bool)
    return np.pad(~dark, QUIET_MODULES, constant_values=True).astype(np.uint8)


def placed_corners(p: Placement, modules: int) -> npt.NDArray[np.float32]:
    """(4, 2) frame px of the code's outer corners (quiet zone included): TL, TR, BR, BL."""
    half = modules * p.module_px / 2.0  # side in px at the distance where 1 px = 1 unit
    square = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    roll = math.radians(p.roll_deg)
    rot = np.array([[math.cos(roll), -math.sin(roll)], [math.sin(roll), math.cos(roll)]])
    xy = square @ rot.T
    tilt = math.radians(p.tilt_deg)  # rotate about the vertical axis, then project
    x3, z3 = xy[:, 0] * math.cos(tilt), FOCAL_PX + xy[:, 0] * math.sin(tilt)
    u = FOCAL_PX * x3 / z3 + p.centre_xy[0]
    v = FOCAL_PX * xy[:, 1] / z3 + p.centre_xy[1]
    return np.stack([u, v], axis=1).astype(np.float32)


def background(seed: int) -> npt.NDArray[np.uint8]:
    """A cluttered 640x480 scene: gradient, blocky shapes and texture (no QR-like structure)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    base = 90 + 60 * (xs / FRAME_W) + 30 * np.sin(ys / 37.0)
    bgr = np.repeat(base[:, :, None], 3, axis=2) * np.array([0.9, 1.0, 1.1], np.float32)
    for _ in range(12):
        x, y = int(rng.integers(0, FRAME_W)), int(rng.integers(0, FRAME_H))
        w, h = int(rng.integers(20, 160)), int(rng.integers(20, 160))
        colour = tuple(int(c) for c in rng.integers(20, 235, 3))
        cv2.rectangle(bgr, (x, y), (x + w, y + h), colour, -1)
    bgr += rng.normal(0, 12, (FRAME_H // 8, FRAME_W // 8, 3)).repeat(8, 0).repeat(8, 1)
    return np.clip(bgr, 0, 255).astype(np.uint8)


def render(placements: list[Placement], *, seed: int = 0, blur_sigma_px: float = 0.0,
           noise_sigma: float = 3.0, psf_sigma_px: float = PSF_SIGMA_PX,
           cover: tuple[float, float, float, float] | None = None) -> npt.NDArray[np.uint8]:
    """A (480, 640, 3) uint8 BGR frame with the codes drawn in. `cover` = (x0, y0, x1, y1), a
    skin-coloured "thumb" over that part of the first code, in fractions of the code's side in
    its own frame (quiet zone included; (0, 0, 0.3, 1) hides both left finder patterns).
    The lens PSF and `blur_sigma_px` (defocus, motion) add as Gaussians."""
    frame = background(seed).astype(np.float32)
    for i, p in enumerate(placements):
        _draw(frame, p, cover if i == 0 else None)
    sigma = float(np.hypot(psf_sigma_px, blur_sigma_px))
    if sigma > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), sigma)
    rng = np.random.default_rng(seed + 1)
    frame += rng.normal(0, noise_sigma, frame.shape).astype(np.float32)
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def _draw(frame: npt.NDArray[np.float32], p: Placement,
          cover: tuple[float, float, float, float] | None) -> None:
    """Paint one code into `frame` in place; only its bounding window is supersampled."""
    matrix = qr_matrix(p.text, p.error)
    n, s = matrix.shape[0], SUPERSAMPLE
    corners = placed_corners(p, n)
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 1, 0)
    x1 = min(int(np.ceil(corners[:, 0].max())) + 1, FRAME_W)
    y1 = min(int(np.ceil(corners[:, 1].max())) + 1, FRAME_H)
    if x1 <= x0 or y1 <= y0:
        return
    shift = np.array([[s, 0, -s * x0], [0, s, -s * y0], [0, 0, 1]], np.float64)
    warp = shift @ code_homography(p, n)
    size = ((x1 - x0) * s, (y1 - y0) * s)
    flags = cv2.INTER_NEAREST  # modules are hard-edged; the area resize does the mixing
    tone = cv2.warpPerspective(matrix.astype(np.float32), warp, size, flags=flags)
    if cover is not None:
        cx0, cy0, cx1, cy1 = (v * n for v in cover)
        thumb = np.zeros((n, n), np.float32)
        thumb[max(0, int(cy0)):int(np.ceil(cy1)), max(0, int(cx0)):int(np.ceil(cx1))] = 1
        thumb = cv2.warpPerspective(thumb, warp, size, flags=flags)
        tone = np.where(thumb > 0, np.float32(SKIN_TONE), tone)
    mask = cv2.warpPerspective(np.ones((n, n), np.float32), warp, size, flags=flags)
    tone = cv2.resize(tone, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(mask, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)[:, :, None]
    grey = (DARK + (LIGHT - DARK) * tone)[:, :, None]
    window = frame[y0:y1, x0:x1]
    window[...] = window * (1 - mask) + grey * mask


def code_homography(p: Placement, modules: int) -> npt.NDArray[np.float64]:
    """3x3 map from module coordinates (0..n, quiet zone included) to frame pixels."""
    src = np.array([[0, 0], [modules, 0], [modules, modules], [0, modules]], np.float32)
    return np.asarray(cv2.getPerspectiveTransform(src, placed_corners(p, modules)), np.float64)


def symbol_corners(p: Placement) -> npt.NDArray[np.float32]:
    """(4, 2) frame px of the symbol's corners (quiet zone excluded), TL, TR, BR, BL in the
    symbol's own orientation: what a reader should report."""
    n = qr_matrix(p.text, p.error).shape[0]
    q, e = QUIET_MODULES, n - QUIET_MODULES
    pts = np.array([[[q, q], [e, q], [e, e], [q, e]]], np.float64)
    return cv2.perspectiveTransform(pts, code_homography(p, n))[0].astype(np.float32)
