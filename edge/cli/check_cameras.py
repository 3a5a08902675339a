"""`gate-edge check`, the camera part: the V4L2 cameras this box has (sysfs), whether each
configured camera delivers frames of the expected size and format within a few seconds, and
`--snapshot DIR`: one frame of each stream as PNG, so an installer can aim the cameras and
the reference source (thermal false-coloured, its min/max temperature written on it)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from edge.config_sources import THERMAL_SIZES
from edge.core.types import ENCODINGS
from edge.errors import ConfigError

if TYPE_CHECKING:
    # Imported where used at run time: edge.sources loads OpenCV, and every command's start
    # would pay for it (main imports this module for `check`'s arguments).
    from edge.config import CameraConfig, Settings
    from edge.sources.cameras.base import DeviceFrame, DeviceOpener
    from edge.sources.cameras.discover import CameraInfo
    from edge.sources.cameras.formats import FormatInfo

PROBE_TIMEOUT_S = 5.0  # a UVC camera delivers its first frame within ~1 s; a Lepton ~2 s
STABLE_NAMES = ("gate-thermal", "gate-rgb")  # the udev rule's symlinks (systemd/99-gate-edge.rules)
FORMAT_SIZES_SHOWN = 3  # a webcam offers a dozen sizes a format: the first few say enough
SNAPSHOT_SCALE = 4  # 160x120 Lepton -> 640x480: big enough to see the reference disc
_TEXT_BGR = (255, 255, 255)
_ROI_BGR = (0, 255, 0)
_MIN_BGR = (255, 160, 0)
_MAX_BGR = (0, 255, 255)


@dataclass(frozen=True, slots=True)
class Expected:
    """What a configured camera must deliver: kind, and a size (width, height) when known."""

    kind: str  # "rgb" | "thermal"
    device: str  # "uvc", "lepton", "p2pro", "rtsp", "http"
    size: tuple[int, int] | None


@dataclass(frozen=True, slots=True)
class Probe:
    """One configured camera, probed: the first frame (None: none came) and what is wrong."""

    role: str  # "rgb" | "thermal"
    name: str
    frame: DeviceFrame | None
    problem: str | None  # None: ok
    first_frame_s: float | None
    encoding: str | None = None  # the open device's (thermal), as its frames are to be read


def frame_problem(data: npt.NDArray[np.generic], expected: Expected) -> str | None:
    """Why a frame is not what the camera's config promises, or None."""
    if expected.kind == "thermal":
        if data.dtype != np.uint16 or data.ndim != 2:
            return f"expected uint16 (H, W) counts, got {data.dtype} {data.shape}"
    elif data.dtype != np.uint8 or data.ndim != 3 or data.shape[2] != 3:
        return f"expected uint8 (H, W, 3) BGR, got {data.dtype} {data.shape}"
    if expected.size is not None:
        width, height = expected.size
        if data.shape[:2] != (height, width):
            return f"expected {width}x{height}, got {data.shape[1]}x{data.shape[0]}"
    return None


def probe(role: str, opener: DeviceOpener, expected: Expected,
          timeout_s: float = PROBE_TIMEOUT_S) -> Probe:
    """Open the camera and wait up to `timeout_s` for a frame (skipping FFC frames, which
    show the Lepton's shutter); check its size and format."""
    from edge.sources.cameras.base import DeviceError

    start = time.monotonic()
    try:
        device = opener()
    except DeviceError as exc:
        return Probe(role, f"{role}:{expected.device}", None, f"cannot open: {exc}", None)
    try:
        frame, deadline = None, start + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            got = device.read(min(left, 1.0))
            if got is not None:
                frame = got
                if not got.ffc:
                    break
    except DeviceError as exc:
        return Probe(role, device.name, None, f"lost while reading: {exc}", None)
    finally:
        device.close()
    if frame is None:
        return Probe(role, device.name, None, f"no frame within {timeout_s:g} s", None)
    problem = frame_problem(frame.data, expected)
    if role == "thermal" and problem is None and device.encoding not in ENCODINGS:
        problem = f"unknown thermal encoding {device.encoding!r}"
    return Probe(role, device.name, frame, problem, time.monotonic() - start, device.encoding)


def describe_probe(p: Probe, expected: Expected) -> str:
    if p.frame is None or p.first_frame_s is None:
        return f"camera {p.role}: {p.name}: {p.problem}"
    h, w = p.frame.data.shape[:2]
    fmt = f"uint16 {p.encoding}" if expected.kind == "thermal" else "BGR"
    state = "ok" if p.problem is None else f"WRONG FORMAT: {p.problem}"
    ffc = " (FFC in progress)" if p.frame.ffc else ""
    return (f"camera {p.role}: {p.name}: {state} ({w}x{h} {fmt}, first frame after "
            f"{p.first_frame_s:.2f} s){ffc}")


def thermal_image(counts: npt.NDArray[np.uint16], encoding: str, *, rotate_deg: int = 0,
                  roi: tuple[int, int, int, int] | None = None,
                  scale: int = SNAPSHOT_SCALE) -> npt.NDArray[np.uint8]:
    """A thermal frame as a false-colour BGR image (inferno from its min to its max), scaled
    up, the reference ROI (raw sensor pixels, as the config takes it) boxed, the coldest and
    hottest pixels marked, rotated upright, and `min .. max C` written on it."""
    import cv2  # here: `check` without cameras (and every other command) never loads OpenCV

    from edge.core.types import ThermalStreamMeta
    from edge.thermal.radiometry import counts_to_c_lut

    h, w = counts.shape
    meta = ThermalStreamMeta(width=w, height=h, encoding=encoding)  # type: ignore[arg-type]
    temp_c = counts_to_c_lut(meta)[counts]
    lo, hi = float(temp_c.min()), float(temp_c.max())
    norm = np.clip((temp_c - lo) / max(hi - lo, 1e-3), 0.0, 1.0)
    img = cv2.applyColorMap((norm * 255.0).astype(np.uint8), cv2.COLORMAP_INFERNO)
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    for flat, colour in ((int(temp_c.argmin()), _MIN_BGR), (int(temp_c.argmax()), _MAX_BGR)):
        y, x = divmod(flat, w)
        centre = (x * scale + scale // 2, y * scale + scale // 2)
        cv2.drawMarker(img, centre, colour, cv2.MARKER_CROSS, 4 * scale, 1)
    if roi is not None:
        x, y, rw, rh = roi
        cv2.rectangle(img, (x * scale, y * scale), ((x + rw) * scale - 1, (y + rh) * scale - 1),
                      _ROI_BGR, 1)
    img = np.ascontiguousarray(np.rot90(img, k=-(rotate_deg // 90)))
    label = snapshot_label(counts, encoding, roi)
    cv2.putText(img, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, _TEXT_BGR, 1, cv2.LINE_AA)
    return np.asarray(img, np.uint8)


def snapshot_label(counts: npt.NDArray[np.uint16], encoding: str,
                   roi: tuple[int, int, int, int] | None) -> str:
    """What the thermal snapshot says: the frame's min and max, the ROI's mean (degC)."""
    from edge.core.types import ThermalStreamMeta
    from edge.thermal.radiometry import counts_to_c_lut

    h, w = counts.shape
    meta = ThermalStreamMeta(width=w, height=h, encoding=encoding)  # type: ignore[arg-type]
    temp_c = counts_to_c_lut(meta)[counts]
    label = f"min {float(temp_c.min()):.1f} C  max {float(temp_c.max()):.1f} C"
    if roi is not None:
        x, y, rw, rh = roi
        label += f"  ROI {float(temp_c[y:y + rh, x:x + rw].mean()):.1f} C"
    return label


def write_png(path: Path, bgr: npt.NDArray[np.uint8]) -> None:
    import cv2
    ok, buf = cv2.imencode(".png", bgr)
    if not ok:
        raise ConfigError(f"{path}: PNG encoding failed")
    try:
        path.write_bytes(np.asarray(buf, np.uint8).tobytes())
    except OSError as exc:
        raise ConfigError(f"--snapshot {path}: {exc.strerror}") from exc


def save_snapshots(folder: Path, probes: list[Probe], expected: Mapping[str, Expected],
                   thermal_view: Callable[[npt.NDArray[np.uint16], str], npt.NDArray[np.uint8]],
                   ) -> list[Path]:
    """One PNG per probed stream that delivered a frame: rgb.png, thermal.png."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--snapshot {folder}: {exc.strerror}") from exc
    written: list[Path] = []
    for p in probes:
        if p.frame is None:
            continue
        path = folder / f"{p.role}.png"
        if p.role == "thermal":
            write_png(path, thermal_view(p.frame.data, p.encoding or "centikelvin"))
        else:
            write_png(path, np.asarray(p.frame.data, np.uint8))
        written.append(path)
    return written


def configured_cameras(settings: Settings) -> dict[str, tuple[CameraConfig, DeviceOpener]]:
    """The config's cameras by role ("thermal", "rgb"): their table and opener, built as `run`
    builds them (edge.app.cameras: real devices, or `fake` recordings played as cameras); {}
    for a source that is not cameras."""
    if settings.source.kind != "cameras":
        return {}
    from edge.app.cameras import camera_openers

    return {role: (cam.table, cam.opener) for role, cam in camera_openers(settings).items()}


def expected_of(role: str, table: CameraConfig) -> Expected:
    """What the camera must deliver: a thermal camera its sensor's size (or the table's),
    an RGB camera the size its table requests (any size when none is)."""
    size = THERMAL_SIZES.get(table.device) if role == "thermal" else None
    if table.width is not None and table.height is not None:
        size = (table.width, table.height)
    return Expected(role, table.device, size)


def listing(cams: list[CameraInfo], dev_root: Path,
            formats: Callable[[str], list[FormatInfo]] | None = None) -> list[str]:
    """`cameras: ...` and one line per capture node: path, USB id, driver, name, known model,
    and the udev rule's stable name pointing at it; then its formats (`formats(path)`)."""
    from edge.sources.cameras.discover import MODEL_NAMES

    capture = [c for c in cams if c.is_capture]
    if not capture:
        return ["cameras: no V4L2 camera found (none plugged in, or no /sys/class/video4linux)"]
    links = {}
    for name in STABLE_NAMES:
        try:
            links[str((dev_root / name).resolve(strict=True))] = f" <- {dev_root / name}"
        except OSError:
            continue
    others = len(cams) - len(capture)
    lines = [f"cameras: {len(capture)} found" + (f" (+{others} metadata nodes)" if others else "")]
    for c in capture:
        model = f" [{MODEL_NAMES[c.known_model]}]" if c.known_model in MODEL_NAMES else ""
        lines.append(f"  {c.path}  {c.usb_id or '-'}  {c.driver or '-'}  {c.name}{model}"
                     f"{links.get(c.path, '')}")
        if formats is not None:
            lines.append(f"      formats: {_formats_text(c.path, formats)}")
    return lines


def _formats_text(path: str, formats: Callable[[str], list[FormatInfo]]) -> str:
    """"MJPG 640x480 1280x720 +5; YUYV 640x480" (a few sizes a format), or why not."""
    try:
        found = formats(path)
    except OSError as exc:  # no permission (not in group video), or unplugged meanwhile
        return f"cannot open {path}: {exc.strerror or exc}"
    if not found:
        return "none reported"
    parts = []
    for f in found:
        more = f" +{len(f.sizes) - FORMAT_SIZES_SHOWN}" if len(f.sizes) > FORMAT_SIZES_SHOWN \
            else ""
        parts.append(" ".join((f.fourcc, *f.sizes[:FORMAT_SIZES_SHOWN])) + more)
    return "; ".join(parts)


def add_camera_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--snapshot", type=Path, metavar="DIR",
                   help="save one frame of each configured camera (thermal.png, rgb.png) to "
                   "aim the cameras and the reference source")


def check_cameras(settings: Settings, snapshot: Path | None, *,
                  sysfs_root: Path | None = None, dev_root: Path | None = None,
                  timeout_s: float = PROBE_TIMEOUT_S,
                  formats: Callable[[str], list[FormatInfo]] | None = None) -> bool:
    """Print the cameras found and probe the configured ones (and save snapshots); False when
    a configured camera does not deliver what its config says. The roots: tests' fake trees."""
    from edge.sources.cameras.discover import DEV_ROOT, SYSFS_ROOT, list_cameras
    from edge.sources.cameras.formats import list_formats

    dev_root = dev_root or DEV_ROOT
    cams = list_cameras(sysfs_root or SYSFS_ROOT, dev_root)
    print("\n".join(listing(cams, dev_root, formats or list_formats)))
    cameras = configured_cameras(settings)
    if not cameras:
        if snapshot is not None:
            raise ConfigError(f"--snapshot: source.kind = {settings.source.kind!r} has no "
                              "cameras (configure [source] kind = \"cameras\")")
        return True
    expected = {role: expected_of(role, table) for role, (table, _) in cameras.items()}
    probes = [probe(role, opener, expected[role], timeout_s)
              for role, (_, opener) in cameras.items()]
    for p in probes:
        line = describe_probe(p, expected[p.role])
        print(line, file=sys.stdout if p.problem is None else sys.stderr)
    if snapshot is not None:
        ref = settings.thermal.reference
        roi = None
        if ref.roi is not None and ref.mode != "off":
            x, y, w, h = ref.roi
            roi = (x, y, w, h)
        view = partial(thermal_image, rotate_deg=settings.thermal.rotate_deg, roi=roi)
        for path in save_snapshots(snapshot, probes, expected, view):
            print(f"snapshot: {path}")
    return all(p.problem is None for p in probes)
