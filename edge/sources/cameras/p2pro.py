"""InfiRay P2 Pro / Topdon TC001 frames (pure numpy, no OpenCV).

The camera's 256 x 384 "YUYV" mode is two images stacked: rows 0-191 are a false-colour image
(real YUYV), rows 192-383 carry the raw thermal frame, 256 x 192 little-endian uint16 where
kelvin = raw / 64 (the `p2pro` encoding in edge.thermal.radiometry). Each YUYV pixel is 2 bytes,
so the raw buffer is 384 x 256 x 2 = 196608 bytes and the thermal half is its second half.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.sources.cameras.base import DeviceFrame, FrameFormatError
from edge.sources.cameras.frames import as_bytes, check_plausible_kelvin

P2PRO_WIDTH = 256
P2PRO_HEIGHT = 192  # of each half
FRAME_ROWS = 2 * P2PRO_HEIGHT  # 384
FRAME_BYTES = P2PRO_WIDTH * FRAME_ROWS * 2  # 196608
HALF_BYTES = FRAME_BYTES // 2
P2PRO_COUNTS_PER_K = 64.0


def parse_p2pro(buffer: object) -> DeviceFrame:
    """One 256x384 YUYV frame -> DeviceFrame(data=(192, 256) uint16 raw thermal, kelvin =
    raw / 64).

    `buffer`: bytes-like, or an ndarray as OpenCV hands it out with RGB conversion off (uint8
    (384, 256, 2), (1, 196608) or flat). Raises FrameFormatError naming the size expected and
    got (a 256x192 frame means the camera is in its image-only mode), a wrong dtype, or a
    bottom half that does not hold thermal counts.
    """
    raw = as_bytes(buffer, "P2 Pro frame")
    if isinstance(buffer, np.ndarray) and buffer.dtype != np.uint8:
        raise FrameFormatError(f"P2 Pro frame: expected uint8 YUYV bytes, got dtype "
                               f"{buffer.dtype}")
    if raw.size != FRAME_BYTES:
        hint = " (the image-only 256x192 mode: select 256x384)" if raw.size == HALF_BYTES else ""
        raise FrameFormatError(f"P2 Pro frame: expected {FRAME_BYTES} bytes (256x384 YUYV), "
                               f"got {raw.size}{hint}")
    counts = thermal_half(raw)
    check_plausible_kelvin(counts, P2PRO_COUNTS_PER_K, "P2 Pro thermal half (raw / 64 K)")
    return DeviceFrame(data=counts)


def thermal_half(raw: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint16]:
    """The bottom half of a (FRAME_BYTES,) uint8 buffer as (192, 256) native uint16."""
    half = raw[HALF_BYTES:].view("<u2").reshape(P2PRO_HEIGHT, P2PRO_WIDTH)
    return half.astype(np.uint16, copy=True)


def image_half(raw: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The top half as (192, 256, 2) YUYV bytes (for a snapshot; OpenCV converts it)."""
    return raw[:HALF_BYTES].reshape(P2PRO_HEIGHT, P2PRO_WIDTH, 2).copy()
