"""Network RGB cameras through OpenCV's FFmpeg backend: RTSP (what gate and IP cameras
stream) and HTTP MJPEG (multipart/x-mixed-replace).

Opening and each read are bounded by FFmpeg timeouts given when the capture is created
(CAP_PROP_OPEN_TIMEOUT_MSEC, CAP_PROP_READ_TIMEOUT_MSEC), so a camera that is off or a stream
that stalls cannot hang the capture thread longer than that. A read that times out returns
None; FFmpeg cannot carry on after it, so the next read raises DeviceError and capture
reopens. RTSP goes over TCP (UDP loses packets on busy networks and smears frames).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import cv2

from edge.sources.cameras.base import CameraSpec, DeviceError, FrameDevice
from edge.sources.cameras.cvdevice import CvDevice
from edge.sources.cameras.uvc import decode_bgr

FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
RTSP_OPTIONS = "rtsp_transport;tcp"


def open_network(spec: CameraSpec) -> FrameDevice:
    """Open the RTSP or HTTP MJPEG stream at spec.url. Raises DeviceError (naming the URL
    without its password) when the stream cannot be opened within spec.open_timeout_s."""
    if spec.url is None:
        raise DeviceError(f"rgb:{spec.device}: no url")
    name = f"rgb:{redact_url(spec.url)}"
    scheme = urlsplit(spec.url).scheme.lower()
    if spec.device == "rtsp" and scheme not in ("rtsp", "rtsps"):
        raise DeviceError(f"{name}: an rtsp camera needs an rtsp:// url")
    if spec.device == "http" and scheme not in ("http", "https"):
        raise DeviceError(f"{name}: an http camera needs an http:// url")
    if spec.device == "rtsp":
        # Read by OpenCV when each FFmpeg capture opens; an operator's own options win.
        os.environ.setdefault(FFMPEG_OPTIONS_ENV, RTSP_OPTIONS)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(spec.open_timeout_s * 1000),
              cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(spec.read_timeout_s * 1000)]
    cap = cv2.VideoCapture(spec.url, cv2.CAP_FFMPEG, params)
    if not cap.isOpened():
        cap.release()
        raise DeviceError(f"{name}: cannot open the stream (camera off, wrong url or "
                          f"credentials, or no answer within {spec.open_timeout_s:g} s)")
    return CvDevice(cap, name, "rgb", None, decode_bgr, node=None,
                    read_timeout_s=spec.read_timeout_s, resumes_after_timeout=False)


def redact_url(url: str) -> str:
    """The url without a password, for logs and metrics ("rtsp://admin:***@cam/stream")."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
