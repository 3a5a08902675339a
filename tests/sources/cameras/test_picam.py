"""The Raspberry Pi camera device over a stand-in `picamera2` module (the real one needs a Pi):
the configuration asked for, frames as BGR uint8, timeouts, camera failures, and the message
when picamera2 is not installed."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from edge.sources.cameras import CameraSpec, DeviceError, FrameFormatError, opener_for
from edge.sources.cameras.picam import MISSING_PACKAGE, open_picamera


class FakePicamera2:
    """Records what the device asks of it; `outcomes` scripts what each wait() does: an array
    (delivered), TimeoutError (no frame in time) or another exception (the camera failed)."""

    instances: ClassVar[list[FakePicamera2]] = []

    def __init__(self, camera_num: int = 0) -> None:
        self.camera_num = camera_num
        self.config_kwargs: dict[str, Any] = {}
        self.configured: object = None
        self.calls: list[str] = []
        self.outcomes: list[object] = []
        self.waits: list[tuple[object, float | None]] = []
        self.jobs = 0
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, **kwargs: Any) -> dict[str, Any]:
        self.config_kwargs = kwargs
        return {"made_by": "create_video_configuration", **kwargs}

    def configure(self, config: object) -> None:
        self.configured = config

    def start(self) -> None:
        self.calls.append("start")

    def capture_array(self, name: str = "main", wait: object = None) -> object:
        assert (name, wait) == ("main", False)
        self.jobs += 1
        return f"job{self.jobs}"

    def wait(self, job: object, timeout: float | None = None) -> object:
        self.waits.append((job, timeout))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def stop(self) -> None:
        self.calls.append("stop")

    def close(self) -> None:
        self.calls.append("close")


@pytest.fixture
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> type[FakePicamera2]:
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    FakePicamera2.instances = []
    return FakePicamera2


def _spec(**kw: Any) -> CameraSpec:
    return CameraSpec(kind="rgb", device="picamera", **{"index": 0, **kw})


def test_configuration_asks_for_bgr_at_the_size_and_frame_rate(fake_picamera2: Any) -> None:
    dev = opener_for(_spec(index=1, width=1280, height=720, fps=20))()
    cam = fake_picamera2.instances[-1]
    assert cam.camera_num == 1
    # "RGB888" is [B, G, R] in memory in picamera2: the pipeline's BGR.
    assert cam.config_kwargs["main"] == {"format": "RGB888", "size": (1280, 720)}
    assert cam.config_kwargs["controls"] == {"FrameDurationLimits": (50_000, 50_000)}
    assert cam.configured["made_by"] == "create_video_configuration"
    assert cam.calls == ["start"]
    assert (dev.name, dev.kind, dev.encoding) == ("rgb:picamera 1", "rgb", None)


def test_default_size_and_no_frame_duration_without_fps(fake_picamera2: Any) -> None:
    open_picamera(_spec())
    kwargs = fake_picamera2.instances[-1].config_kwargs
    assert kwargs["main"]["size"] == (640, 480)
    assert "controls" not in kwargs


def test_frames_arrive_as_bgr_uint8(fake_picamera2: Any) -> None:
    dev = open_picamera(_spec(width=64, height=48))
    bgr = np.random.default_rng(1).integers(0, 255, size=(48, 64, 3), dtype=np.uint8)
    fake_picamera2.instances[-1].outcomes = [bgr]
    frame = dev.read(0.5)
    assert frame is not None
    assert frame.data.dtype == np.uint8 and frame.data.shape == (48, 64, 3)
    assert np.array_equal(frame.data, bgr)
    assert fake_picamera2.instances[-1].waits == [("job1", 0.5)]


def test_timeout_is_none_and_the_next_read_waits_on_the_same_job(fake_picamera2: Any) -> None:
    dev = open_picamera(_spec())
    cam = fake_picamera2.instances[-1]
    cam.outcomes = [TimeoutError(), np.zeros((480, 640, 3), np.uint8)]
    assert dev.read(0.2) is None
    assert dev.read(0.3) is not None
    # No second job queued behind the one that timed out (picamera2 keeps it queued).
    assert cam.waits == [("job1", 0.2), ("job1", 0.3)]


def test_camera_exception_is_device_error(fake_picamera2: Any) -> None:
    dev = open_picamera(_spec())
    fake_picamera2.instances[-1].outcomes = [RuntimeError("Camera frontend has timed out!")]
    with pytest.raises(DeviceError, match=r"rgb:picamera 0: capture failed: Camera frontend"):
        dev.read(1.0)


def test_wrong_frame_shape_is_a_format_error(fake_picamera2: Any) -> None:
    dev = open_picamera(_spec())
    fake_picamera2.instances[-1].outcomes = [np.zeros((480, 640, 4), np.uint8)]
    with pytest.raises(FrameFormatError, match=r"expected uint8 \(H, W, 3\)"):
        dev.read(1.0)


def test_close_stops_and_closes_once_and_reads_after_fail(fake_picamera2: Any) -> None:
    dev = open_picamera(_spec())
    dev.close()
    dev.close()
    assert fake_picamera2.instances[-1].calls == ["start", "stop", "close"]
    with pytest.raises(DeviceError, match="read after close"):
        dev.read(0.1)


def test_refused_configuration_is_device_error_and_releases(
        fake_picamera2: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: FakePicamera2, config: object) -> None:
        raise ValueError("size not supported")

    monkeypatch.setattr(FakePicamera2, "configure", refuse)
    with pytest.raises(DeviceError, match=r"refused the configuration 640x480 RGB888"):
        open_picamera(_spec())
    assert fake_picamera2.instances[-1].calls == ["stop", "close"]


def test_missing_camera_is_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_camera(camera_num: int = 0) -> None:
        raise IndexError("list index out of range")

    module = types.ModuleType("picamera2")
    module.Picamera2 = no_camera  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    with pytest.raises(DeviceError, match=r"rgb:picamera 0: cannot open the camera"):
        open_picamera(_spec())


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import raises ImportError
    with pytest.raises(DeviceError) as info:
        opener_for(_spec())()
    assert str(info.value) == MISSING_PACKAGE
    assert "sudo apt install python3-picamera2" in MISSING_PACKAGE
    assert "--system-site-packages" in MISSING_PACKAGE
    assert "gate-edge[picamera]" in MISSING_PACKAGE


def test_spec_needs_an_index_and_only_for_rgb() -> None:
    with pytest.raises(ValueError, match="a picamera is named by index"):
        CameraSpec(kind="rgb", device="picamera", path="/dev/video0")
    with pytest.raises(ValueError, match="cannot be a thermal camera"):
        CameraSpec(kind="thermal", device="picamera", index=0)


def test_config_takes_a_picamera_as_rgb_only_and_by_index(tmp_path: Path) -> None:
    from edge.app.cameras import camera_openers
    from edge.config import load_config
    from edge.errors import ConfigError

    lepton = '[source]\nkind = "cameras"\n[source.thermal]\ndevice = "lepton"\nindex = 2\n'
    path = tmp_path / "gate.toml"
    path.write_text(lepton + '[source.rgb]\ndevice = "picamera"\nindex = 0\nwidth = 640\n'
                             'height = 480\nfps = 15\n')
    settings = load_config(path)
    assert settings.source.rgb is not None and settings.source.rgb.device == "picamera"
    # The app turns the table into a spec the opener accepts (opening waits for the first read).
    assert camera_openers(settings)["rgb"].name == "rgb:picamera 0"
    path.write_text(lepton + '[source.rgb]\ndevice = "picamera"\n')
    with pytest.raises(ConfigError, match=r"source\.rgb\.index.*required for device = 'picamera'"):
        load_config(path)
    path.write_text('[source]\nkind = "cameras"\n[source.thermal]\ndevice = "picamera"\n'
                    'index = 0\n')
    with pytest.raises(ConfigError, match=r"source\.thermal\.device.*a thermal camera is one of"):
        load_config(path)
