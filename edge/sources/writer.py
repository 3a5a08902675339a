"""Recording format v1 writer (docs/recording-format.md): streams thermal (and optionally RGB)
frames to a folder.

meta.json is written last, on a clean close: a folder without it is not a recording, so a
writer that crashed half-way leaves something every reader rejects instead of a recording
that silently ends early. Decoding (counts -> degC) belongs to edge.thermal.radiometry; the encode
side lives here because only producers of recordings need it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.core.types import ENCODINGS, Encoding, ReferenceSpec
from edge.errors import RecordingError

KELVIN_OFFSET_C = 273.15
CENTIKELVIN_PER_K = 100.0
P2PRO_COUNTS_PER_K = 64.0
FORMAT_NAME = "gate-edge-recording"
FORMAT_VERSION = 1
THERMAL_FRAMES = "thermal.u16"
THERMAL_TIMESTAMPS = "thermal.csv"
RGB_VIDEO = "rgb.avi"
RGB_TIMESTAMPS = "rgb.csv"
RGB_FOURCC = "MJPG"
CSV_HEADER = "index,t_ns"
_U16_MAX = float(np.iinfo(np.uint16).max)


def counts_from_c(
    temp_c: npt.ArrayLike,
    encoding: Encoding,
    linear_gain: float | None = None,
    linear_offset_c: float | None = None,
) -> npt.NDArray[np.uint16]:
    """degC (any shape) -> raw counts of the same shape, rounded and clipped to uint16.

    centikelvin: round((c + 273.15) * 100); p2pro: round((c + 273.15) * 64);
    linear: round((c - offset_c) / gain). float32 input stays float32 (a frame is converted
    every write); the rounding error that adds is < 0.01 count.
    """
    values = np.asarray(temp_c)
    work = values.astype(np.result_type(values.dtype, np.float32), copy=True)
    if encoding == "centikelvin":
        work += KELVIN_OFFSET_C
        work *= CENTIKELVIN_PER_K
    elif encoding == "p2pro":
        work += KELVIN_OFFSET_C
        work *= P2PRO_COUNTS_PER_K
    elif encoding == "linear":
        if linear_gain is None or linear_offset_c is None or linear_gain == 0:
            raise ValueError("encoding 'linear' needs a non-zero linear_gain and a linear_offset_c")
        work -= linear_offset_c
        work /= linear_gain
    else:
        raise ValueError(f"unknown thermal encoding {encoding!r} (allowed: {', '.join(ENCODINGS)})")
    np.rint(work, out=work)
    np.clip(work, 0.0, _U16_MAX, out=work)
    return work.astype(np.uint16)


class RecordingWriter:
    """Writes one recording v1 folder; use as a context manager.

    Thermal frames always; RGB too when `rgb_size` (width, height) is given: rgb.avi (MJPG,
    `rgb_fps` in its header, which only players use: rgb.csv holds the real capture times)
    plus rgb.csv, and then `rgb_to_thermal` (3x3 homography, RGB pixels -> thermal pixels)
    is required and written as meta.json registration.rgb_to_thermal.

    Frames go to disk as they arrive (memory stays flat for long recordings). Entering the
    `with` block removes an earlier recording's meta.json and labels.json and truncates
    thermal.u16 / thermal.csv (and rgb.avi / rgb.csv when writing RGB); other files are left
    alone (meta.json does not name them).
    """

    def __init__(
        self,
        out_dir: Path,
        *,
        width: int,
        height: int,
        encoding: Encoding = "centikelvin",
        linear_gain: float | None = None,
        linear_offset_c: float | None = None,
        reference: ReferenceSpec | None = None,
        ambient_c: float | None = None,
        source: str = "",
        rgb_size: tuple[int, int] | None = None,
        rgb_fps: float = 15.0,
        rgb_to_thermal: npt.ArrayLike | None = None,
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        self.rgb_size: tuple[int, int] | None = None
        self.rgb_to_thermal: npt.NDArray[np.float64] | None = None
        if rgb_size is not None:
            rgb_w, rgb_h = (int(v) for v in rgb_size)
            if rgb_w <= 0 or rgb_h <= 0 or not rgb_fps > 0:
                raise ValueError(f"rgb size {rgb_size} and fps {rgb_fps} must be positive")
            self.rgb_size = (rgb_w, rgb_h)
            self.rgb_to_thermal = _homography(rgb_to_thermal)
        elif rgb_to_thermal is not None:
            raise ValueError("rgb_to_thermal is only meaningful with an RGB stream (rgb_size)")
        self.rgb_fps = float(rgb_fps)
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown thermal encoding {encoding!r}")
        if encoding == "linear" and (linear_gain is None or linear_offset_c is None):
            raise ValueError("encoding 'linear' needs linear_gain and linear_offset_c")
        if reference is not None:
            x, y, w, h = reference.roi
            if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > width or y + h > height:
                raise ValueError(f"reference roi {reference.roi} is not inside {width}x{height}")
        self.out_dir = Path(out_dir)
        self.width, self.height, self.encoding = width, height, encoding
        self.linear_gain, self.linear_offset_c = linear_gain, linear_offset_c
        self.reference, self.ambient_c, self.source = reference, ambient_c, source
        self.frames_written = 0
        self.rgb_frames_written = 0
        self._last_t_ns: int | None = None
        self._last_rgb_t_ns: int | None = None
        self._frames_fh: IO[bytes] | None = None
        self._csv_fh: IO[str] | None = None
        self._rgb_csv_fh: IO[str] | None = None
        self._video: Any = None  # cv2.VideoWriter while open

    def __enter__(self) -> RecordingWriter:
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise RecordingError(f"{self.out_dir}: exists and is not a folder")
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            # Stale metadata or ground truth must never pair up with the new frames.
            (self.out_dir / "meta.json").unlink(missing_ok=True)
            (self.out_dir / "labels.json").unlink(missing_ok=True)
            self._frames_fh = (self.out_dir / THERMAL_FRAMES).open("wb")
            self._csv_fh = (self.out_dir / THERMAL_TIMESTAMPS).open(
                "w", encoding="utf-8", newline="\n")
            self._csv_fh.write(CSV_HEADER + "\n")
            if self.rgb_size is not None:
                self._rgb_csv_fh = (self.out_dir / RGB_TIMESTAMPS).open(
                    "w", encoding="utf-8", newline="\n")
                self._rgb_csv_fh.write(CSV_HEADER + "\n")
                self._video = cv2.VideoWriter(
                    str(self.out_dir / RGB_VIDEO), cv2.VideoWriter.fourcc(*RGB_FOURCC),
                    self.rgb_fps, self.rgb_size)
                if not self._video.isOpened():
                    raise OSError(f"OpenCV cannot open {RGB_VIDEO} for writing ({RGB_FOURCC})")
        except OSError as exc:
            self._close_files()
            raise RecordingError(f"{self.out_dir}: cannot write recording: {exc}") from exc
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close_files()
        if exc_type is None:
            self._write_json("meta.json", self.meta_dict())

    def add_thermal(self, t_ns: int, counts_u16: npt.NDArray[np.uint16]) -> None:
        """Append one (height, width) uint16 frame captured at `t_ns` (must not decrease)."""
        if self._frames_fh is None or self._csv_fh is None:
            raise RuntimeError("RecordingWriter.add_thermal outside its `with` block")
        if counts_u16.dtype != np.uint16 or counts_u16.shape != (self.height, self.width):
            raise ValueError(
                f"thermal frame must be ({self.height}, {self.width}) uint16, got "
                f"{counts_u16.shape} {counts_u16.dtype}")
        t_ns = int(t_ns)
        if self._last_t_ns is not None and t_ns < self._last_t_ns:
            raise ValueError(f"t_ns {t_ns} is before the previous frame's {self._last_t_ns}")
        self._frames_fh.write(np.ascontiguousarray(counts_u16, dtype="<u2").tobytes())
        self._csv_fh.write(f"{self.frames_written},{t_ns}\n")
        self._last_t_ns = t_ns
        self.frames_written += 1

    def add_rgb(self, t_ns: int, bgr: npt.NDArray[np.uint8]) -> None:
        """Append one (height, width, 3) uint8 BGR frame captured at `t_ns` (must not decrease).

        The two streams have independent clocks: only each stream's own order is checked.
        """
        if self._video is None or self._rgb_csv_fh is None or self.rgb_size is None:
            raise RuntimeError("RecordingWriter.add_rgb needs rgb_size and its `with` block")
        rgb_w, rgb_h = self.rgb_size
        if bgr.dtype != np.uint8 or bgr.shape != (rgb_h, rgb_w, 3):
            raise ValueError(
                f"RGB frame must be ({rgb_h}, {rgb_w}, 3) uint8, got {bgr.shape} {bgr.dtype}")
        t_ns = int(t_ns)
        if self._last_rgb_t_ns is not None and t_ns < self._last_rgb_t_ns:
            raise ValueError(f"t_ns {t_ns} is before the previous RGB frame's "
                             f"{self._last_rgb_t_ns}")
        self._video.write(np.ascontiguousarray(bgr))
        self._rgb_csv_fh.write(f"{self.rgb_frames_written},{t_ns}\n")
        self._last_rgb_t_ns = t_ns
        self.rgb_frames_written += 1

    def write_labels(self, labels: dict[str, Any]) -> None:
        """labels.json (ground truth, docs/recording-format.md), any time inside `with`."""
        if self._frames_fh is None:
            raise RuntimeError("RecordingWriter.write_labels outside its `with` block")
        self._write_json("labels.json", labels)

    def meta_dict(self) -> dict[str, Any]:
        thermal: dict[str, Any] = {
            "frames": THERMAL_FRAMES, "timestamps": THERMAL_TIMESTAMPS,
            "width": self.width, "height": self.height, "encoding": self.encoding,
        }
        if self.encoding == "linear":
            thermal["linear"] = {"gain": float(self.linear_gain or 0.0),
                                 "offset_c": float(self.linear_offset_c or 0.0)}
        meta: dict[str, Any] = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
        if self.rgb_size is not None:
            meta["rgb"] = {"video": RGB_VIDEO, "timestamps": RGB_TIMESTAMPS}
        meta["thermal"] = thermal
        if self.rgb_to_thermal is not None:
            meta["registration"] = {
                "rgb_to_thermal": [[float(v) for v in row] for row in self.rgb_to_thermal]}
        if self.reference is not None:
            meta["reference"] = {"thermal_roi": [int(v) for v in self.reference.roi],
                                 "temp_c": float(self.reference.temp_c)}
        if self.ambient_c is not None:
            meta["ambient_c"] = float(self.ambient_c)
        meta["source"] = self.source
        return meta

    def _write_json(self, name: str, payload: dict[str, Any]) -> None:
        # Write-then-rename so a reader never sees half a JSON file.
        path = self.out_dir / name
        tmp = path.with_name(f".{name}.tmp")
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise RecordingError(f"{path}: cannot write: {exc}") from exc

    def _close_files(self) -> None:
        for fh in (self._frames_fh, self._csv_fh, self._rgb_csv_fh):
            if fh is not None:
                fh.close()
        self._frames_fh = self._csv_fh = self._rgb_csv_fh = None
        if self._video is not None:
            self._video.release()
            self._video = None


def _homography(matrix: npt.ArrayLike | None) -> npt.NDArray[np.float64]:
    """A finite, invertible 3x3 float64 matrix, or ValueError."""
    if matrix is None:
        raise ValueError("an RGB stream next to a thermal one needs rgb_to_thermal (3x3)")
    h = np.array(matrix, dtype=np.float64)
    if h.shape != (3, 3) or not np.isfinite(h).all() or not np.linalg.cond(h) < 1e12:
        raise ValueError(f"rgb_to_thermal must be a finite invertible 3x3 matrix, got {h!r}")
    return h
