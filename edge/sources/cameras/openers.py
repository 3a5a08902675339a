"""`opener_for`: the DeviceOpener for a CameraSpec (UVC/V4L2 or network/FFmpeg)."""

from __future__ import annotations

from edge.sources.cameras.base import NETWORK_DEVICES, CameraSpec, DeviceOpener, FrameDevice


def opener_for(spec: CameraSpec) -> DeviceOpener:
    """A no-argument callable that opens (or reopens) the camera `spec` names; it raises
    DeviceError (naming the device) when the camera is missing or refuses the format."""

    def open_device() -> FrameDevice:
        # Imported here so listing or configuring cameras does not load OpenCV's backends.
        if spec.device in NETWORK_DEVICES:
            from edge.sources.cameras.network import open_network
            return open_network(spec)
        from edge.sources.cameras.uvc import open_uvc
        return open_uvc(spec)

    return open_device
