"""The camera device contract: what an opener returns and what a read hands to capture.

A device is opened by a DeviceOpener (a no-argument callable, so capture can reopen it after a
loss without knowing what kind of camera it is) and read one frame at a time. Frames carry no
timestamp: the capture thread stamps them on one monotonic clock when the read returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from edge.errors import EdgeError

Kind = Literal["rgb", "thermal"]
DeviceKind = Literal["uvc", "lepton", "p2pro", "rtsp", "http", "picamera"]
DEVICE_KINDS: tuple[str, ...] = ("uvc", "lepton", "p2pro", "rtsp", "http", "picamera")
THERMAL_DEVICES: tuple[str, ...] = ("lepton", "p2pro")
NETWORK_DEVICES: tuple[str, ...] = ("rtsp", "http")


class DeviceError(EdgeError):
    """A camera is gone (unplugged, reset, stream closed) or cannot be opened; the message names
    the device."""

    exit_code = 7


class FrameFormatError(DeviceError, ValueError):
    """A device delivered a buffer that is not the format it was opened for (short, oversized,
    wrong dtype, corrupt telemetry, pixels that are not the expected encoding); the message
    names the size or value expected and got."""


@dataclass(frozen=True, slots=True)
class DeviceFrame:
    """One frame as read from a device.

    data: rgb: uint8 (H, W, 3) BGR; thermal: uint16 (H, W) counts in the device's encoding.
    ffc: thermal: a flat-field correction is in progress (the shutter is closed; do not measure).
    telemetry: parsed telemetry (Lepton telemetry rows), None when the device sends none.
    """

    data: np.ndarray
    ffc: bool = False
    telemetry: Mapping[str, object] | None = None


class FrameDevice(Protocol):
    """An open camera. `name` is for logs and metrics ("rgb:/dev/video0",
    "thermal:lepton 1e4e:0100"); `encoding` is the thermal encoding ("centikelvin" for the
    Lepton, "p2pro" for the P2 Pro), None for RGB."""

    name: str
    kind: Kind
    encoding: str | None

    def read(self, timeout_s: float) -> DeviceFrame | None:
        """One frame; None when no frame came within timeout_s (the device may still be there).
        Raises DeviceError when the device vanished (closed, unplugged, stream ended)."""
        ...

    def close(self) -> None:
        """Release the device; safe to call twice."""
        ...


DeviceOpener = Callable[[], FrameDevice]  # opens (or reopens) the device; raises DeviceError


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """One camera as the openers need it (the config's camera section converts into this).

    kind: "rgb" | "thermal". device: "uvc" (RGB USB/V4L2 camera), "lepton" (FLIR Lepton 3.x on a
    PureThermal board), "p2pro" (InfiRay P2 Pro / Topdon TC001), "rtsp" | "http" (network),
    "picamera" (the Raspberry Pi camera through picamera2; index is its camera number).
    Exactly one of path ("/dev/video0"), index (0), usb_id ("1e4e:0100", vendor:product in hex)
    or url ("rtsp://...", "http://.../mjpeg") names the device; network devices need url.
    width, height, fps, fourcc ("MJPG"): requested from UVC RGB cameras where offered, None
    leaves the driver's default. read_timeout_s: how long a read may wait for a frame;
    open_timeout_s: how long opening a network stream may take.
    """

    kind: Kind
    device: DeviceKind
    path: str | None = None
    index: int | None = None
    usb_id: str | None = None
    url: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    fourcc: str | None = None
    read_timeout_s: float = 2.0
    open_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        problems = _spec_problems(self)
        if problems:
            raise ValueError(f"camera {self.kind}/{self.device}: " + "; ".join(problems))

    @property
    def target(self) -> str:
        """The device as named in the spec: path, index, USB id or URL (for messages)."""
        for value in (self.path, self.index, self.usb_id, self.url):
            if value is not None:
                return str(value)
        return "?"


def _spec_problems(spec: CameraSpec) -> list[str]:
    out: list[str] = []
    if spec.kind not in ("rgb", "thermal"):
        out.append(f"kind {spec.kind!r} is not rgb or thermal")
    if spec.device not in DEVICE_KINDS:
        out.append(f"device {spec.device!r} is not one of {', '.join(DEVICE_KINDS)}")
    elif (spec.device in THERMAL_DEVICES) != (spec.kind == "thermal"):
        out.append(f"device {spec.device!r} cannot be a {spec.kind} camera")
    named = [n for n in ("path", "index", "usb_id", "url") if getattr(spec, n) is not None]
    if len(named) != 1:
        out.append("give exactly one of path, index, usb_id, url (got "
                   + (", ".join(named) or "none") + ")")
    if spec.device in NETWORK_DEVICES and spec.url is None:
        out.append(f"a {spec.device} camera needs url")
    if spec.device == "picamera" and spec.index is None:
        out.append("a picamera is named by index (its camera number, 0 for the first)")
    if spec.device not in NETWORK_DEVICES and spec.url is not None:
        out.append(f"url is only for rtsp/http cameras, not {spec.device!r}")
    if spec.usb_id is not None and not _is_usb_id(spec.usb_id):
        out.append(f"usb_id {spec.usb_id!r} is not vvvv:pppp in hex")
    if spec.fourcc is not None and len(spec.fourcc) != 4:
        out.append(f"fourcc {spec.fourcc!r} is not 4 characters")
    for name in ("width", "height", "fps", "read_timeout_s", "open_timeout_s"):
        value = getattr(spec, name)
        if value is None and name.endswith("timeout_s"):
            out.append(f"{name} is required")
        elif value is not None and value <= 0:
            out.append(f"{name} must be > 0 (got {value})")
    return out


def _is_usb_id(text: str) -> bool:
    vendor, sep, product = text.partition(":")
    hexdigits = set("0123456789abcdefABCDEF")
    return bool(sep) and all(len(p) == 4 and set(p) <= hexdigits for p in (vendor, product))


# (width, height) of the thermal frames a device delivers after parsing (telemetry rows and
# the P2 Pro's image half removed): what a ThermalStreamMeta needs before the first frame.
THERMAL_SIZES: dict[str, tuple[int, int]] = {"lepton": (160, 120), "p2pro": (256, 192)}


def encoding_for(device: str) -> str | None:
    """The thermal encoding a device's frames are in (edge.thermal.radiometry); None for RGB."""
    return {"lepton": "centikelvin", "p2pro": "p2pro"}.get(device)
