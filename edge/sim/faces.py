"""Face library and head compositing for the RGB+thermal simulator (edge.sim.rgb).

Heads are cut from real photos: each photo is run once through the project's own face
analyzer (`edge.vision.landmarks.FaceAnalyzer`), its largest measurable face is kept with its
5 landmarks, and a head region around it (the face box enlarged HEAD_ENLARGE times, shifted
up a little for the hair) becomes a `HeadCrop`. The simulator scales and places a crop in the
RGB frame with a soft elliptical alpha mask; `Placement` is that scale + offset, and every
point the simulator reports (landmarks, head ellipse, face box) goes through it, so the thermal
frame is painted where the composited face really is.

Crop coordinates are pixel centres (pixel i spans i-0.5 .. i+0.5), as in the frames.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from edge.core.detections import Detections
from edge.errors import ConfigError
from edge.vision.types import LEFT_EYE, MOUTH_LEFT, MOUTH_RIGHT, NOSE, RIGHT_EYE

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
DEFAULT_PHOTO = "grace_hopper.jpg"  # public domain; ships with matplotlib's sample data
IDENTITIES_CSV = "identities.csv"
HEAD_ENLARGE = 1.6  # crop side / face box side
HEAD_SHIFT_UP = 0.06  # crop centre above the face box centre, in face box heights
MAX_CROP_PX = 320  # larger crops are downscaled once (the scene never shows more than ~250)
# Head outline in the crop: an ellipse, as fractions of the crop size. alpha is 0.5 on it and
# falls from 1 to 0 over ALPHA_SOFT of the radius.
ELLIPSE_A, ELLIPSE_B = 0.40, 0.47
ALPHA_SOFT = 0.14


class FaceFinder(Protocol):
    """What the library needs from a face analyzer (edge.vision.landmarks.FaceAnalyzer)."""

    def analyze(self, bgr: U8) -> Detections: ...


@dataclass(frozen=True)
class HeadCrop:
    """One identity: a head image and where its face parts are, in crop pixels."""

    subject: str  # photo file stem
    identity: str  # who it is: identities.csv in the photo folder, else the subject
    bgr: U8  # (h, w, 3)
    landmarks: F32  # (5, 2): left eye, right eye, nose, mouth left, mouth right
    face_box: tuple[float, float, float, float]  # x, y, w, h as the analyzer found it
    skin_bgr: tuple[int, int, int]  # mean colour around the nose (neck colour)
    # Where the crop came from, for identity scenes (edge.sim.cast): the photo, how many faces
    # the analyzer found in it, and the kept face's eye-centre distance in photo pixels.
    photo: Path | None = None
    faces_in_photo: int = 1
    eye_px: float = 0.0

    @property
    def size(self) -> tuple[int, int]:
        return int(self.bgr.shape[1]), int(self.bgr.shape[0])

    @property
    def ellipse(self) -> tuple[float, float, float, float]:
        """Head outline (cx, cy, a, b) in crop pixels."""
        w, h = self.size
        return (w - 1) / 2, (h - 1) / 2, ELLIPSE_A * w, ELLIPSE_B * h


@dataclass(frozen=True)
class Placement:
    """A crop scaled to (width, height) pixels with its top-left pixel at (x0, y0) of the frame.

    Crop point u maps to frame x0 + (u + 0.5) * sx - 0.5 (cv2.resize's pixel-centre rule).
    """

    crop: HeadCrop
    x0: int
    y0: int
    width: int
    height: int

    @property
    def scale(self) -> tuple[float, float]:
        w, h = self.crop.size
        return self.width / w, self.height / h

    def to_frame(self, points: F32) -> F32:
        """(..., 2) crop points -> frame points."""
        sx, sy = self.scale
        scale = np.array([sx, sy], np.float32)
        offset = np.array([self.x0, self.y0], np.float32)
        return np.asarray(offset + (points + 0.5) * scale - 0.5, dtype=np.float32)

    @property
    def landmarks(self) -> F32:
        return self.to_frame(self.crop.landmarks)

    @property
    def face_box(self) -> tuple[float, float, float, float]:
        x, y, w, h = self.crop.face_box
        sx, sy = self.scale
        (fx, fy), = self.to_frame(np.array([[x, y]], np.float32))
        return float(fx), float(fy), w * sx, h * sy

    @property
    def ellipse(self) -> tuple[float, float, float, float]:
        cx, cy, a, b = self.crop.ellipse
        sx, sy = self.scale
        (ex, ey), = self.to_frame(np.array([[cx, cy]], np.float32))
        return float(ex), float(ey), a * sx, b * sy

    def head_box(self, frame_w: int, frame_h: int) -> tuple[int, int, int, int]:
        """Integer x, y, w, h around the head ellipse, clipped to the frame."""
        cx, cy, a, b = self.ellipse
        x0, y0 = max(0, math.floor(cx - a)), max(0, math.floor(cy - b))
        x1, y1 = min(frame_w - 1, math.ceil(cx + a)), min(frame_h - 1, math.ceil(cy + b))
        return x0, y0, max(0, x1 - x0 + 1), max(0, y1 - y0 + 1)


def place(crop: HeadCrop, cx: float, cy: float, face_px: float) -> Placement:
    """Scale `crop` so its face box is `face_px` wide and centre the face box on (cx, cy)."""
    s = face_px / crop.face_box[2]
    w, h = crop.size
    nw, nh = max(2, round(w * s)), max(2, round(h * s))
    sx, sy = nw / w, nh / h
    fx, fy = crop.face_box[0] + crop.face_box[2] / 2, crop.face_box[1] + crop.face_box[3] / 2
    x0 = round(cx - (fx + 0.5) * sx + 0.5)
    y0 = round(cy - (fy + 0.5) * sy + 0.5)
    return Placement(crop, x0, y0, nw, nh)


def ellipse_alpha(width: int, height: int, ellipse: tuple[float, float, float, float]) -> F32:
    """(height, width) soft elliptical mask: 1 inside, 0.5 on the outline, 0 outside."""
    cx, cy, a, b = ellipse
    xs = (np.arange(width, dtype=np.float32)[None, :] - cx) / a
    ys = (np.arange(height, dtype=np.float32)[:, None] - cy) / b
    rho = np.sqrt(xs * xs + ys * ys)
    return np.asarray(np.clip(0.5 + (1.0 - rho) / ALPHA_SOFT, 0.0, 1.0), dtype=np.float32)


def composite(frame: U8, placement: Placement) -> None:
    """Blend the placed head into `frame` (H, W, 3) uint8 in place (clipped at the edges)."""
    fh, fw = frame.shape[:2]
    x0, y0, nw, nh = placement.x0, placement.y0, placement.width, placement.height
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(fw, x0 + nw), min(fh, y0 + nh)
    if cx0 >= cx1 or cy0 >= cy1:
        return
    crop = placement.crop
    shrink = nw < crop.size[0]
    image = cv2.resize(crop.bgr, (nw, nh),
                       interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    sx, sy = placement.scale
    ecx, ecy, a, b = crop.ellipse
    alpha = ellipse_alpha(nw, nh, ((ecx + 0.5) * sx - 0.5, (ecy + 0.5) * sy - 0.5,
                                   a * sx, b * sy))
    win = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
    a3 = alpha[win][:, :, None]
    dst = frame[cy0:cy1, cx0:cx1]
    blended = image[win].astype(np.float32) * a3 + dst.astype(np.float32) * (1.0 - a3)
    dst[...] = np.rint(blended).astype(np.uint8)


def photo_paths(faces_dir: Path | None) -> list[Path]:
    """Every *.jpg / *.png in `faces_dir` (sorted), or matplotlib's sample portrait."""
    if faces_dir is None:
        import matplotlib.cbook

        return [Path(matplotlib.cbook.get_sample_data(DEFAULT_PHOTO, asfileobj=False))]
    folder = Path(faces_dir)
    if not folder.is_dir():
        raise ConfigError(f"synth: faces_dir {folder} is not a folder")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)


def default_analyzer() -> FaceFinder:
    from edge.vision.landmarks import FaceAnalyzer

    analyzer: FaceFinder = FaceAnalyzer(threads=1)
    return analyzer


def load_library(faces_dir: Path | None, analyzer: FaceFinder | None = None) -> list[HeadCrop]:
    """One HeadCrop per photo with a measurable face; ConfigError when there is none at all.

    `analyzer` defaults to edge.vision.landmarks.FaceAnalyzer(threads=1).
    """
    paths = photo_paths(faces_dir)
    identities = read_identities(faces_dir)
    finder = analyzer if analyzer is not None or not paths else default_analyzer()
    crops: list[HeadCrop] = []
    for path in paths:
        loaded = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if loaded is None or finder is None:
            continue
        image: U8 = np.asarray(loaded, np.uint8)
        found = finder.analyze(image)
        crop = head_crop(image, found, path.stem, identities.get(path.name))
        if crop is not None:
            crops.append(replace(crop, photo=path, faces_in_photo=len(found.boxes),
                                 eye_px=_eye_px(found)))
    if not crops:
        where = faces_dir if faces_dir is not None else DEFAULT_PHOTO
        raise ConfigError(f"synth: no photo in {where} has a measurable face "
                          f"({len(paths)} photos tried)")
    return crops


def read_identities(faces_dir: Path | None) -> dict[str, str]:
    """Optional `identities.csv` beside the photos: file name -> identity (columns `file` and
    `identity_group` or `identity`). Several photos of one person then never stand side by
    side as two people."""
    path = None if faces_dir is None else Path(faces_dir) / IDENTITIES_CSV
    if path is None or not path.is_file():
        return {}
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"synth: {path}: cannot read: {exc}") from exc
    out = {}
    for row in rows:
        who = row.get("identity_group") or row.get("identity")
        if row.get("file") and who:
            out[str(row["file"])] = str(who)
    return out


def head_crop(
    image: U8, faces: Detections, subject: str, identity: str | None = None
) -> HeadCrop | None:
    """The head around the largest measurable face of `image`, or None if there is none."""
    candidates = np.flatnonzero(faces.measurable)
    if candidates.size == 0:
        return None
    i = int(candidates[np.argmax(faces.boxes[candidates, 2])])
    bx, by, bw, bh = (float(v) for v in faces.boxes[i])
    side_w, side_h = HEAD_ENLARGE * bw, HEAD_ENLARGE * bh
    cx, cy = bx + bw / 2, by + bh / 2 - HEAD_SHIFT_UP * bh
    x0, y0 = round(cx - side_w / 2), round(cy - side_h / 2)
    x1, y1 = x0 + round(side_w), y0 + round(side_h)
    ih, iw = image.shape[:2]
    pad = max(0, -x0, -y0, x1 - iw, y1 - ih)
    if pad:  # the head runs off the photo: repeat its edge pixels (mostly under alpha 0)
        image = np.asarray(cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE),
                           np.uint8)
    cut: U8 = image[y0 + pad:y1 + pad, x0 + pad:x1 + pad]
    landmarks = faces.landmarks[i] - np.array([x0, y0], np.float32)
    box = (bx - x0, by - y0, bw, bh)
    scale = min(1.0, MAX_CROP_PX / max(cut.shape[:2]))
    if scale < 1.0:
        nw, nh = round(cut.shape[1] * scale), round(cut.shape[0] * scale)
        sx, sy = nw / cut.shape[1], nh / cut.shape[0]
        cut = np.asarray(cv2.resize(cut, (nw, nh), interpolation=cv2.INTER_AREA), np.uint8)
        landmarks = (landmarks + 0.5) * np.array([sx, sy], np.float32) - 0.5
        box = ((box[0] + 0.5) * sx - 0.5, (box[1] + 0.5) * sy - 0.5, bw * sx, bh * sy)
    bgr = np.ascontiguousarray(cut, dtype=np.uint8)
    return HeadCrop(subject, identity or subject, bgr, landmarks.astype(np.float32), box,
                    _skin_colour(bgr, landmarks))


def _eye_px(faces: Detections) -> float:
    """Eye-centre distance (pixels) of the face head_crop keeps: the widest measurable one."""
    candidates = np.flatnonzero(faces.measurable)
    i = int(candidates[np.argmax(faces.boxes[candidates, 2])])
    eyes = faces.landmarks[i]
    return float(np.hypot(*(eyes[RIGHT_EYE] - eyes[LEFT_EYE])))


def _skin_colour(bgr: U8, landmarks: F32) -> tuple[int, int, int]:
    """Mean colour of a small patch between the eyes and the mouth (cheeks and nose)."""
    eyes = (landmarks[LEFT_EYE] + landmarks[RIGHT_EYE]) / 2
    mouth = (landmarks[MOUTH_LEFT] + landmarks[MOUTH_RIGHT]) / 2
    centre = (eyes + mouth + landmarks[NOSE]) / 3
    r = max(2, round(0.15 * float(np.linalg.norm(landmarks[RIGHT_EYE] - landmarks[LEFT_EYE]))))
    x, y = round(float(centre[0])), round(float(centre[1]))
    patch = bgr[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].reshape(-1, 3)
    if patch.size == 0:
        return (120, 150, 190)
    b, g, r_ = (int(v) for v in np.rint(patch.mean(axis=0)))
    return b, g, r_
