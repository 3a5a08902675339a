"""CvDevice: a FrameDevice over an open cv2.VideoCapture (V4L2 or FFmpeg), with the rules for
telling "no frame yet" from "the device is gone" that both backends share."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edge.sources.cameras.base import DeviceError, DeviceFrame, FrameFormatError, Kind

log = logging.getLogger(__name__)

Decoder = Callable[[np.ndarray], DeviceFrame]
_clock = time.monotonic  # a module attribute so tests can drive the read timing
# Reads that fail this fast this many times in a row mean a dead handle (an unplugged device
# whose node came back, a stream the server closed), not a slow camera.
FAST_FAILURES_TO_VANISH = 3


def fourcc_code(text: str) -> int:
    """"MJPG" -> the int OpenCV's CAP_PROP_FOURCC takes (little-endian character codes)."""
    if len(text) != 4:
        raise ValueError(f"fourcc {text!r} is not 4 characters")
    return sum(ord(ch) << (8 * i) for i, ch in enumerate(text))


def fourcc_text(code: float) -> str:
    """The inverse of fourcc_code without padding ("Y16 " -> "Y16"; "" when there is none)."""
    value = int(code)
    return "".join(chr((value >> (8 * i)) & 0xFF) for i in range(4)).strip("\0 ")


class CvDevice:
    """One open camera. `decode` turns what cap.read() returned into a DeviceFrame (raising
    FrameFormatError for a buffer of the wrong format); `node` is the /dev path whose
    disappearance means the device was unplugged (None for network streams)."""

    def __init__(self, cap: Any, name: str, kind: Kind, encoding: str | None,
                 decode: Decoder, node: Path | None = None, read_timeout_s: float = 2.0,
                 resumes_after_timeout: bool = True) -> None:
        self.name = name
        self.kind: Kind = kind
        self.encoding = encoding
        self._cap: Any = cap
        self._decode = decode
        self._node = node
        self._read_timeout_s = read_timeout_s
        self._fast_failures = 0
        # FFmpeg aborts the stream when its read timeout fires: every later read fails.
        self._resumes_after_timeout = resumes_after_timeout
        self._timed_out_s: float | None = None

    def read(self, timeout_s: float) -> DeviceFrame | None:
        """One frame, None when none came in time, DeviceError when the device is gone.

        OpenCV cannot take a timeout per read: the wait is bounded by what was set when the
        device was opened (V4L2: OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT, FFmpeg: the read timeout).
        `timeout_s` decides whether a failed read was a timeout (it took at least half of
        min(timeout_s, the open-time timeout)) or an immediate error.
        """
        cap = self._cap
        if cap is None:
            raise DeviceError(f"{self.name}: read after close")
        if self._timed_out_s is not None and not self._resumes_after_timeout:
            raise DeviceError(f"{self.name}: stalled (no frame for {self._timed_out_s:.1f} s);"
                              " the stream cannot resume after a read timeout: reopen it")
        started = _clock()
        try:
            ok, frame = cap.read()
        except Exception as exc:  # cv2.error from a backend that broke mid-read
            raise DeviceError(f"{self.name}: read failed: {exc}") from exc
        if ok and frame is not None:
            self._fast_failures = 0
            try:
                return self._decode(frame)
            except FrameFormatError as exc:
                raise FrameFormatError(f"{self.name}: {exc}") from exc
        self._check_failed_read(_clock() - started, timeout_s)
        return None

    def _check_failed_read(self, elapsed_s: float, timeout_s: float) -> None:
        """Raise DeviceError when a failed read means the device is gone."""
        if self._node is not None and not self._node.exists():
            raise DeviceError(f"{self.name}: {self._node} is gone (unplugged or reset)")
        if not self._cap.isOpened():
            raise DeviceError(f"{self.name}: the device closed")
        if elapsed_s >= 0.5 * min(timeout_s, self._read_timeout_s):
            self._fast_failures = 0  # a timeout: the device is there but sent nothing
            self._timed_out_s = elapsed_s
            return
        self._fast_failures += 1
        if self._fast_failures >= FAST_FAILURES_TO_VANISH:
            raise DeviceError(f"{self.name}: {self._fast_failures} reads in a row failed at once"
                              " (device gone or stream ended)")

    def close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            try:
                cap.release()
            except Exception as exc:  # releasing a vanished device may fail; it is gone anyway
                log.debug("%s: release failed: %s", self.name, exc)
