"""The Raspberry Pi camera (CSI ribbon: Camera Module 2/3, HQ) as an RGB source, through
picamera2 over libcamera.

picamera2 is optional and Pi-only (Raspberry Pi OS ships it as python3-picamera2, built against
its libcamera), so it is imported when a camera is opened, never at import time.

Colour order: picamera2's format names follow libcamera/DRM, which name the pixel as a
little-endian word, so "RGB888" is laid out [B, G, R] in memory and capture_array returns an
(H, W, 3) array in OpenCV's BGR order; "BGR888" would be [R, G, B]. We ask for "RGB888".

Reads: capture_array(wait=False) queues a capture job and Picamera2.wait(job, timeout) bounds
the wait (TimeoutError when no frame came). A job that timed out stays queued in picamera2, so
the next read waits on that same job instead of queueing another behind it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from edge.sources.cameras.base import (
    CameraSpec,
    DeviceError,
    DeviceFrame,
    FrameDevice,
    FrameFormatError,
    Kind,
)

log = logging.getLogger(__name__)

MAIN_FORMAT = "RGB888"  # [B, G, R] bytes per pixel: BGR frames, as the pipeline expects
DEFAULT_SIZE = (640, 480)  # the frame the gate is specified and measured with
BUFFER_COUNT = 4  # a few buffers so a slow read does not stall the sensor; latest wins anyway
MISSING_PACKAGE = ("device = 'picamera' needs the picamera2 package: on Raspberry Pi OS "
                   "`sudo apt install python3-picamera2` and create the venv with "
                   "--system-site-packages, or pip install 'gate-edge[picamera]'")


def open_picamera(spec: CameraSpec) -> FrameDevice:
    """Open, configure and start the Pi camera number spec.index (0 when not given) at
    spec.width x spec.height (640x480 when not given) and spec.fps. Raises DeviceError when
    picamera2 is not installed or the camera is missing, busy or refuses the configuration."""
    try:
        from picamera2 import Picamera2
    except ImportError as exc:
        raise DeviceError(MISSING_PACKAGE) from exc
    camera_num = spec.index if spec.index is not None else 0
    name = f"rgb:picamera {camera_num}"
    try:
        cam = Picamera2(camera_num)
    except Exception as exc:  # IndexError (no such camera), RuntimeError (busy), libcamera
        raise DeviceError(f"{name}: cannot open the camera (not connected, not enabled, or "
                          f"in use by another process): {exc}") from exc
    try:
        config = cam.create_video_configuration(**_configuration(spec))
        cam.configure(config)
        cam.start()
    except Exception as exc:
        _close_quietly(cam, name)
        raise DeviceError(f"{name}: refused the configuration {_describe(spec)}: {exc}") from exc
    log.info("%s: %s", name, _describe(spec))
    return PiCamera(cam, name)


def _configuration(spec: CameraSpec) -> dict[str, Any]:
    """create_video_configuration's arguments: the main stream in BGR order at the size, and
    the frame rate as a fixed frame duration (min = max, in microseconds)."""
    width, height = (spec.width, spec.height) if spec.width and spec.height else DEFAULT_SIZE
    config: dict[str, Any] = {"main": {"format": MAIN_FORMAT, "size": (width, height)},
                              "buffer_count": BUFFER_COUNT}
    if spec.fps is not None:
        frame_us = round(1_000_000 / spec.fps)
        config["controls"] = {"FrameDurationLimits": (frame_us, frame_us)}
    return config


def _describe(spec: CameraSpec) -> str:
    width, height = (spec.width, spec.height) if spec.width and spec.height else DEFAULT_SIZE
    fps = f" at {spec.fps:g} fps" if spec.fps is not None else ""
    return f"{width}x{height} {MAIN_FORMAT}{fps}"


class PiCamera:
    """An open, started Picamera2 as a FrameDevice (kind rgb, frames BGR uint8 (H, W, 3))."""

    def __init__(self, cam: Any, name: str) -> None:
        self.name = name
        self.kind: Kind = "rgb"
        self.encoding: str | None = None
        self._cam: Any = cam
        self._pending: Any = None  # a capture job that timed out: the next read waits on it

    def read(self, timeout_s: float) -> DeviceFrame | None:
        """The next frame; None when none came within timeout_s; DeviceError when the camera
        failed (libcamera error, camera gone) or after close."""
        cam = self._cam
        if cam is None:
            raise DeviceError(f"{self.name}: read after close")
        try:
            job = self._pending if self._pending is not None else cam.capture_array(
                "main", wait=False)
            self._pending = job
            frame = cam.wait(job, timeout=timeout_s)
        except TimeoutError:
            return None
        except Exception as exc:
            self._pending = None
            raise DeviceError(f"{self.name}: capture failed: {exc}") from exc
        self._pending = None
        return DeviceFrame(data=_as_bgr(frame, self.name))

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            _close_quietly(cam, self.name)


def _as_bgr(frame: Any, name: str) -> np.ndarray:
    data = np.asarray(frame)
    if data.dtype != np.uint8 or data.ndim != 3 or data.shape[2] != 3:
        raise FrameFormatError(f"{name}: expected uint8 (H, W, 3) {MAIN_FORMAT}, got "
                               f"{data.dtype} {data.shape}")
    return data


def _close_quietly(cam: Any, name: str) -> None:
    for step in ("stop", "close"):
        try:
            getattr(cam, step)()
        except Exception as exc:  # a camera that failed may refuse to stop; it is released
            log.debug("%s: %s failed: %s", name, step, exc)
