"""Config section of the frame source (`[source]`, with `[source.thermal]` and `[source.rgb]`
for live cameras); part of edge.config. The app converts a camera table into the devices'
CameraSpec (edge.app.cameras): the config layer does not import the sources."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.config_base import LaxPath, _cross, _Section

CameraDevice = Literal["uvc", "lepton", "p2pro", "rtsp", "http", "picamera", "fake"]
THERMAL_DEVICES = ("lepton", "p2pro", "fake")
RGB_DEVICES = ("uvc", "rtsp", "http", "picamera", "fake")
NETWORK_DEVICES = ("rtsp", "http")
# The frame each thermal camera delivers (width, height): FLIR Lepton 3.x, InfiRay P2 Pro's
# raw half. A camera table may override it (a Lepton 2.x is 80x60).
THERMAL_SIZES = {"lepton": (160, 120), "p2pro": (256, 192)}
_NAMES = ("path", "index", "usb_id", "url")


class CameraConfig(_Section):
    """One camera. `device`: uvc (RGB USB/V4L2), lepton (FLIR Lepton 3.x on PureThermal),
    p2pro (InfiRay P2 Pro / Topdon TC001), rtsp | http (network RGB), picamera (the Raspberry
    Pi camera through picamera2: the gate-edge[picamera] extra), fake (a recording folder
    played as a camera: installers' dry runs and tests). Exactly one of path, index, usb_id
    or url names it (fake: path, the recording; picamera: index, the camera number)."""

    device: CameraDevice
    path: str | None = None  # /dev/video0, /dev/gate-thermal (udev symlink); fake: recording
    index: int | None = Field(None, ge=0, le=63)  # /dev/video<index>; picamera: camera number
    usb_id: str | None = None  # vendor:product in hex, "1e4e:0100" (found through sysfs)
    url: str | None = None  # rtsp://... or http://.../mjpeg
    width: int | None = Field(None, ge=16, le=7680)  # requested (RGB); thermal: the frame's
    height: int | None = Field(None, ge=16, le=4320)
    fps: float | None = Field(None, gt=0, le=240)
    fourcc: str | None = None  # "MJPG", "YUYV": requested where the camera offers it
    freeze_frames: int = Field(30, ge=2, le=10000)  # the same frame this often: frozen
    read_timeout_s: float = Field(2.0, gt=0, le=60)
    open_timeout_s: float = Field(5.0, gt=0, le=120)
    min_backoff_s: float = Field(1.0, gt=0, le=600)  # reopen waits, doubling up to the max
    max_backoff_s: float = Field(30.0, gt=0, le=3600)
    speed: float | None = Field(None, gt=0, le=1000)  # fake only: x real time (default 1)
    loop: bool | None = None  # fake only: start again at the end (default: the end ends run)

    @field_validator("usb_id")
    @classmethod
    def _usb_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{4}", value):
            raise ValueError("must be vendor:product, 4 hex digits each (lsusb: 1e4e:0100)")
        return value

    @field_validator("fourcc")
    @classmethod
    def _fourcc(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9 ]{4}", value):
            raise ValueError("must be 4 letters or digits (MJPG, YUYV, Y16 with a space)")
        return value

    @model_validator(mode="after")
    def _named_once(self) -> CameraConfig:
        if self.device in NETWORK_DEVICES and self.url is None:
            raise _cross("url", None, f"required for device = {self.device!r} (rtsp://... or "
                                      "http://...)")
        if self.device == "fake" and self.path is None:
            raise _cross("path", None, "required for device = 'fake' (a recording folder)")
        if self.device == "picamera" and self.index is None:
            raise _cross("index", None, "required for device = 'picamera' (the camera "
                                        "number: 0 for the first)")
        named = [n for n in _NAMES if getattr(self, n) is not None]
        if len(named) != 1:
            field = named[1] if named else "path"
            raise _cross(field, getattr(self, field),
                         f"give exactly one of path, index, usb_id, url (got "
                         f"{', '.join(named) or 'none'})")
        if self.url is not None and self.device not in NETWORK_DEVICES:
            raise _cross("url", self.url, "only for device = 'rtsp' or 'http'")
        if self.url is not None and not self.url.startswith(f"{self.device}://") and not (
                self.device == "http" and self.url.startswith("https://")):
            raise _cross("url", self.url, f"must start with {self.device}://")
        for key in ("speed", "loop"):
            if getattr(self, key) is not None and self.device != "fake":
                raise _cross(key, getattr(self, key), "only for device = 'fake'")
        if self.min_backoff_s > self.max_backoff_s:
            raise _cross("min_backoff_s", self.min_backoff_s,
                         f"must be at most max_backoff_s = {self.max_backoff_s}")
        return self

    @property
    def target(self) -> str:
        """The device as named: path, index, USB id or URL (for messages)."""
        return next(str(v) for n in _NAMES if (v := getattr(self, n)) is not None)


class SourceConfig(_Section):
    """Where `gate-edge run` gets frames: `replay` feeds a recording through the live path
    (soak tests, a demo gate, fault drills); `cameras` reads `[source.thermal]` and the
    optional `[source.rgb]` (none: a thermal-only kiosk)."""

    kind: Literal["replay", "cameras"] = "replay"
    path: LaxPath | None = None  # replay: recording folder or .cptv
    loop: bool = False  # replay: start again at the end, timestamps continuing
    speed: float = Field(1.0, gt=0, le=1000)  # replay: x real time
    stall_s: float = Field(5.0, gt=0, le=600)  # no frame for this long: reopen the source
    thermal: CameraConfig | None = None
    rgb: CameraConfig | None = None

    @model_validator(mode="after")
    def _by_kind(self) -> SourceConfig:
        if self.kind == "replay":
            for key in ("thermal", "rgb"):
                if getattr(self, key) is not None:
                    raise _cross(key, "{...}", "camera tables are only for kind = 'cameras'")
            return self
        # By value, not by presence: a dumped and re-validated config (command-line
        # overrides) carries every key with its default.
        defaults = {"path": None, "loop": False, "speed": 1.0}
        for key, default in defaults.items():
            if getattr(self, key) != default:
                raise _cross(key, str(getattr(self, key)),
                             "only for kind = 'replay' (a fake camera takes path, speed, loop "
                             "in its [source.thermal] / [source.rgb] table)")
        if self.thermal is None:
            raise _cross("thermal", None, "kind = 'cameras' needs a [source.thermal] table "
                                          "(device = 'lepton', 'p2pro' or 'fake')")
        for role, allowed in (("thermal", THERMAL_DEVICES), ("rgb", RGB_DEVICES)):
            cam = getattr(self, role)
            if cam is not None and cam.device not in allowed:
                raise _cross(f"{role}.device", cam.device, f"a {role} camera is one of "
                             + ", ".join(repr(d) for d in allowed))
        return self
