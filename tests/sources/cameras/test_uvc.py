"""The V4L2 openers with a fake cv2.VideoCapture that behaves like OpenCV's V4L2 backend where
it matters: a FOURCC or size change re-initialises the stream and turns RGB conversion back
on, a format the camera does not offer is refused, reads hand out what the driver gave."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.sources.cameras import CameraSpec, DeviceError, FrameFormatError, cvdevice, opener_for
from edge.sources.cameras.cvdevice import fourcc_code, fourcc_text
from edge.sources.cameras.uvc import open_uvc
from tests.sources.cameras.fake_sysfs import usb_camera
from tests.sources.cameras.test_lepton import _frame as lepton_bytes
from tests.sources.cameras.test_lepton import _image as lepton_image
from tests.sources.cameras.test_lepton import _row_a
from tests.sources.cameras.test_p2pro import _frame as p2pro_bytes
from tests.sources.cameras.test_p2pro import _thermal

FOURCC, CONVERT = cv2.CAP_PROP_FOURCC, cv2.CAP_PROP_CONVERT_RGB
WIDTH, HEIGHT, FPS = cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT, cv2.CAP_PROP_FPS
NAMES = {FOURCC: "FOURCC", CONVERT: "CONVERT_RGB", WIDTH: "WIDTH", HEIGHT: "HEIGHT", FPS: "FPS"}
Read = tuple[bool, Any]


class FakeCapture:
    def __init__(self, target: str | int, api: int, offered: tuple[str, ...]) -> None:
        self.target, self.api, self.offered = target, api, offered
        self.opened = isinstance(target, int) or Path(target).exists()
        self.props: dict[int, float] = {FOURCC: fourcc_code(offered[0]), CONVERT: 1,
                                        WIDTH: 640, HEIGHT: 480, FPS: 30}
        self.calls: list[tuple[str, float]] = []
        self.reads: deque[Read | Callable[[], Read]] = deque()
        self.released = False

    def isOpened(self) -> bool:
        return self.opened

    def set(self, prop: int, value: float) -> bool:
        self.calls.append((NAMES.get(prop, str(prop)), value))
        if prop == FOURCC and fourcc_text(value) not in [f.strip() for f in self.offered]:
            return False
        if prop in (FOURCC, WIDTH, HEIGHT):
            self.props[CONVERT] = 1  # OpenCV's v4l2_reset: conversion back on
        self.props[prop] = value
        return True

    def get(self, prop: int) -> float:
        return float(self.props.get(prop, 0))

    def read(self) -> Read:
        if not self.reads:
            return False, None
        item = self.reads.popleft()
        return item() if callable(item) else item

    def release(self) -> None:
        self.released = True
        self.opened = False


OFFERED = {"lepton": ("Y16 ", "UYVY"), "p2pro": ("YUYV",), "uvc": ("YUYV", "MJPG")}


class Caps(list[FakeCapture]):
    """The fake captures made so far; `imitate` picks the formats the next one offers."""

    imitate = "uvc"

    def __call__(self, target: str | int, api: int) -> FakeCapture:
        cap = FakeCapture(target, api, OFFERED[self.imitate])
        self.append(cap)
        return cap


@pytest.fixture
def caps(monkeypatch: pytest.MonkeyPatch) -> Caps:
    made = Caps()
    monkeypatch.setattr(cv2, "VideoCapture", made)
    return made


def _node(tmp_path: Path, name: str = "video0") -> Path:
    node = tmp_path / name
    node.write_bytes(b"")
    return node


def test_lepton_sets_y16_before_turning_conversion_off(tmp_path: Path,
                                                       caps: Caps) -> None:
    caps.imitate = "lepton"
    node = _node(tmp_path)
    device = opener_for(CameraSpec(kind="thermal", device="lepton", path=str(node)))()
    [cap] = caps
    names = [name for name, _ in cap.calls]
    assert names.index("FOURCC") < names.index("CONVERT_RGB")
    assert names[-1] == "CONVERT_RGB" and cap.props[CONVERT] == 0  # conversion stayed off
    assert fourcc_text(cap.props[FOURCC]) == "Y16" and cap.api == cv2.CAP_V4L2
    assert (device.kind, device.encoding) == ("thermal", "centikelvin")

    image = lepton_image(5)
    raw = lepton_bytes(image, _row_a(ffc_state=2))
    cap.reads.extend([(True, np.frombuffer(raw, "<u2").reshape(122, 160)),  # OpenCV 4.x
                      (True, np.frombuffer(raw, np.uint8).reshape(1, -1)),  # raw bytes
                      (True, image.copy())])  # telemetry off: 160x120
    for expect_ffc in (True, True, False):
        frame = device.read(1.0)
        assert frame is not None and frame.data.shape == (120, 160)
        np.testing.assert_array_equal(frame.data, image)
        assert frame.ffc is expect_ffc
    device.close()
    assert cap.released


def test_wrong_order_would_leave_conversion_on() -> None:
    """The fake is strict enough to catch the bug the order prevents."""
    cap = FakeCapture(0, cv2.CAP_V4L2, ("Y16 ",))
    cap.set(CONVERT, 0)
    cap.set(FOURCC, fourcc_code("Y16 "))
    assert cap.props[CONVERT] == 1


def test_lepton_without_y16_is_refused(tmp_path: Path, caps: Caps) -> None:
    caps.imitate = "uvc"  # a camera that only offers YUYV/MJPG
    with pytest.raises(DeviceError, match="refused FOURCC Y16"):
        opener_for(CameraSpec(kind="thermal", device="lepton", path=str(_node(tmp_path))))()
    assert caps[0].released


def test_p2pro_raw_yuyv_256x384_split(tmp_path: Path, caps: Caps) -> None:
    caps.imitate = "p2pro"
    device = opener_for(CameraSpec(kind="thermal", device="p2pro", path=str(_node(tmp_path))))()
    [cap] = caps
    names = [name for name, _ in cap.calls]
    assert names.index("FOURCC") < names.index("CONVERT_RGB") and cap.props[CONVERT] == 0
    assert (cap.props[WIDTH], cap.props[HEIGHT], cap.props[FPS]) == (256, 384, 25)
    assert device.encoding == "p2pro"
    thermal = _thermal()
    raw = p2pro_bytes(thermal)
    cap.reads.extend([(True, np.frombuffer(raw, np.uint8).reshape(384, 256, 2)),
                      (True, np.frombuffer(raw, np.uint8).reshape(1, -1)),
                      (True, np.frombuffer(raw[:98304], np.uint8).reshape(1, -1))])
    for _ in range(2):
        frame = device.read(1.0)
        assert frame is not None
        np.testing.assert_array_equal(frame.data, thermal)
    with pytest.raises(FrameFormatError, match=r"thermal:p2pro .*expected 196608 bytes.*98304"):
        device.read(1.0)


def test_rgb_uvc_mjpg_size_fps(tmp_path: Path, caps: Caps) -> None:
    caps.imitate = "uvc"
    spec = CameraSpec(kind="rgb", device="uvc", path=str(_node(tmp_path)), width=1280,
                      height=720, fps=30)
    device = opener_for(spec)()
    [cap] = caps
    assert fourcc_text(cap.props[FOURCC]) == "MJPG" and cap.props[CONVERT] == 1
    assert (cap.props[WIDTH], cap.props[HEIGHT]) == (1280, 720)
    assert device.name == f"rgb:{tmp_path / 'video0'}" and device.encoding is None
    bgr = np.zeros((720, 1280, 3), np.uint8)
    cap.reads.extend([(True, bgr), (True, np.zeros((720, 1280), np.uint8)),
                      (True, np.zeros((720, 1280, 3), np.float32))])
    assert device.read(1.0).data.shape == (720, 1280, 3)  # type: ignore[union-attr]
    assert device.read(1.0).data.shape == (720, 1280, 3)  # type: ignore[union-attr]
    with pytest.raises(FrameFormatError, match="dtype float32"):
        device.read(1.0)


def test_rgb_fourcc_asked_for_but_not_offered(tmp_path: Path, caps: Caps) -> None:
    caps.imitate = "p2pro"  # offers YUYV only
    node = str(_node(tmp_path))
    opener_for(CameraSpec(kind="rgb", device="uvc", path=node))()  # MJPG where offered: ok
    with pytest.raises(DeviceError, match="does not offer H264"):
        opener_for(CameraSpec(kind="rgb", device="uvc", path=node, fourcc="H264"))()


def test_missing_node_and_usb_id_lookup(tmp_path: Path, caps: Caps) -> None:
    caps.imitate = "lepton"
    with pytest.raises(DeviceError, match="does not exist"):
        opener_for(CameraSpec(kind="thermal", device="lepton", path=str(tmp_path / "video9")))()
    sysfs, dev = tmp_path / "sys", tmp_path / "dev"
    dev.mkdir()
    spec = CameraSpec(kind="thermal", device="lepton", usb_id="1e4e:0100")
    with pytest.raises(DeviceError, match="no video device with this USB id"):
        open_uvc(spec, sysfs_root=sysfs, dev_root=dev)
    usb_camera(sysfs, "1-2", "1e4e", "0100", {2: ("PureThermal", 0), 3: ("PureThermal", 1)})
    _node(dev, "video2")
    device = open_uvc(spec, sysfs_root=sysfs, dev_root=dev)
    assert caps[-1].target == str(dev / "video2")
    assert device.name == "thermal:lepton 1e4e:0100"


def test_timeout_then_vanished(tmp_path: Path, caps: Caps,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    caps.imitate = "uvc"
    now = [100.0]
    monkeypatch.setattr(cvdevice, "_clock", lambda: now[0])
    node = _node(tmp_path)
    device = opener_for(CameraSpec(kind="rgb", device="uvc", path=str(node),
                                   read_timeout_s=1.0))()
    cap = caps[0]

    def slow_fail() -> Read:  # select() waited the full timeout, no frame
        now[0] += 1.0
        return False, None

    cap.reads.extend([slow_fail, slow_fail])
    assert device.read(1.0) is None and device.read(1.0) is None  # still there: timeouts
    cap.reads.extend([(False, None)] * 3)  # immediate failures: a dead handle
    assert device.read(1.0) is None and device.read(1.0) is None
    with pytest.raises(DeviceError, match="3 reads in a row failed at once"):
        device.read(1.0)
    node.unlink()  # unplugged: the /dev node disappears
    with pytest.raises(DeviceError, match=r"video0 is gone \(unplugged or reset\)"):
        device.read(1.0)
    device.close()
    device.close()  # twice is fine
    with pytest.raises(DeviceError, match="read after close"):
        device.read(1.0)
