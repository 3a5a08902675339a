"""Finding V4L2 cameras in sysfs (what `gate-edge check` lists), and by USB id.

Each /sys/class/video4linux/videoN is a link into the device tree: videoN/name is the V4L2
device name, videoN/index tells the capture node (0) from the extra nodes a UVC camera adds
(metadata, index 1), videoN/device is the USB interface (its `driver` link names the kernel
driver, uvcvideo for UVC) and the interface's parent is the USB device with idVendor and
idProduct. Only files are read: no device is opened, so listing never disturbs a running
capture. The roots are parameters so tests build a fake tree in a temporary directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SYSFS_ROOT = Path("/sys")
DEV_ROOT = Path("/dev")

# USB ids of the thermal cameras we know. 0bda:5830 is a generic Realtek UVC bridge id the
# P2 Pro / TC001 enumerate with ("USB Camera"); other cameras use it too, so `check` confirms a
# P2 Pro by its 256x384 frames.
KNOWN_MODELS: dict[str, str] = {
    "1e4e:0100": "lepton",  # GroupGets PureThermal 1/2/Mini with a FLIR Lepton
    "0bda:5830": "p2pro",  # InfiRay P2 Pro, Topdon TC001
}
MODEL_NAMES: dict[str, str] = {
    "lepton": "FLIR Lepton on PureThermal", "p2pro": "InfiRay P2 Pro / Topdon TC001"}


@dataclass(frozen=True, slots=True)
class CameraInfo:
    """One V4L2 video node. usb_id is "vvvv:pppp" (lowercase hex), None for a non-USB device;
    known_model "lepton" | "p2pro" | None; index 0 is the node that delivers frames."""

    path: str
    name: str
    usb_id: str | None
    driver: str | None
    known_model: str | None
    index: int | None
    product: str | None = None
    bus_path: str | None = None  # the USB port path ("1-1.2"): stable across re-plugs

    @property
    def is_capture(self) -> bool:
        return self.index in (0, None)


def list_cameras(sysfs_root: Path = SYSFS_ROOT, dev_root: Path = DEV_ROOT) -> list[CameraInfo]:
    """Every /sys/class/video4linux/video* node, in number order; [] when there is none (or no
    video4linux class at all, as in a container)."""
    class_dir = Path(sysfs_root) / "class" / "video4linux"
    if not class_dir.is_dir():
        return []
    nodes = [p for p in class_dir.iterdir() if re.fullmatch(r"video\d+", p.name)]
    nodes.sort(key=lambda p: int(p.name[5:]))
    return [_info(node, Path(dev_root)) for node in nodes]


def find_by_usb_id(usb_id: str, sysfs_root: Path = SYSFS_ROOT, dev_root: Path = DEV_ROOT,
                   capture_only: bool = True) -> list[CameraInfo]:
    """The nodes of the USB device(s) with this "vvvv:pppp" id (case-insensitive), capture
    nodes only unless told otherwise; several when several such cameras are plugged in."""
    wanted = usb_id.strip().lower()
    return [c for c in list_cameras(sysfs_root, dev_root)
            if c.usb_id == wanted and (c.is_capture or not capture_only)]


def _info(node: Path, dev_root: Path) -> CameraInfo:
    interface = _resolve(node / "device")
    usb_device = interface.parent if interface is not None else None
    vendor = _read(usb_device / "idVendor") if usb_device is not None else None
    product = _read(usb_device / "idProduct") if usb_device is not None else None
    usb_id = f"{vendor}:{product}".lower() if vendor and product else None
    driver_dir = _resolve(node / "device" / "driver")
    index_text = _read(node / "index")
    return CameraInfo(
        path=str(dev_root / node.name),
        name=_read(node / "name") or node.name,
        usb_id=usb_id,
        driver=driver_dir.name if driver_dir is not None else None,
        known_model=KNOWN_MODELS.get(usb_id or ""),
        index=int(index_text) if index_text and index_text.isdigit() else None,
        product=_read(usb_device / "product") if usb_id and usb_device is not None else None,
        bus_path=usb_device.name if usb_id and usb_device is not None else None,
    )


def _resolve(path: Path) -> Path | None:
    try:
        return path.resolve(strict=True)
    except OSError:
        return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or None
    except OSError:
        return None
