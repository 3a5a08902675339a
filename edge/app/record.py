"""`gate-edge record`: the configured cameras to a recording v1 folder (docs/recording-format.md)
that `gate-edge replay` reads unchanged.

Frames come through the same capture threads `run` uses (edge.sources.cameras.capture): the
latest frame wins, so a disk slower than the cameras drops frames instead of falling behind
(counted in meta.json `capture`), FFC frames are left out as `run` leaves them out, and a
camera that vanishes is reopened while the recording goes on. Timestamps are the capture
threads' monotonic stamps, so the replay's pairing of RGB and thermal frames is the live one.
The registration and the reference come from the config, as `run` would use them.

Stops at the duration or size limit, or when `stop` is set (the CLI sets it on SIGINT and
SIGTERM); every way out except an exception closes the files and writes meta.json.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.config import Settings
from edge.core.types import ENCODINGS, ReferenceSpec
from edge.errors import ConfigError
from edge.sources.cameras.base import DeviceError, DeviceOpener
from edge.sources.cameras.capture import CameraThread, CapturedFrame
from edge.sources.writer import RecordingWriter

log = logging.getLogger(__name__)

ROLES = ("thermal", "rgb")
FIRST_FRAME_TIMEOUT_S = 15.0  # a Lepton may run an FFC right after opening (~1-2 s)
POLL_S = 0.2  # how often limits and `stop` are looked at when no frame comes
# OpenCV's AVI writer buffers 256 KiB before writing, so rgb.avi on disk lags by up to that;
# its index (16 bytes a frame) comes at close. Both are counted in so the limit holds.
AVI_BUFFER_BYTES = 256 * 1024
AVI_INDEX_BYTES_PER_FRAME = 16
CAPTURE_KEY = "capture"  # meta.json: what capture dropped (docs/recording-format.md)


@dataclass(frozen=True, slots=True)
class RecordLimits:
    duration_s: float | None = None  # None: until stopped
    max_bytes: int | None = None  # None: no size limit


@dataclass(slots=True)
class RecordStatus:
    """Where a recording is (progress display, the final summary)."""

    out: Path
    elapsed_s: float = 0.0
    frames: dict[str, int] = field(default_factory=dict)  # role -> frames written
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # role -> (w, h)
    devices: dict[str, str] = field(default_factory=dict)  # role -> device name
    bytes: int = 0  # upper bound of the folder's size (frames, timestamps, buffers)
    dropped: int = 0  # all streams, every reason
    stopped_by: str = ""  # "duration" | "size" | "stop"


class _LiveWriter(RecordingWriter):
    """RecordingWriter whose meta.json carries the capture counters (an extra top-level
    key, which readers keep and ignore)."""

    capture: dict[str, Any]

    def meta_dict(self) -> dict[str, Any]:
        meta = super().meta_dict()
        meta[CAPTURE_KEY] = self.capture
        return meta


@dataclass(slots=True)
class _Stream:
    role: str
    thread: CameraThread
    shape: tuple[int, ...] = ()
    written: int = 0
    skipped: int = 0  # frames of another size than the first (a camera reopened differently)
    csv_bytes: int = 0
    last_t_ns: int = -1


def reference_from(settings: Settings) -> ReferenceSpec | None:
    """The config's reference (a pinned ROI and its temperature), or None."""
    ref = settings.thermal.reference
    if ref.mode == "off" or ref.roi is None or ref.temp_c is None:
        return None
    x, y, w, h = ref.roi
    return ReferenceSpec(roi=(x, y, w, h), temp_c=float(ref.temp_c))


def record(
    settings: Settings,
    out: Path,
    openers: Mapping[str, DeviceOpener],
    *,
    limits: RecordLimits = RecordLimits(),
    stop: threading.Event | None = None,
    on_start: Callable[[RecordStatus], None] | None = None,
    on_progress: Callable[[RecordStatus], None] | None = None,
    names: Mapping[str, str] | None = None,
    thread_options: Mapping[str, Mapping[str, Any]] | None = None,
    first_frame_timeout_s: float = FIRST_FRAME_TIMEOUT_S,
) -> RecordStatus:
    """Record `openers` ("thermal" required, "rgb" optional; `names` for messages and
    meta.json; `thread_options`: CameraThread arguments per role, as `run` gives them from the
    camera tables) into `out` until a limit or `stop`. `on_start` is called once every stream
    delivered and the first frames are written, `on_progress` after every batch written."""
    if "thermal" not in openers:
        raise ConfigError("record: no thermal camera configured (recording v1 always has a "
                          "thermal stream)")
    registration = settings.registration.rgb_to_thermal
    if "rgb" in openers and registration is None:
        raise ConfigError("registration.rgb_to_thermal: required to record RGB and thermal "
                          "together (gate-edge calibrate writes it)")
    stop = stop or threading.Event()
    cond = threading.Condition()
    named, options = names or {}, thread_options or {}
    streams = {
        role: _Stream(role, CameraThread(openers[role], name=named.get(role, role), cond=cond,
                                         stall_s=settings.source.stall_s,
                                         **options.get(role, {})))
        for role in ROLES if role in openers
    }
    for s in streams.values():
        s.thread.start()
    try:
        firsts = _first_frames(streams, cond, stop, first_frame_timeout_s)
        status = RecordStatus(out)
        if firsts is None:  # stopped before the cameras delivered: nothing to write
            status.stopped_by = "stop"
            return status
        writer = _open_writer(settings, out, streams, firsts, registration)
        with writer:
            _loop(writer, streams, cond, stop, firsts, limits, status, on_start, on_progress)
            writer.capture = _capture_meta(streams, status)
        return status
    finally:
        for s in streams.values():
            s.thread.stop()


def _first_frames(streams: Mapping[str, _Stream], cond: threading.Condition,
                  stop: threading.Event, timeout_s: float) -> dict[str, CapturedFrame] | None:
    """A first frame of every stream (the sizes the recording has), the latest one of a
    stream that delivered before the others did; None when stopped first."""
    firsts: dict[str, CapturedFrame] = {}
    deadline = time.monotonic() + timeout_s
    with cond:
        while True:
            for role, s in streams.items():
                if (frame := s.thread.take()) is not None:
                    firsts[role] = frame
            if stop.is_set():
                return None
            if len(firsts) == len(streams):
                return firsts
            left = deadline - time.monotonic()
            if left <= 0:
                missing = [r for r in streams if r not in firsts]
                why = "; ".join(f"{r}: {streams[r].thread.stats.last_error or 'no frame'}"
                                for r in missing)
                raise DeviceError(f"record: no frame within {timeout_s:g} s from {why}")
            cond.wait(min(left, POLL_S))


def _open_writer(settings: Settings, out: Path, streams: Mapping[str, _Stream],
                 firsts: Mapping[str, CapturedFrame],
                 registration: list[list[float]] | None) -> _LiveWriter:
    thermal = firsts["thermal"].data
    encoding = streams["thermal"].thread.encoding
    if thermal.dtype != np.uint16 or thermal.ndim != 2 or encoding not in ENCODINGS:
        raise DeviceError(f"record: the thermal camera delivers {thermal.dtype} {thermal.shape} "
                          f"frames in encoding {encoding!r}, not uint16 (H, W) counts")
    for role, frame in firsts.items():
        streams[role].shape = frame.data.shape
    height, width = thermal.shape
    rgb = firsts.get("rgb")
    devices = ", ".join(f"{r} {s.thread.stats.name}" for r, s in streams.items())
    try:
        writer = _LiveWriter(
            out, width=width, height=height, encoding=encoding,  # type: ignore[arg-type]
            reference=reference_from(settings), source=f"gate-edge record: {devices}",
            rgb_size=None if rgb is None else (rgb.data.shape[1], rgb.data.shape[0]),
            rgb_to_thermal=registration if rgb is not None else None)
    except ValueError as exc:  # a reference ROI outside this camera's frame
        raise ConfigError(f"record: {exc}") from None
    writer.capture = {}
    return writer


def _loop(writer: _LiveWriter, streams: Mapping[str, _Stream], cond: threading.Condition,
          stop: threading.Event, firsts: Mapping[str, CapturedFrame], limits: RecordLimits,
          status: RecordStatus, on_start: Callable[[RecordStatus], None] | None,
          on_progress: Callable[[RecordStatus], None] | None) -> None:
    start = time.monotonic()
    status.devices = {r: s.thread.stats.name for r, s in streams.items()}
    status.sizes = {r: (firsts[r].data.shape[1], firsts[r].data.shape[0]) for r in streams}
    pending: list[tuple[str, CapturedFrame]] = list(firsts.items())
    started = False
    while True:
        for role, frame in pending:
            if not _fits(writer, streams, status, role, frame, limits):
                status.stopped_by = "size"
                return
            _write(writer, streams[role], frame)
        _update(status, streams, writer, start)
        if pending and not started:
            started = True
            if on_start is not None:
                on_start(status)
        if pending and on_progress is not None:
            on_progress(status)
        if stop.is_set():
            status.stopped_by = "stop"
            return
        if limits.duration_s is not None and status.elapsed_s >= limits.duration_s:
            status.stopped_by = "duration"
            return
        pending = _next_frames(streams, cond, stop, POLL_S)


def _next_frames(streams: Mapping[str, _Stream], cond: threading.Condition,
                 stop: threading.Event, timeout_s: float) -> list[tuple[str, CapturedFrame]]:
    """Whatever frames are waiting (oldest stamp first), waiting up to `timeout_s` for one."""
    with cond:
        cond.wait_for(lambda: stop.is_set() or any(
            s.thread.peek() is not None for s in streams.values()), timeout_s)
        taken = [(r, f) for r, s in streams.items() if (f := s.thread.take()) is not None]
    return sorted(taken, key=lambda item: item[1].t_ns)


def _write(writer: _LiveWriter, stream: _Stream, frame: CapturedFrame) -> None:
    if frame.data.shape != stream.shape or frame.t_ns <= stream.last_t_ns:
        stream.skipped += 1  # reopened at another size, or a stamp that does not advance
        return
    if stream.role == "thermal":
        writer.add_thermal(frame.t_ns, frame.data)
    else:
        writer.add_rgb(frame.t_ns, frame.data)
    stream.csv_bytes += len(f"{stream.written},{frame.t_ns}\n")
    stream.written += 1
    stream.last_t_ns = frame.t_ns


def _fits(writer: _LiveWriter, streams: Mapping[str, _Stream], status: RecordStatus,
          role: str, frame: CapturedFrame, limits: RecordLimits) -> bool:
    """Whether writing `frame` keeps the folder within --max-mb (RGB: this frame is assumed
    as large as the average so far, a JPEG of the same scene)."""
    if limits.max_bytes is None:
        return True
    if role == "thermal":
        grow = frame.data.nbytes + 32
    else:
        rgb = streams["rgb"]
        grow = (_rgb_bytes(writer) // max(rgb.written, 1) if rgb.written else frame.data.nbytes
                ) + AVI_INDEX_BYTES_PER_FRAME + 32
    return status.bytes + grow <= limits.max_bytes


def _rgb_bytes(writer: _LiveWriter) -> int:
    try:
        return (writer.out_dir / "rgb.avi").stat().st_size
    except OSError:
        return 0


def _update(status: RecordStatus, streams: Mapping[str, _Stream], writer: _LiveWriter,
            start: float) -> None:
    status.elapsed_s = time.monotonic() - start
    status.frames = {r: s.written for r, s in streams.items()}
    thermal = streams["thermal"]
    total = thermal.written * writer.width * writer.height * 2 + thermal.csv_bytes
    if (rgb := streams.get("rgb")) is not None:
        total += (_rgb_bytes(writer) + AVI_BUFFER_BYTES + rgb.csv_bytes
                  + AVI_INDEX_BYTES_PER_FRAME * rgb.written)
    status.bytes = total
    status.dropped = sum(s.thread.stats.drops + s.skipped for s in streams.values())


def _capture_meta(streams: Mapping[str, _Stream], status: RecordStatus) -> dict[str, Any]:
    """meta.json `capture`: per stream what capture read, wrote and dropped, and why."""
    out: dict[str, Any] = {"stopped_by": status.stopped_by,
                           "duration_s": round(status.elapsed_s, 3)}
    for role, s in streams.items():
        st = s.thread.stats
        out[role] = {"device": st.name, "written": s.written, "dropped": st.drops,
                     "skipped": s.skipped, "ffc": st.ffc, "freezes": st.freezes,
                     "stalls": st.stalls, "reopens": st.reopens}
    return out
