"""Recording format v1 reader (docs/recording-format.md): a folder with meta.json, rgb.avi + rgb.csv
and/or thermal.u16 + thermal.csv.

Everything that can be checked without decoding video is checked in the constructor, so a bad
recording fails before any replay work starts. What only decoding can reveal (a video that
ends early or runs long, which OpenCV's frame count does not always show) is checked while
iterating. labels.json is deliberately not read here: evaluation reads it via meta.path.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, get_args

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edge.core.types import (
    Frame,
    ReferenceSpec,
    RgbFrame,
    RgbStreamMeta,
    StreamInfo,
    ThermalFrame,
    ThermalStreamMeta,
)
from edge.errors import RecordingError

FORMAT_NAME = "gate-edge-recording"
CSV_HEADER = "index,t_ns"
MAX_SIDE_PX = 8192
# A homography whose condition number exceeds this maps almost everything onto a line.
MAX_CONDITION = 1e12


class _Closed(BaseModel):
    # Nested objects reject unknown keys so that a typo ("temp_C") is an error, not a silent
    # default; the top level stays open for producers' annotations (see MetaSchema).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @field_validator("video", "frames", "timestamps", check_fields=False)
    @classmethod
    def _relative(cls, name: str) -> str:
        if not name or Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError("must be a file name inside the recording folder")
        return name


class RgbSchema(_Closed):
    video: str = "rgb.avi"
    timestamps: str = "rgb.csv"


class LinearSchema(_Closed):
    gain: float
    offset_c: float


class ThermalSchema(_Closed):
    frames: str = "thermal.u16"
    timestamps: str = "thermal.csv"
    width: int = Field(gt=0, le=MAX_SIDE_PX)
    height: int = Field(gt=0, le=MAX_SIDE_PX)
    encoding: Literal["centikelvin", "p2pro", "linear"]
    linear: LinearSchema | None = None


class RegistrationSchema(_Closed):
    rgb_to_thermal: list[list[float]]

    @field_validator("rgb_to_thermal")
    @classmethod
    def _invertible_3x3(cls, rows: list[list[float]]) -> list[list[float]]:
        if len(rows) != 3 or any(len(row) != 3 for row in rows):
            raise ValueError("must be a 3x3 matrix (3 rows of 3 numbers)")
        matrix = np.array(rows, dtype=np.float64)
        if not np.isfinite(matrix).all():
            raise ValueError("must contain only finite numbers")
        if not np.linalg.cond(matrix) < MAX_CONDITION:
            raise ValueError("must be an invertible homography (this one is singular)")
        return rows


class ReferenceSchema(_Closed):
    thermal_roi: tuple[int, int, int, int]
    temp_c: float

    @field_validator("thermal_roi")
    @classmethod
    def _positive(cls, roi: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        if roi[0] < 0 or roi[1] < 0 or roi[2] <= 0 or roi[3] <= 0:
            raise ValueError("must be [x, y, w, h] with x, y >= 0 and w, h > 0")
        return roi


class MetaSchema(BaseModel):
    """meta.json. Unknown top-level keys are kept (StreamInfo.extra): tools may annotate."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    format: Literal["gate-edge-recording"]
    version: Literal[1]
    rgb: RgbSchema | None = None
    thermal: ThermalSchema | None = None
    registration: RegistrationSchema | None = None
    reference: ReferenceSchema | None = None
    ambient_c: float | None = None
    source: str = ""


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The schema class that owns the key at `loc` (for listing the keys it allows)."""
    model: type[BaseModel] = MetaSchema
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        nested = [a for a in (field.annotation, *get_args(field.annotation))
                  if isinstance(a, type) and issubclass(a, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def _describe(path: Path, exc: ValidationError) -> str:
    """One line: file, key path, bad value, what is allowed (first error; count of others)."""
    err = exc.errors(include_url=False)[0]
    loc: tuple[int | str, ...] = tuple(err["loc"])
    key = ".".join(str(p) for p in loc) or "(top level)"
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    if err["type"] == "json_invalid":
        return f"{path}: {err['msg']}"
    if err["type"] == "missing":
        return f"{path}: required key {key} is missing{more}"
    if err["type"] == "extra_forbidden":
        owner = _model_at(loc)
        allowed = ", ".join(owner.model_fields) if owner else "see docs/recording-format.md"
        return f"{path}: unknown key {key} (allowed here: {allowed}){more}"
    value = repr(err["input"])
    value = value if len(value) <= 80 else value[:77] + "..."
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{path}: {key} = {value}: {msg}{more}"


def load_meta(meta_path: Path) -> MetaSchema:
    """Parse and schema-check meta.json; cross-file checks are done by RecordingSource."""
    try:
        text = meta_path.read_bytes()
    except FileNotFoundError as exc:
        raise RecordingError(f"{meta_path}: missing (a recording folder needs meta.json)") from exc
    except OSError as exc:
        raise RecordingError(f"{meta_path}: cannot read: {exc.strerror}") from exc
    try:
        schema = MetaSchema.model_validate_json(text)
    except ValidationError as exc:
        raise RecordingError(_describe(meta_path, exc)) from exc
    _check_cross_keys(meta_path, schema)
    return schema


def _check_cross_keys(meta_path: Path, schema: MetaSchema) -> None:
    if schema.rgb is None and schema.thermal is None:
        raise RecordingError(f"{meta_path}: neither rgb nor thermal is present; a recording "
                             "needs at least one stream")
    thermal = schema.thermal
    if thermal is not None and thermal.encoding == "linear" and thermal.linear is None:
        raise RecordingError(f"{meta_path}: thermal.linear is missing: encoding 'linear' "
                             "requires \"linear\": {\"gain\": g, \"offset_c\": o}")
    if thermal is not None and thermal.encoding != "linear" and thermal.linear is not None:
        raise RecordingError(f"{meta_path}: thermal.linear is given but thermal.encoding = "
                             f"{thermal.encoding!r}; only encoding 'linear' takes it")
    if schema.rgb is not None and thermal is not None and schema.registration is None:
        raise RecordingError(f"{meta_path}: registration.rgb_to_thermal is missing; it is "
                             "required when both rgb and thermal are present")
    if schema.reference is not None:
        if thermal is None:
            raise RecordingError(f"{meta_path}: reference is given but there is no thermal "
                                 "stream to find it in")
        x, y, w, h = schema.reference.thermal_roi
        if x + w > thermal.width or y + h > thermal.height:
            raise RecordingError(
                f"{meta_path}: reference.thermal_roi = {[x, y, w, h]}: must lie inside the "
                f"{thermal.width}x{thermal.height} thermal frame")


def read_timestamps(csv_path: Path) -> npt.NDArray[np.int64]:
    """Read an "index,t_ns" file; returns (n,) int64 t_ns. Index must count 0..n-1."""
    try:
        lines = csv_path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise RecordingError(f"{csv_path}: missing (named in meta.json)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{csv_path}: cannot read as UTF-8 text: {exc}") from exc
    header = lines[0].strip() if lines else ""
    if header != CSV_HEADER:
        raise RecordingError(f"{csv_path}: header is {header!r}, expected {CSV_HEADER!r}")
    t_ns = np.empty(len(lines) - 1, dtype=np.int64)
    count = 0
    for line_no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            index_text, t_text = line.split(",")
            index, t = int(index_text), int(t_text)
        except ValueError:
            raise RecordingError(f"{csv_path}: line {line_no}: {line.strip()!r} is not two "
                                 "integers 'index,t_ns'") from None
        if index != count:
            raise RecordingError(f"{csv_path}: line {line_no}: index {index}, expected {count} "
                                 "(the index column must count 0, 1, 2, ...)")
        if count and t < t_ns[count - 1]:
            raise RecordingError(f"{csv_path}: line {line_no}: t_ns {t} is before the previous "
                                 f"row's {t_ns[count - 1]} (timestamps must not decrease)")
        t_ns[count] = t
        count += 1
    return t_ns[:count]


def _fps(t_ns: npt.NDArray[np.int64]) -> float | None:
    span_ns = int(t_ns[-1] - t_ns[0]) if t_ns.size >= 2 else 0
    return (t_ns.size - 1) * 1e9 / span_ns if span_ns > 0 else None


def _frame_count_hint(video_path: Path) -> int:
    """Frames OpenCV says the video has, or -1 if it cannot open it."""
    capture = cv2.VideoCapture(str(video_path))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else -1
    finally:
        capture.release()


class RecordingSource:
    """A validated recording v1 folder. frames() merges both streams lazily in t_ns order."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise RecordingError(f"{self.folder}: recording folder not found")
        schema = load_meta(self.folder / "meta.json")
        self._schema = schema
        self._thermal_t_ns: npt.NDArray[np.int64] | None = None
        self._rgb_t_ns: npt.NDArray[np.int64] | None = None
        if schema.thermal is not None:
            self._thermal_t_ns = self._check_thermal(schema.thermal)
        if schema.rgb is not None:
            self._rgb_t_ns = self._check_rgb(schema.rgb)
        self.meta: StreamInfo = self._build_meta()

    def _check_thermal(self, thermal: ThermalSchema) -> npt.NDArray[np.int64]:
        frames_path = self.folder / thermal.frames
        t_ns = read_timestamps(self.folder / thermal.timestamps)
        if not frames_path.is_file():
            raise RecordingError(f"{frames_path}: missing (named in meta.json thermal.frames)")
        size_bytes = frames_path.stat().st_size
        frame_bytes = thermal.width * thermal.height * 2
        if size_bytes % frame_bytes:
            raise RecordingError(
                f"{frames_path}: {size_bytes} bytes is not a whole number of "
                f"{thermal.width}x{thermal.height} uint16 frames ({frame_bytes} bytes each): "
                "truncated?")
        if size_bytes // frame_bytes != t_ns.size:
            raise RecordingError(
                f"{frames_path}: holds {size_bytes // frame_bytes} frames but "
                f"{self.folder / thermal.timestamps} lists {t_ns.size}")
        return t_ns

    def _check_rgb(self, rgb: RgbSchema) -> npt.NDArray[np.int64]:
        video_path = self.folder / rgb.video
        t_ns = read_timestamps(self.folder / rgb.timestamps)
        if not video_path.is_file():
            raise RecordingError(f"{video_path}: missing (named in meta.json rgb.video)")
        hint = _frame_count_hint(video_path)
        if hint < 0:
            raise RecordingError(f"{video_path}: OpenCV cannot open this video "
                                 "(MJPG in AVI is the safe choice)")
        # AVI headers store an exact total; other containers may only estimate one, so for
        # them the count is checked while decoding (_rgb_frames) instead.
        if video_path.suffix.lower() == ".avi" and hint > 0 and hint != t_ns.size:
            raise RecordingError(f"{video_path}: has {hint} frames but "
                                 f"{self.folder / rgb.timestamps} lists {t_ns.size}")
        return t_ns

    def _build_meta(self) -> StreamInfo:
        schema, thermal = self._schema, self._schema.thermal
        thermal_meta = None
        if thermal is not None and self._thermal_t_ns is not None:
            thermal_meta = ThermalStreamMeta(
                width=thermal.width, height=thermal.height, encoding=thermal.encoding,
                linear_gain=thermal.linear.gain if thermal.linear else None,
                linear_offset_c=thermal.linear.offset_c if thermal.linear else None,
                fps=_fps(self._thermal_t_ns), frame_count=int(self._thermal_t_ns.size))
        firsts = [int(t[0]) for t in (self._thermal_t_ns, self._rgb_t_ns)
                  if t is not None and t.size]
        reference = schema.reference
        registration = schema.registration
        return StreamInfo(
            path=self.folder,
            kind="recording-v1",
            thermal=thermal_meta,
            rgb=(RgbStreamMeta(fps=_fps(self._rgb_t_ns), frame_count=int(self._rgb_t_ns.size))
                 if schema.rgb is not None and self._rgb_t_ns is not None else None),
            rgb_to_thermal=(np.array(registration.rgb_to_thermal, dtype=np.float64)
                            if registration else None),
            reference=(ReferenceSpec(roi=reference.thermal_roi, temp_c=reference.temp_c)
                       if reference else None),
            ambient_c=schema.ambient_c,
            source=schema.source,
            start_t_ns=min(firsts, default=0),
            extra=dict(schema.model_extra or {}),
        )

    def frames(self) -> Iterator[Frame]:
        """Yield ThermalFrame and RgbFrame in t_ns order; on equal t_ns, thermal comes first
        (so the thermal frame is already there when its RGB partner is processed)."""
        streams: list[Iterator[Frame]] = []
        if self._thermal_t_ns is not None:
            streams.append(self._thermal_frames())
        if self._rgb_t_ns is not None:
            streams.append(self._rgb_frames())
        yield from heapq.merge(*streams, key=_t_ns)

    def _thermal_frames(self) -> Iterator[ThermalFrame]:
        """(height, width) uint16 counts per frame, copied out of a read-only memmap."""
        thermal, t_ns = self._schema.thermal, self._thermal_t_ns
        assert thermal is not None and t_ns is not None
        if t_ns.size == 0:
            return
        stack: npt.NDArray[np.uint16] = np.memmap(
            self.folder / thermal.frames, dtype="<u2", mode="r",
            shape=(t_ns.size, thermal.height, thermal.width))
        for index in range(t_ns.size):
            counts = np.array(stack[index], dtype=np.uint16)
            yield ThermalFrame(index=index, t_ns=int(t_ns[index]), counts=counts)

    def _rgb_frames(self) -> Iterator[RgbFrame]:
        """(H, W, 3) uint8 BGR per frame; raises if the video and rgb.csv disagree on length."""
        rgb, t_ns = self._schema.rgb, self._rgb_t_ns
        assert rgb is not None and t_ns is not None
        video_path, csv_path = self.folder / rgb.video, self.folder / rgb.timestamps
        capture = cv2.VideoCapture(str(video_path))
        try:
            for index in range(t_ns.size):
                ok, bgr = capture.read()
                if not ok or bgr is None:
                    raise RecordingError(
                        f"{video_path}: frame {index}: the video ended or could not be "
                        f"decoded, but {csv_path} lists {t_ns.size} frames")
                yield RgbFrame(index=index, t_ns=int(t_ns[index]), bgr=_as_bgr(bgr))
            if capture.grab():
                raise RecordingError(f"{video_path}: has more frames than the {t_ns.size} "
                                     f"listed in {csv_path}")
        finally:
            capture.release()


def _t_ns(frame: Frame) -> int:
    return frame.t_ns


def _as_bgr(image: Any) -> npt.NDArray[np.uint8]:
    array = np.asarray(image)
    if array.ndim == 2:  # some backends hand back grayscale for single-channel video
        array = np.repeat(array[:, :, None], 3, axis=2)
    return np.ascontiguousarray(array, dtype=np.uint8)
