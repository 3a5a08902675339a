"""`gate-edge check`, camera part: the listing over a fake sysfs tree, probing configured
cameras (fakes) for frames of the expected size, and `--snapshot DIR` PNGs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

import edge.cli.check_cameras as cc
from edge.cli.main import main
from edge.config import CameraConfig, Settings, validate
from edge.sources.cameras.base import DeviceError, DeviceFrame
from edge.sources.cameras.formats import FormatInfo
from tests.app.record_fakes import RGB_SHAPE, EndlessOpener
from tests.sources.cameras.fake_sysfs import usb_camera


def _usb_camera(root: Path, port: str, usb_id: str, nodes: dict[int, tuple[str, int]]) -> None:
    vid, pid = usb_id.split(":")
    usb_camera(root, port, vid, pid, nodes)


def test_listing_over_a_fake_sysfs_tree(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    sysfs, dev = tmp_path / "sys", tmp_path / "dev"
    _usb_camera(sysfs, "1-1", "046d:085b", {0: ("C925e", 0), 1: ("C925e", 1)})
    _usb_camera(sysfs, "1-2", "1e4e:0100", {2: ("PureThermal (fw:v1.3.0)", 0),
                                            3: ("PureThermal (fw:v1.3.0)", 1)})
    _usb_camera(sysfs, "1-3", "0bda:5830", {4: ("USB Camera: USB Camera", 0)})
    dev.mkdir()
    for n in range(5):
        (dev / f"video{n}").touch()
    (dev / "gate-thermal").symlink_to("video2")  # what the udev rule makes
    offered = {
        f"{dev}/video0": [FormatInfo("MJPG", "Motion-JPEG", ("640x480", "1280x720", "160x120",
                                                             "320x240", "1920x1080")),
                          FormatInfo("YUYV", "YUYV 4:2:2", ("640x480",))],
        f"{dev}/video2": [FormatInfo("Y16", "Greyscale 16", ("160x120", "160x122"))],
        f"{dev}/video4": [],
    }

    def formats(path: str) -> list[FormatInfo]:
        if path not in offered:
            raise PermissionError(13, "Permission denied")
        return offered[path]

    assert cc.check_cameras(Settings(), None, sysfs_root=sysfs, dev_root=dev, formats=formats)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "cameras: 3 found (+2 metadata nodes)",
        f"  {dev}/video0  046d:085b  uvcvideo  C925e",
        "      formats: MJPG 640x480 1280x720 160x120 +2; YUYV 640x480",
        f"  {dev}/video2  1e4e:0100  uvcvideo  PureThermal (fw:v1.3.0) "
        f"[FLIR Lepton on PureThermal] <- {dev}/gate-thermal",
        "      formats: Y16 160x120 160x122",
        f"  {dev}/video4  0bda:5830  uvcvideo  USB Camera: USB Camera "
        "[InfiRay P2 Pro / Topdon TC001]",
        "      formats: none reported",
    ]  # no cameras configured: nothing probed
    offered.pop(f"{dev}/video4")
    assert cc.check_cameras(Settings(), None, sysfs_root=sysfs, dev_root=dev, formats=formats)
    assert f"formats: cannot open {dev}/video4: Permission denied" in capsys.readouterr().out


def test_listing_without_cameras(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cc.check_cameras(Settings(), None, sysfs_root=tmp_path, dev_root=tmp_path)
    assert capsys.readouterr().out.startswith("cameras: no V4L2 camera found")


@dataclass
class Silent:
    """A device that is there but never delivers (reads time out)."""

    name: str = "thermal:silent"
    kind: str = "thermal"
    encoding: str | None = "centikelvin"

    def read(self, timeout_s: float) -> DeviceFrame | None:
        return None

    def close(self) -> None:
        pass


def _gone() -> Silent:
    raise DeviceError("thermal:lepton /dev/gate-thermal: no such device")


def _patch(monkeypatch: pytest.MonkeyPatch, rgb_size: tuple[int, int], thermal: object) -> None:
    cams = {
        "thermal": (CameraConfig(device="lepton", path="/dev/gate-thermal"), thermal),
        "rgb": (CameraConfig(device="uvc", path="/dev/gate-rgb", width=rgb_size[0],
                             height=rgb_size[1]), EndlessOpener("rgb")),
    }
    monkeypatch.setattr(cc, "configured_cameras", lambda _settings: cams)


def _settings(rotate_deg: int = 0) -> Settings:
    return validate({"thermal": {"rotate_deg": rotate_deg, "reference": {
        "mode": "roi", "roi": [10, 20, 8, 6], "temp_c": 35.0}}}, "test")


@pytest.mark.parametrize("rotate_deg", [0, 90])
def test_probe_and_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str], rotate_deg: int) -> None:
    _patch(monkeypatch, (RGB_SHAPE[1], RGB_SHAPE[0]), EndlessOpener("thermal"))
    snap = tmp_path / "aim"
    assert cc.check_cameras(_settings(rotate_deg), snap, sysfs_root=tmp_path, dev_root=tmp_path)
    out = capsys.readouterr().out
    assert "camera thermal: thermal:endless: ok (160x120 uint16 centikelvin" in out
    assert "camera rgb: rgb:endless: ok (128x96 BGR" in out
    assert f"snapshot: {snap / 'thermal.png'}" in out and f"snapshot: {snap / 'rgb.png'}" in out
    thermal = cv2.imread(str(snap / "thermal.png"))
    assert thermal is not None
    assert thermal.shape == ((480, 640, 3) if rotate_deg == 0 else (640, 480, 3))
    rgb = cv2.imread(str(snap / "rgb.png"))
    assert rgb is not None and rgb.shape == (*RGB_SHAPE, 3)


def test_thermal_image_marks_min_max_and_roi() -> None:
    counts = np.full((120, 160), 29315, np.uint16)  # 20.0 C
    counts[60, 80] = 31315  # 40.0 C
    counts[5, 5] = 28815  # 15.0 C
    img = cc.thermal_image(counts, "centikelvin", roi=(100, 90, 10, 10))
    assert cc.snapshot_label(counts, "centikelvin", (100, 90, 10, 10)) == \
        "min 15.0 C  max 40.0 C  ROI 20.0 C"
    plain = cc.thermal_image(counts, "centikelvin")
    assert img.shape == plain.shape == (480, 640, 3)
    assert (img[90 * 4, 100 * 4:110 * 4] == (0, 255, 0)).all()  # the ROI's top edge, green
    assert (plain[90 * 4, 100 * 4:110 * 4] != (0, 255, 0)).any()
    assert (img[:24, :200] == 255).all(axis=2).any()  # white label text at the top left


@pytest.mark.parametrize(("thermal", "why"), [
    (EndlessOpener("thermal"), "WRONG FORMAT: expected 640x480, got 128x96"),
    (_gone, "cannot open: thermal:lepton /dev/gate-thermal: no such device"),
    (Silent, "no frame within 0.2 s"),
])
def test_a_camera_that_fails_the_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str], thermal: object,
                                       why: str) -> None:
    rgb_size = (640, 480) if isinstance(thermal, EndlessOpener) else (128, 96)
    _patch(monkeypatch, rgb_size, thermal)
    assert not cc.check_cameras(_settings(), tmp_path / "aim", sysfs_root=tmp_path,
                                dev_root=tmp_path, timeout_s=0.2)
    assert why in capsys.readouterr().err


def test_check_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "gate.toml"
    config.write_text('mode = "thermal"\n')
    # --snapshot with a replay source: nothing to photograph (config error).
    assert main(["check", "--config", str(config), "--no-broker", "--snapshot",
                 str(tmp_path / "a")]) == 2
    assert 'configure [source] kind = "cameras"' in capsys.readouterr().err
    _patch(monkeypatch, (640, 480), EndlessOpener("thermal"))
    assert main(["check", "--config", str(config), "--no-broker"]) == 7
    _patch(monkeypatch, (128, 96), EndlessOpener("thermal"))
    assert main(["check", "--config", str(config), "--no-broker", "--snapshot",
                 str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "thermal.png").is_file()
