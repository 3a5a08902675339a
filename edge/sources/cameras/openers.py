"""`opener_for`: the DeviceOpener for a camera (UVC/V4L2, network/FFmpeg or the Pi camera)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields

from edge.sources.cameras.base import NETWORK_DEVICES, CameraSpec, DeviceOpener, FrameDevice

_SPEC_FIELDS = tuple(f.name for f in fields(CameraSpec))


def as_spec(camera: CameraSpec | Mapping[str, object] | object) -> CameraSpec:
    """A CameraSpec from a CameraSpec, a mapping, or any object with the same attribute names
    (the config's pydantic camera model): fields the spec does not have are ignored, missing
    ones take the spec's defaults. Raises ValueError for an invalid camera."""
    if isinstance(camera, CameraSpec):
        return camera
    if isinstance(camera, Mapping):
        values = {k: v for k, v in camera.items() if k in _SPEC_FIELDS}
    else:
        values = {k: getattr(camera, k) for k in _SPEC_FIELDS if hasattr(camera, k)}
    return CameraSpec(**values)  # type: ignore[arg-type]


def opener_for(camera: CameraSpec | Mapping[str, object] | object) -> DeviceOpener:
    """A no-argument callable that opens (or reopens) the camera; it raises DeviceError
    (naming the device) when the camera is missing or refuses the format. `camera` is a
    CameraSpec or anything as_spec takes; it is validated here, once."""
    spec = as_spec(camera)

    def open_device() -> FrameDevice:
        # Imported here so listing or configuring cameras does not load OpenCV's backends.
        if spec.device in NETWORK_DEVICES:
            from edge.sources.cameras.network import open_network
            return open_network(spec)
        if spec.device == "picamera":
            from edge.sources.cameras.picam import open_picamera
            return open_picamera(spec)
        from edge.sources.cameras.uvc import open_uvc
        return open_uvc(spec)

    return open_device
