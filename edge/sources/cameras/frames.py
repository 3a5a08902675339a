"""Helpers shared by the byte-layout parsers: raw bytes from what OpenCV or a test hands over,
and a cheap plausibility check that thermal counts are in the encoding we think."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.sources.cameras.base import FrameFormatError

# Scenes a gate camera sees, with margin: anything outside means the wrong encoding or format.
PLAUSIBLE_K = (150.0, 1000.0)


def as_bytes(buffer: object, what: str) -> npt.NDArray[np.uint8]:
    """A flat uint8 view (or copy) of a bytes-like object or a uint8/uint16 ndarray."""
    if isinstance(buffer, (bytes, bytearray, memoryview)):
        return np.frombuffer(buffer, dtype=np.uint8)
    if not isinstance(buffer, np.ndarray):
        raise FrameFormatError(f"{what}: expected bytes or a numpy array, got "
                               f"{type(buffer).__name__}")
    if buffer.dtype == np.uint8:
        return np.ascontiguousarray(buffer).reshape(-1)
    if buffer.dtype.kind == "u" and buffer.dtype.itemsize == 2:
        # Little-endian words whatever the array's own byte order, so the byte view is the
        # device's byte layout.
        words = np.ascontiguousarray(buffer, dtype="<u2")
        return words.view(np.uint8).reshape(-1)
    raise FrameFormatError(f"{what}: expected a uint8 or uint16 buffer, got dtype {buffer.dtype}")


def check_plausible_kelvin(counts: npt.NDArray[np.uint16], counts_per_k: float,
                           what: str) -> None:
    """Raise FrameFormatError when the frame's median (over a 1-in-16 subsample: cheap) is not a
    temperature a gate camera can see, in the encoding's scale."""
    median_k = float(np.median(counts[::4, ::4])) / counts_per_k
    low, high = PLAUSIBLE_K
    if not low <= median_k <= high:
        raise FrameFormatError(f"{what}: median {median_k:.1f} K is outside {low:.0f}..{high:.0f}"
                               " K: not this encoding (wrong format, or a corrupt buffer)")
