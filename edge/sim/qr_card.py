"""A QR pass held up to the RGB camera (edge.sim.rgb): a printed card or a phone screen
carrying a QR symbol, seen in perspective, composited into the RGB frame; in the thermal frame
the same outline is a cold object (a card or a phone at room temperature) with the holding
hand's thumb at hand temperature.

The symbol arrives as a boolean module matrix (True = dark) from the caller: the simulator
never encodes a pass itself (edge.sim may not import edge.identity). Geometry is pinhole
projection of a flat rectangle rotated in plane (roll) and out of plane (yaw, pitch) at the
distance the card is held from the camera; everything is vectorised numpy / OpenCV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]
B = npt.NDArray[np.bool_]

QUIET_MODULES = 4  # the QR specification's quiet zone, white on a card and on a screen
TEXTURE_PX_PER_MODULE = 8  # the card is drawn this fine, then warped down
CARD_MARGIN = 0.05  # card border beyond the quiet zone, share of the symbol side (thumb room)
PHONE_BEZEL = 0.04  # phone body beyond the lit screen, share of the symbol side
PAPER_BGR = (236, 240, 242)
INK_BGR = (24, 22, 20)
SCREEN_WHITE_BGR = (250, 248, 246)
SCREEN_DARK_BGR = (35, 30, 28)
PHONE_BGR = (28, 28, 32)
THUMB_SHADE = 0.92  # the thumb is a little darker than the face's skin colour


@dataclass(frozen=True)
class Held:
    """How one person holds a pass; sizes in pixels at the face's width `face_px`."""

    medium: str  # "card" | "phone"
    symbol_px: float  # side of the QR symbol (modules only, no quiet zone) at face_px
    side: float  # -1: image left of the face, +1: right
    roll_deg: float  # in-plane rotation
    yaw_deg: float  # out of plane, about the vertical axis
    pitch_deg: float  # out of plane, about the horizontal axis
    depth_ratio: float  # camera-to-card / card side: how strong the perspective is


def texture(matrix: B, medium: str) -> tuple[U8, F64]:
    """The flat card or phone (BGR, TEXTURE_PX_PER_MODULE px per module) and its symbol's
    four corners in texture pixels (top-left, top-right, bottom-right, bottom-left)."""
    n = int(matrix.shape[0])
    k = TEXTURE_PX_PER_MODULE
    white, dark = (PAPER_BGR, INK_BGR) if medium == "card" else (SCREEN_WHITE_BGR,
                                                                 SCREEN_DARK_BGR)
    modules = np.where(matrix[:, :, None], np.array(dark, np.uint8), np.array(white, np.uint8))
    symbol = np.repeat(np.repeat(modules, k, axis=0), k, axis=1)
    quiet = QUIET_MODULES * k
    framed = cv2.copyMakeBorder(symbol, quiet, quiet, quiet, quiet, cv2.BORDER_CONSTANT,
                                value=white)
    rim = round((CARD_MARGIN if medium == "card" else PHONE_BEZEL) * n * k)
    if medium == "card":
        out = cv2.copyMakeBorder(framed, rim, 3 * rim, rim, rim, cv2.BORDER_CONSTANT,
                                 value=PAPER_BGR)
        cv2.rectangle(out, (0, 0), (out.shape[1] - 1, out.shape[0] - 1), (170, 172, 174),
                      max(1, k // 2))
    else:  # a phone: dark body, taller than wide, the screen's QR in its upper part
        out = cv2.copyMakeBorder(framed, rim + quiet // 2, rim + quiet, rim, rim,
                                 cv2.BORDER_CONSTANT, value=PHONE_BGR)
    x0 = rim + quiet
    y0 = rim + quiet + (quiet // 2 if medium == "phone" else 0)
    side = n * k
    corners = np.array([[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side]],
                       np.float64) - 0.5
    return np.ascontiguousarray(out, np.uint8), corners


def project(tex_size: tuple[int, int], symbol: F64, centre: tuple[float, float],
            held: Held, face_px: float, near_px: float) -> F64:
    """Where the texture's four corners land in the frame: the symbol `held.symbol_px` wide
    (scaled by face_px / near_px, the person's distance), rotated, and centred on `centre`."""
    w, h = tex_size
    scale = held.symbol_px * face_px / near_px / float(symbol[1, 0] - symbol[0, 0])
    pts = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]],
                   np.float64)
    pts = (pts - [(w - 1) / 2, (h - 1) / 2]) * scale
    xyz = np.concatenate([pts, np.zeros((4, 1))], axis=1)
    r, y, p = (math.radians(a) for a in (held.roll_deg, held.yaw_deg, held.pitch_deg))
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    xyz = xyz @ (rx @ ry @ rz).T
    depth = held.depth_ratio * held.symbol_px * face_px / near_px  # camera-to-card, px units
    f = depth  # at the card's own distance one unit is one pixel
    z = depth + xyz[:, 2]
    return np.stack([centre[0] + f * xyz[:, 0] / z, centre[1] + f * xyz[:, 1] / z], axis=1)


def homography(src: F64, dst: F64) -> F64:
    return np.asarray(cv2.getPerspectiveTransform(src.astype(np.float32),
                                                  dst.astype(np.float32)), np.float64)


def composite_card(frame: U8, tex: U8, quad: F64, blur_px: float = 0.6) -> None:
    """Warp `tex` onto the frame's `quad` (texture corners -> frame points) in place: the
    texture is first shrunk near its final size (no aliasing), then warped with bilinear
    interpolation, softened by `blur_px` (the lens), and alpha-blended at its edges."""
    fh, fw = frame.shape[:2]
    x0, y0 = np.floor(quad.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int) + 3
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(fw, x1), min(fh, y1)
    if x0 >= x1 or y0 >= y1:
        return
    th, tw = tex.shape[:2]
    span = max(float(np.linalg.norm(quad[1] - quad[0])), float(np.linalg.norm(quad[3] - quad[0])))
    shrink = min(1.0, 2.0 * span / max(tw, th))
    small = tex
    if shrink < 1.0:
        small = np.asarray(cv2.resize(tex, (max(2, round(tw * shrink)), max(2, round(th * shrink))),
                                      interpolation=cv2.INTER_AREA), np.uint8)
    sh, sw = small.shape[:2]
    src = np.array([[-0.5, -0.5], [sw - 0.5, -0.5], [sw - 0.5, sh - 0.5], [-0.5, sh - 0.5]],
                   np.float64)
    dst = quad - [x0, y0]
    m = homography(src, dst)
    size = (x1 - x0, y1 - y0)
    warped: F32 = np.asarray(cv2.warpPerspective(small, m, size, flags=cv2.INTER_LINEAR,
                                                 borderMode=cv2.BORDER_REPLICATE), np.float32)
    alpha = cv2.warpPerspective(np.ones((sh, sw), np.float32), m, size, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    if blur_px > 0:
        warped = np.asarray(cv2.GaussianBlur(warped, (0, 0), blur_px), np.float32)
    a3 = alpha[:, :, None]
    dst_px = frame[y0:y1, x0:x1]
    dst_px[...] = np.rint(warped * a3 + dst_px.astype(np.float32) * (1.0 - a3)).astype(np.uint8)


def thumb(quad: F64) -> tuple[float, float, float, float]:
    """The holding thumb (cx, cy, rx, ry) in frame pixels: on the card's bottom edge, left
    of centre, over the margin below the quiet zone (never over the symbol)."""
    bottom_l, bottom_r = quad[3], quad[2]
    top_l = quad[0]
    at = bottom_l + 0.3 * (bottom_r - bottom_l)
    width = float(np.linalg.norm(bottom_r - bottom_l))
    height = float(np.linalg.norm(bottom_l - top_l))
    return float(at[0]), float(at[1]), 0.09 * width, 0.07 * height


def draw_thumb(frame: U8, quad: F64, skin_bgr: tuple[int, int, int]) -> None:
    cx, cy, rx, ry = thumb(quad)
    colour = tuple(int(c * THUMB_SHADE) for c in skin_bgr)
    cv2.ellipse(frame, (round(cx), round(cy)), (max(1, round(rx)), max(1, round(ry))), 0.0,
                0.0, 360.0, colour, thickness=-1, lineType=cv2.LINE_AA)


def inside_quad(u: F32, v: F32, quad: F64) -> B:
    """Which points (u, v) lie inside the convex quad (either winding): half-plane tests."""
    signs = []
    for i in range(4):
        (ax, ay), (bx, by) = quad[i], quad[(i + 1) % 4]
        signs.append((bx - ax) * (v - ay) - (by - ay) * (u - ax) >= 0)
    all_pos = signs[0] & signs[1] & signs[2] & signs[3]
    all_neg = ~signs[0] & ~signs[1] & ~signs[2] & ~signs[3]
    return np.asarray(all_pos | all_neg, np.bool_)


def quad_hits_box(quad: F64, box: tuple[float, float, float, float]) -> bool:
    """Whether the convex quad and the axis-aligned box (x, y, w, h) overlap (separating
    axis test: the box's two axes and the quad's four edge normals)."""
    x, y, w, h = box
    rect = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float64)
    edges = quad - np.roll(quad, 1, axis=0)
    axes = np.concatenate([np.array([[1.0, 0.0], [0.0, 1.0]]),
                           np.stack([-edges[:, 1], edges[:, 0]], axis=1)])
    a, b = quad @ axes.T, rect @ axes.T  # (4, 6) projections
    apart = (a.max(axis=0) < b.min(axis=0)) | (b.max(axis=0) < a.min(axis=0))
    return not bool(apart.any())
