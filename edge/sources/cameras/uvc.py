"""Placeholder until the opener lands (C1): opening raises DeviceError."""

from __future__ import annotations

from edge.sources.cameras.base import CameraSpec, DeviceError, FrameDevice


def open_uvc(spec: CameraSpec) -> FrameDevice:
    raise DeviceError(f"{spec.kind}:{spec.device} {spec.target}: opener not implemented yet")
