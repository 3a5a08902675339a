"""A fake sysfs tree laid out like the kernel's, for camera discovery tests: class/video4linux/
videoN links into devices/.../<usb device>/<interface>/video4linux/videoN, the interface's
`driver` link, the USB device's idVendor/idProduct."""

from __future__ import annotations

import os
from pathlib import Path


def usb_camera(root: Path, port: str, vid: str, pid: str, nodes: dict[int, tuple[str, int]],
                product: str = "Camera", driver: str = "uvcvideo") -> None:
    """One USB camera on `port` with video nodes {N: (name, index)}."""
    usb = root / "devices" / "pci0000:00" / "0000:00:14.0" / "usb1" / port
    interface = usb / f"{port}:1.0"
    interface.mkdir(parents=True)
    (usb / "idVendor").write_text(vid + "\n")
    (usb / "idProduct").write_text(pid + "\n")
    (usb / "product").write_text(product + "\n")
    drivers = root / "bus" / "usb" / "drivers" / driver
    drivers.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(drivers, interface), interface / "driver")
    class_dir = root / "class" / "video4linux"
    class_dir.mkdir(parents=True, exist_ok=True)
    for number, (name, index) in nodes.items():
        node = interface / "video4linux" / f"video{number}"
        node.mkdir(parents=True)
        (node / "name").write_text(name + "\n")
        (node / "index").write_text(f"{index}\n")
        os.symlink(os.path.relpath(interface, node), node / "device")
        os.symlink(os.path.relpath(node, class_dir), class_dir / f"video{number}")
