"""Physical synthetic kiosk frames for the reference-disc tests (independent of the locator).

A scene is a radiance field in degC on a supersampled grid (anti-aliased shapes: a flat disc,
a housing ring, people), blurred by the optics (a Gaussian point-spread function), sampled
at the sensor's pixels and given fresh sensor noise every frame. The field extends PAD px
beyond the frame so a disc cut by the frame edge is blurred as a real one is. Geometry and
numbers follow the Lepton 3.5 kiosks (upright 120x160, disc radius ~6.5 px, rim 10-90% in
~3 px, noise 0.04-0.1 C).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

H, W = 160, 120  # upright kiosk frame (a 160x120 sensor on its side)
PAD = 10
SS = 4  # subsamples per pixel edge
PSF_SIGMA_PX = 1.1  # a step blurred to 10-90% in ~2.8 px
NOISE_C = 0.07

Field = npt.NDArray[np.float64]
Inside = Callable[[Field, Field], npt.NDArray[np.bool_]]  # (y, x) sample grids -> inside


@dataclass(frozen=True)
class Disc:
    cx: float  # upright pixel coordinates of the centre (may lie outside the frame)
    cy: float
    r: float = 6.5
    temp_c: float = 37.0


@dataclass(frozen=True)
class Person:
    """Head centred at (cx, cy); torso below it, hair cap, eyes and hot inner canthi."""

    cx: float
    cy: float
    face_c: float = 35.0  # warmest skin (canthi)
    cloth_c: float = 30.0


@dataclass
class Scene:
    room_c: float = 25.0
    disc: Disc | None = None
    housing: tuple[float, float, float] | None = None  # ring r_in, r_out (px), temp_c
    people: list[Person] = field(default_factory=list)


class Canvas:
    """The static background (room with a gentle gradient and smooth texture) and the
    anti-aliased painting of shapes on the padded field."""

    def __init__(self, room_c: float, seed: int) -> None:
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[-PAD : H + PAD, -PAD : W + PAD].astype(np.float64)
        texture = cv2.GaussianBlur(rng.normal(0.0, 1.0, yy.shape), (0, 0), 6.0)
        texture *= 0.3 / max(float(texture.std()), 1e-9)
        self.background = room_c + 0.6 * (yy / H - 0.5) + 0.3 * (xx / W - 0.5) + texture
        skin = cv2.GaussianBlur(rng.normal(0.0, 1.0, yy.shape), (0, 0), 1.5)
        self.skin = 0.3 * skin / max(float(skin.std()), 1e-9)

    @staticmethod
    def coverage(inside: Inside, box: tuple[float, float, float, float]) -> tuple[
            tuple[slice, slice], Field]:
        """Share of each pixel inside the shape, within the shape's box (x0, y0, x1, y1)."""
        x0 = max(int(np.floor(box[0])) - 1, -PAD)
        y0 = max(int(np.floor(box[1])) - 1, -PAD)
        x1 = min(int(np.ceil(box[2])) + 2, W + PAD)
        y1 = min(int(np.ceil(box[3])) + 2, H + PAD)
        if x1 <= x0 or y1 <= y0:
            return (slice(0, 0), slice(0, 0)), np.zeros((0, 0))
        sub = (np.arange(SS) + 0.5) / SS - 0.5
        ys = (np.arange(y0, y1)[:, None] + sub[None]).ravel()
        xs = (np.arange(x0, x1)[:, None] + sub[None]).ravel()
        grid_y, grid_x = np.meshgrid(ys, xs, indexing="ij")
        cov = inside(grid_y, grid_x).reshape(y1 - y0, SS, x1 - x0, SS).mean((1, 3))
        return (slice(y0 + PAD, y1 + PAD), slice(x0 + PAD, x1 + PAD)), cov

    def paint(self, img: Field, inside: Inside, box: tuple[float, float, float, float],
              value: float | Field) -> None:
        where, cov = self.coverage(inside, box)
        v = value[where] if isinstance(value, np.ndarray) else value
        img[where] = img[where] * (1.0 - cov) + v * cov


def _disc(cx: float, cy: float, r: float) -> tuple[Inside, tuple[float, float, float, float]]:
    return (lambda y, x: (y - cy) ** 2 + (x - cx) ** 2 <= r * r), (cx - r, cy - r, cx + r, cy + r)


def _ellipse(cx: float, cy: float, a: float, b: float) -> tuple[
        Inside, tuple[float, float, float, float]]:
    return ((lambda y, x: ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1.0),
            (cx - a, cy - b, cx + a, cy + b))


def _rect(x0: float, y0: float, x1: float, y1: float) -> tuple[
        Inside, tuple[float, float, float, float]]:
    return (lambda y, x: (x >= x0) & (x < x1) & (y >= y0) & (y < y1)), (x0, y0, x1, y1)


def paint_person(canvas: Canvas, img: Field, p: Person) -> None:
    cx, cy, f = p.cx, p.cy, p.face_c
    canvas.paint(img, *_rect(cx - 22, cy + 14, cx + 22, cy + 120), p.cloth_c)  # torso
    canvas.paint(img, *_rect(cx - 5, cy + 9, cx + 5, cy + 18), f - 1.0)  # neck
    canvas.paint(img, *_ellipse(cx, cy, 10, 13), f - 0.9 + canvas.skin)  # face skin
    canvas.paint(img, *_ellipse(cx, cy - 11, 10, 5), f - 5.0)  # hair
    for side in (-1, 1):
        canvas.paint(img, *_ellipse(cx + 4.5 * side, cy - 2, 2.5, 1.3), f - 2.5)  # eye
        canvas.paint(img, *_disc(cx + 2.0 * side, cy - 2, 1.0), f)  # inner canthus


def render(canvas: Canvas, scene: Scene, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """One upright (H, W) float32 degC frame: field -> optics -> pixels -> noise."""
    img = canvas.background.copy()
    if scene.disc is not None:
        d = scene.disc
        if scene.housing is not None:
            r_in, r_out, t = scene.housing
            inside, box = _disc(d.cx, d.cy, r_out)
            canvas.paint(img, lambda y, x: inside(y, x) & ((y - d.cy) ** 2 + (x - d.cx) ** 2
                                                           > r_in * r_in), box, t)
        canvas.paint(img, *_disc(d.cx, d.cy, d.r), d.temp_c)
    for person in scene.people:  # in front of the disc
        paint_person(canvas, img, person)
    blurred = cv2.GaussianBlur(img, (0, 0), PSF_SIGMA_PX)[PAD:-PAD, PAD:-PAD]
    return (blurred + rng.normal(0.0, NOISE_C, blurred.shape)).astype(np.float32)


def to_counts(upright_c: npt.NDArray[np.float32], rotate_deg: int) -> npt.NDArray[np.uint16]:
    """What the sensor recorded: undo the upright rotation, degC -> centikelvin counts."""
    raw = np.rot90(upright_c, k=rotate_deg // 90)
    return np.round((raw + 273.15) * 100.0).astype(np.uint16)


def frames(scene_at: Callable[[int], Scene], n: int, seed: int = 0) -> Iterator[
        npt.NDArray[np.float32]]:
    """n frames of the scene `scene_at(t)` returns for frame t (room taken from frame 0)."""
    canvas = Canvas(scene_at(0).room_c, seed)
    rng = np.random.default_rng(seed + 1)
    for t in range(n):
        yield render(canvas, scene_at(t), rng)
