"""QR codes in an RGB frame, read with zxing-cpp: payload texts and where the codes are.

One grey conversion per frame (zxing-cpp binarises luminance anyway), crop to the ROI (the
region in front of the gate), downscale only when the ROI's longer side exceeds `max_side_px`,
then `zxingcpp.read_barcodes` restricted to full QR codes (Model 1 and 2: a pass does not fit in
a Micro QR or rMQR, and asking for one family keeps the search under 1 ms a frame; all formats
cost ~10x). Positions are mapped back to FULL-FRAME pixels (undo the scaling, add the ROI
offset), so callers never see ROI coordinates.

Decoder settings (measured in bench/bench_qr.py and tests/vision/test_qr.py):
- text mode `Plain`: the symbol's characters as encoded, no GS1 "human readable"
  rewriting. DCC and compound passes are alphanumeric-mode text (`HC1:...`, `GE1:...`).
- `try_rotate` off: it searches linear codes at 90/270 degrees; QR finder patterns are found at
  any angle without it (the +-30 degree cases decode the same) and it costs time.
- `try_invert` off by default (light-on-dark codes; ~+30 % time on every frame, no pass app
  shows them). `try_downscale` on (zxing's own pyramid): no change in what decodes at 640x480
  for ~0.1 ms, and one more of 30 large blurred codes in 1280x960 frames.
- binary content: a QR whose bytes are not text (zxing's ContentType.Binary) is returned with
  `binary` set and its text the bytes decoded as Latin-1, one character per byte, so the text
  is lossless and distinct payloads stay distinct (a digest of it still de-duplicates); no pass
  prefix survives that, so the verifier rejects it as unreadable. Byte-mode QR holding ASCII
  (some DCC generators) is Text, read as such.
- `valid`: zxing's per-symbol flag. With `include_errors`, symbols that were located but failed
  error correction come back with valid False and an empty text (someone is showing a code
  the camera cannot read: worth a "hold it closer" hint, never a pass decision).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
Roi = tuple[int, int, int, int]  # x, y, w, h in frame pixels

QR_FORMATS = zxingcpp.BarcodeFormats(
    [zxingcpp.BarcodeFormat.QRCodeModel2, zxingcpp.BarcodeFormat.QRCodeModel1])


@dataclass(frozen=True, slots=True)
class QrCodes:
    """K codes of one frame, full-frame pixels, structure of arrays.

    texts: K payload texts; boxes: (K, 4) float32 x, y, w, h (axis-aligned hull of the corners);
    corners: (K, 4, 2) float32 x, y of the symbol's own top-left, top-right, bottom-right,
    bottom-left corners (the symbol's orientation, not the image's: a code held upside down has
    its "top-left" at the image bottom right; zxing's corners sit up to ~1 module from the
    symbol's true corners, measured); valid: (K,) bool; binary: (K,) bool (module docstring)."""

    texts: tuple[str, ...]
    boxes: FloatArray
    corners: FloatArray
    valid: BoolArray
    binary: BoolArray

    def __len__(self) -> int:
        return len(self.texts)

    @staticmethod
    def empty() -> QrCodes:
        return QrCodes((), np.zeros((0, 4), np.float32), np.zeros((0, 4, 2), np.float32),
                       np.zeros(0, bool), np.zeros(0, bool))

    def decoded(self) -> QrCodes:
        """Only the codes whose payload was read (valid)."""
        keep = np.flatnonzero(self.valid)
        return QrCodes(tuple(self.texts[i] for i in keep), self.boxes[keep], self.corners[keep],
                       self.valid[keep], self.binary[keep])


def _check_roi(roi: Roi | None) -> Roi | None:
    if roi is None:
        return None
    if len(roi) != 4 or not all(isinstance(v, (int, np.integer)) for v in roi):
        raise ValueError(f"QR roi must be 4 integers (x, y, w, h) in frame pixels, got {roi!r}")
    x, y, w, h = (int(v) for v in roi)
    if x < 0 or y < 0 or w <= 0 or h <= 0:
        raise ValueError(f"QR roi (x, y, w, h) = {roi!r}: x, y must be >= 0 and w, h > 0")
    return x, y, w, h


def _grey(frame: object) -> npt.NDArray[np.uint8]:
    """uint8 (H, W) luminance of a (H, W), (H, W, 1), (H, W, 3) BGR or (H, W, 4) BGRA frame."""
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"QR reader: frame must be a numpy array, got {type(frame).__name__}")
    shape = frame.shape
    if frame.dtype != np.uint8:
        raise ValueError(f"QR reader: frame dtype must be uint8, got {frame.dtype} {shape}")
    channels = 1 if frame.ndim == 2 else shape[2] if frame.ndim == 3 else 0
    if channels not in (1, 3, 4) or shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"QR reader: frame shape {shape} is not a non-empty (H, W), (H, W, 1), "
                         "(H, W, 3) BGR or (H, W, 4) BGRA image")
    if channels == 1:
        return frame.reshape(shape[0], shape[1])
    code = cv2.COLOR_BGR2GRAY if channels == 3 else cv2.COLOR_BGRA2GRAY
    return np.asarray(cv2.cvtColor(frame, code), dtype=np.uint8)


class QrReader:
    """Reads QR codes from frames: `read(bgr) -> QrCodes` in full-frame pixels.

    roi: (x, y, w, h) region to search (clipped to the frame; a ROI wholly outside the frame is a
    ValueError naming both); None = the whole frame. max_side_px: downscale the searched region
    (area averaging) when its longer side exceeds this; None = never. Halving a 640 px frame
    halves the module size, and below ~2 px per module decoding gets unreliable (1.5 px: 5 of 8
    frames, 1.2 px: none; bench/bench_qr.py), so prefer a ROI to downscaling.
    """

    def __init__(self, roi: Roi | None = None, max_side_px: int | None = None, *,
                 try_invert: bool = False, include_errors: bool = False) -> None:
        self.roi = _check_roi(roi)
        if max_side_px is not None and (not isinstance(max_side_px, (int, np.integer))
                                        or max_side_px < 32):
            raise ValueError(f"QR max_side_px must be an integer >= 32 or None, "
                             f"got {max_side_px!r}")
        self.max_side_px = None if max_side_px is None else int(max_side_px)
        self.try_invert = try_invert
        self.include_errors = include_errors

    def _region(self, height: int, width: int) -> Roi:
        if self.roi is None:
            return 0, 0, width, height
        x, y, w, h = self.roi
        x1, y1 = min(x + w, width), min(y + h, height)
        if x >= width or y >= height:
            raise ValueError(f"QR roi {self.roi} lies outside the {width}x{height} frame")
        return x, y, x1 - x, y1 - y

    def read(self, bgr: npt.NDArray[np.uint8]) -> QrCodes:
        """Every full QR code in the frame (or ROI). Never raises on frame content; raises
        ValueError on a frame that is not an image (wrong dtype, shape, empty)."""
        grey = _grey(bgr)
        x, y, w, h = self._region(grey.shape[0], grey.shape[1])
        region = grey[y:y + h, x:x + w]
        scale_xy = (1.0, 1.0)
        if self.max_side_px is not None and max(w, h) > self.max_side_px:
            scale = self.max_side_px / max(w, h)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            region = np.asarray(cv2.resize(region, size, interpolation=cv2.INTER_AREA), np.uint8)
            scale_xy = (size[0] / w, size[1] / h)  # per axis: rounding the size changes it
        found = zxingcpp.read_barcodes(
            np.ascontiguousarray(region), formats=QR_FORMATS, try_rotate=False,
            try_downscale=True, try_invert=self.try_invert, text_mode=zxingcpp.TextMode.Plain,
            return_errors=self.include_errors)
        return _codes(found, scale_xy, (float(x), float(y)))


def read_image_file(path: str | Path) -> npt.NDArray[np.uint8]:
    """A PNG/JPEG as uint8 BGR for `QrReader.read`; transparency is composited over white (a
    QR saved with a transparent background otherwise loses its light modules and quiet zone to
    black). ValueError when the file is missing or not an image."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"cannot read an image from {path} (missing, or not PNG/JPEG/...)")
    if image.dtype == np.uint16:  # 16-bit PNGs: keep the top byte
        image = np.right_shift(np.asarray(image, np.uint16), 8).astype(np.uint8)
    if image.ndim == 2:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), np.uint8)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / np.float32(255)
        white = np.float32(255) * (1 - alpha)
        return np.asarray(np.rint(image[:, :, :3] * alpha + white), np.uint8)
    return np.asarray(image[:, :, :3], np.uint8)


def _codes(found: list[zxingcpp.Barcode], scale_xy: tuple[float, float],
           offset_xy: tuple[float, float]) -> QrCodes:
    if not found:
        return QrCodes.empty()
    corners: FloatArray = np.array(
        [[(p.x, p.y) for p in (b.position.top_left, b.position.top_right,
                               b.position.bottom_right, b.position.bottom_left)]
         for b in found], dtype=np.float32).reshape(-1, 4, 2)
    if scale_xy != (1.0, 1.0):  # pixel centres: region px u is frame px (u + 0.5) / s - 0.5
        half = np.float32(0.5)
        corners = ((corners + half) / np.array(scale_xy, np.float32) - half).astype(np.float32)
    corners = corners + np.array(offset_xy, np.float32)
    low, high = corners.min(axis=1), corners.max(axis=1)
    boxes = np.concatenate([low, high - low], axis=1).astype(np.float32)
    valid = np.array([b.valid for b in found], dtype=bool)
    binary = np.array([b.content_type == zxingcpp.ContentType.Binary for b in found], dtype=bool)
    texts = tuple(
        "" if not ok else b.bytes.decode("latin-1") if is_bin else b.text
        for b, ok, is_bin in zip(found, valid, binary, strict=True))
    return QrCodes(texts, boxes, corners, valid, binary)
