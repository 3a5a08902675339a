"""Camera devices and capture: opening RGB (UVC, RTSP, HTTP MJPEG, Raspberry Pi camera) and
thermal (FLIR Lepton on PureThermal, InfiRay P2 Pro / Topdon TC001) cameras, parsing their raw
frames, finding them in sysfs, and the capture threads that read them live.

Owns: the device contract (base.py: DeviceFrame, FrameDevice, DeviceOpener, CameraSpec,
DeviceError), the pure byte-layout parsers (lepton.py, p2pro.py), the OpenCV openers (uvc.py,
network.py over cvdevice.py; the only modules here that open cv2 devices), the Pi camera
(picam.py: picamera2, imported only when one is opened), discovery (discover.py:
sysfs; formats.py: V4L2 format listing by ioctl) and capture.

May import: edge.core, edge.errors, numpy, cv2 (OpenCV's V4L2 and FFmpeg backends),
picamera2 (optional, Pi-only; lazily in picam.py).
"""

from edge.sources.cameras.base import (
    CameraSpec,
    DeviceError,
    DeviceFrame,
    DeviceOpener,
    FrameDevice,
    FrameFormatError,
    encoding_for,
)
from edge.sources.cameras.openers import as_spec, opener_for

__all__ = [
    "CameraSpec",
    "DeviceError",
    "DeviceFrame",
    "DeviceOpener",
    "FrameDevice",
    "FrameFormatError",
    "as_spec",
    "encoding_for",
    "opener_for",
]
