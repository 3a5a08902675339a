"""Discovery over a fake sysfs tree laid out like the kernel's: class/video4linux/videoN links
into devices/.../<usb device>/<interface>/video4linux/videoN, the interface's `driver` link,
the USB device's idVendor/idProduct."""

from __future__ import annotations

import os
from pathlib import Path

from edge.sources.cameras.discover import find_by_usb_id, list_cameras
from tests.sources.cameras.fake_sysfs import usb_camera


def test_lists_nodes_with_usb_id_driver_and_model(tmp_path: Path) -> None:
    usb_camera(tmp_path, "1-1", "046d", "085B", {0: ("C925e", 0), 1: ("C925e", 1)},
                product="Logitech Webcam C925e")
    usb_camera(tmp_path, "1-2", "1e4e", "0100", {2: ("PureThermal (fw:v1.3.0)", 0),
                                                 3: ("PureThermal (fw:v1.3.0)", 1)})
    usb_camera(tmp_path, "1-3", "0bda", "5830", {10: ("USB Camera: USB Camera", 0)})
    cams = list_cameras(tmp_path, Path("/dev"))
    assert [c.path for c in cams] == ["/dev/video0", "/dev/video1", "/dev/video2",
                                      "/dev/video3", "/dev/video10"]  # numeric order
    webcam = cams[0]
    assert (webcam.name, webcam.usb_id, webcam.driver) == ("C925e", "046d:085b", "uvcvideo")
    assert webcam.known_model is None and webcam.product == "Logitech Webcam C925e"
    assert webcam.bus_path == "1-1" and webcam.is_capture and not cams[1].is_capture
    assert cams[2].known_model == "lepton" and cams[2].usb_id == "1e4e:0100"
    assert cams[4].known_model == "p2pro"


def test_find_by_usb_id_returns_capture_nodes(tmp_path: Path) -> None:
    usb_camera(tmp_path, "1-1", "1e4e", "0100", {4: ("PureThermal", 0), 5: ("PureThermal", 1)})
    usb_camera(tmp_path, "1-4", "1e4e", "0100", {6: ("PureThermal", 0), 7: ("PureThermal", 1)})
    found = find_by_usb_id("1E4E:0100", tmp_path)
    assert [c.path for c in found] == ["/dev/video4", "/dev/video6"]
    assert len(find_by_usb_id("1e4e:0100", tmp_path, capture_only=False)) == 4
    assert find_by_usb_id("0bda:5830", tmp_path) == []


def test_no_video4linux_and_non_usb_nodes(tmp_path: Path) -> None:
    assert list_cameras(tmp_path) == []  # a container: no /sys/class/video4linux
    node = tmp_path / "devices" / "platform" / "vivid.0" / "video4linux" / "video0"
    node.mkdir(parents=True)
    (node / "name").write_text("vivid-000-vid-cap\n")
    os.symlink(os.path.relpath(node.parent.parent, node), node / "device")
    (tmp_path / "class" / "video4linux").mkdir(parents=True)
    os.symlink(node, tmp_path / "class" / "video4linux" / "video0")
    (tmp_path / "class" / "video4linux" / "v4l-subdev0").mkdir()  # not a video node
    [cam] = list_cameras(tmp_path)
    assert (cam.name, cam.usb_id, cam.driver, cam.known_model) == (
        "vivid-000-vid-cap", None, None, None)
    assert cam.index is None and cam.is_capture
