"""USB cameras through OpenCV's V4L2 backend: RGB UVC webcams, the FLIR Lepton on a
PureThermal board (Y16), the InfiRay P2 Pro / Topdon TC001 (256x384 YUYV, raw).

Order matters for the thermal cameras: setting CAP_PROP_FOURCC (or the size) makes OpenCV
re-initialise the stream, which can turn RGB conversion back on, so the FOURCC is set first,
then the size, and CONVERT_RGB = 0 last (checked by reading it back); with conversion on,
OpenCV would squash Y16 to 8 bits and YUYV to a colour image.
With conversion off a read returns the driver's buffer untouched (uint16 (H, W) or raw uint8
bytes, depending on the OpenCV version); the parsers accept either.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.sources.cameras.base import (
    CameraSpec,
    DeviceError,
    DeviceFrame,
    FrameDevice,
    FrameFormatError,
    encoding_for,
)
from edge.sources.cameras.cvdevice import CvDevice, Decoder, fourcc_code, fourcc_text
from edge.sources.cameras.discover import DEV_ROOT, SYSFS_ROOT, find_by_usb_id
from edge.sources.cameras.lepton import parse_lepton
from edge.sources.cameras.p2pro import FRAME_ROWS, P2PRO_WIDTH, parse_p2pro

log = logging.getLogger(__name__)

SELECT_TIMEOUT_ENV = "OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT"
DEFAULT_RGB_FOURCC = "MJPG"  # compressed: full resolution and frame rate over USB 2
P2PRO_FPS = 25


def open_uvc(spec: CameraSpec, sysfs_root: Path = SYSFS_ROOT,
             dev_root: Path = DEV_ROOT) -> FrameDevice:
    """Open the V4L2 camera `spec` names (path, index or USB id) and configure it for its
    device kind. Raises DeviceError naming the device when it is missing, busy, not
    permitted, or refuses the format the device kind needs."""
    _bound_v4l2_wait(spec.read_timeout_s)
    node = _resolve_node(spec, sysfs_root, dev_root)
    name = (f"rgb:{node}" if spec.device == "uvc"
            else f"thermal:{spec.device} {spec.usb_id or node}")
    target: str | int = spec.index if spec.index is not None else str(node)
    cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
    if not cap.isOpened():
        cap.release()
        problem = "does not exist" if not node.exists() else "cannot be opened (busy or no access)"
        raise DeviceError(f"{name}: {node} {problem}")
    try:
        decode = _configure(cap, spec, name)
    except Exception:
        cap.release()
        raise
    return CvDevice(cap, name, spec.kind, encoding_for(spec.device), decode, node=node,
                    read_timeout_s=spec.read_timeout_s)


def _bound_v4l2_wait(read_timeout_s: float) -> None:
    # OpenCV's V4L2 backend waits in select() for up to this many whole seconds (default 10)
    # and reads the variable once per process; CAP_PROP_READ_TIMEOUT_MSEC is not supported
    # for V4L2. An operator's own setting wins.
    os.environ.setdefault(SELECT_TIMEOUT_ENV, str(max(1, math.ceil(read_timeout_s))))


def _resolve_node(spec: CameraSpec, sysfs_root: Path, dev_root: Path) -> Path:
    if spec.path is not None:
        return Path(spec.path)
    if spec.index is not None:
        return Path(dev_root) / f"video{spec.index}"
    if spec.usb_id is not None:
        found = find_by_usb_id(spec.usb_id, sysfs_root, dev_root)
        if not found:
            raise DeviceError(f"{spec.kind}:{spec.device} {spec.usb_id}: no video device with "
                              "this USB id (not plugged in, or no access to sysfs)")
        if len(found) > 1:
            log.warning("%d cameras with USB id %s (%s); using %s; name one by path to choose",
                        len(found), spec.usb_id, ", ".join(c.path for c in found), found[0].path)
        return Path(found[0].path)
    raise DeviceError(f"{spec.kind}:{spec.device}: no path, index or usb_id")


def _configure(cap: Any, spec: CameraSpec, name: str) -> Decoder:
    if spec.device == "lepton":
        _require_fourcc(cap, "Y16 ", name, "PureThermal firmware 1.0 or newer offers Y16")
        _set_size(cap, spec.width, spec.height, spec.fps)
        _raw_buffers(cap, name)
        return lambda frame: parse_lepton(frame, telemetry="auto")
    if spec.device == "p2pro":
        _require_fourcc(cap, "YUYV", name, "the P2 Pro's raw mode is YUYV")
        _set_size(cap, P2PRO_WIDTH, FRAME_ROWS, spec.fps or P2PRO_FPS)
        _raw_buffers(cap, name)
        got = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        if got != (P2PRO_WIDTH, FRAME_ROWS):
            raise DeviceError(f"{name}: refused 256x384 (got {got[0]}x{got[1]}): not a P2 Pro /"
                              " TC001, or the thermal node is another /dev/video*")
        return parse_p2pro
    fourcc = spec.fourcc or DEFAULT_RGB_FOURCC
    if not cap.set(cv2.CAP_PROP_FOURCC, fourcc_code(fourcc)) and spec.fourcc:
        raise DeviceError(f"{name}: does not offer {fourcc}")
    _set_size(cap, spec.width, spec.height, spec.fps)
    log.info("%s: %dx%d %s", name, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
             int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), fourcc_text(cap.get(cv2.CAP_PROP_FOURCC)))
    return decode_bgr


def _require_fourcc(cap: Any, fourcc: str, name: str, hint: str) -> None:
    ok = cap.set(cv2.CAP_PROP_FOURCC, fourcc_code(fourcc))
    got = fourcc_text(cap.get(cv2.CAP_PROP_FOURCC))
    if not ok or got != fourcc.strip():
        raise DeviceError(f"{name}: refused FOURCC {fourcc.strip()} (has {got or 'none'}); "
                          + hint)


def _raw_buffers(cap: Any, name: str) -> None:
    # Last: a FOURCC or size change re-initialises the stream and turns conversion back on.
    cap.set(cv2.CAP_PROP_CONVERT_RGB, 0)
    if cap.get(cv2.CAP_PROP_CONVERT_RGB) != 0:
        raise DeviceError(f"{name}: OpenCV kept RGB conversion on; raw frames unavailable")


def _set_size(cap: Any, width: int | None, height: int | None, fps: float | None) -> None:
    # Width and height together: OpenCV's V4L2 backend applies the size on the second of them.
    if width is not None and height is not None:
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
    if fps is not None:
        cap.set(cv2.CAP_PROP_FPS, fps)


def decode_bgr(frame: np.ndarray) -> DeviceFrame:
    """A frame OpenCV decoded to BGR: (H, W, 3) uint8; grey (H, W) is expanded to BGR."""
    if frame.dtype != np.uint8:
        raise FrameFormatError(f"RGB frame: expected uint8, got dtype {frame.dtype}")
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] < 2 or frame.shape[1] < 2:
        raise FrameFormatError(f"RGB frame: expected (H, W, 3) BGR, got shape {frame.shape}")
    return DeviceFrame(data=frame)
