"""CPTV v2 reader (Cacophony thermal video), written from the public SPECv2, no CPTV library.

Layout after gunzip: b"CPTV", version u8 (= 2); a header section b"H", u8 field count, fields of
(u8 length, u8 code, data); then frame sections b"F", u8 field count, fields, and a payload of
the frame-size field's length. Compression 1 payload: int32 LE start value, then
width*height-1 signed deltas packed MSB-first at the frame's bit width. Their running sum,
laid out in snake order (odd rows right to left), is the change from the previous frame (the
first frame's change is from zeros). Values are centikelvin.

Frame clock: the per-frame 't' field (ms since camera power-on) is used, anchored to the
header's 'T' (us since the epoch) at the first frame. On the real kiosk files 't' steps by
114 or 115 ms (8.7 Hz, what a Lepton actually delivers), while the header's Z says 9 fps, so
index/fps would drift by 3% (0.5 s over 150 frames). If 't' is missing or does not increase
(power-on counter reset or u32 wrap), the frame is placed 1/fps after the previous one so
t_ns stays strictly increasing.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from edge.core.types import StreamInfo, ThermalFrame, ThermalStreamMeta
from edge.errors import RecordingError

MAGIC = b"CPTV"
SUPPORTED_VERSION = 2
DEFAULT_FPS = 9.0
# Anything larger than this is a corrupt header, not a sensor; it also bounds allocations.
MAX_SIDE_PX = 4096

_FIXED_HEADER_FIELDS: dict[str, int] = {"X": 4, "Y": 4, "C": 1, "Z": 1, "T": 8, "L": 4, "O": 4}
_FIXED_FRAME_FIELDS: dict[str, int] = {"f": 4, "w": 1, "t": 4, "c": 4}


class _GzReader:
    """Exact-size reads from a gzip stream; every failure becomes a RecordingError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._raw: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise RecordingError(f"{path}: cannot open CPTV file: {exc.strerror}") from exc
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="rb")

    def read(self, size: int, what: str) -> bytes:
        try:
            data = self._gz.read(size)
        except (zlib.error, EOFError, OSError) as exc:
            raise self._gzip_error(exc, f" while reading {what}") from exc
        if len(data) != size:
            raise RecordingError(
                f"{self.path}: truncated {what}: needed {size} bytes, file ended after {len(data)}"
            )
        return data

    def at_eof(self) -> bool:
        try:
            return self._gz.peek(1) == b""
        except (zlib.error, EOFError, OSError) as exc:
            raise self._gzip_error(exc, "") from exc

    def _gzip_error(self, exc: Exception, where: str) -> RecordingError:
        # BadGzipFile covers both a wrong magic number and a failed CRC; only the first means
        # the file was never gzip (e.g. an uncompressed CPTV dump).
        if isinstance(exc, gzip.BadGzipFile) and str(exc).startswith("Not a gzipped file"):
            return RecordingError(f"{self.path}: not a gzip-compressed CPTV file ({exc})")
        return RecordingError(f"{self.path}: corrupt gzip stream{where} ({exc})")

    def close(self) -> None:
        self._gz.close()
        self._raw.close()

    def __enter__(self) -> _GzReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _read_fields(reader: _GzReader, section: str, fixed: dict[str, int]) -> dict[str, bytes]:
    """Read one section's u8 field count and its (u8 length, u8 code, data) fields."""
    count = reader.read(1, f"{section} field count")[0]
    fields: dict[str, bytes] = {}
    for _ in range(count):
        length, code_byte = reader.read(2, f"{section} field")
        code = chr(code_byte)
        data = reader.read(length, f"{section} field {code!r}")
        want = fixed.get(code)
        if want is not None and length != want:
            raise RecordingError(f"{reader.path}: {section} field {code!r} is {length} bytes, "
                                 f"expected {want}")
        fields[code] = data
    return fields


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", errors="replace").rstrip("\x00")


def _u32(data: bytes) -> int:
    value: int = struct.unpack("<I", data)[0]
    return value


def _read_header(reader: _GzReader) -> dict[str, bytes]:
    magic = reader.read(len(MAGIC), "magic")
    if magic != MAGIC:
        raise RecordingError(f"{reader.path}: not a CPTV file (starts with {magic!r}, not b'CPTV')")
    version = reader.read(1, "version")[0]
    if version != SUPPORTED_VERSION:
        raise RecordingError(f"{reader.path}: unsupported CPTV version {version} "
                             f"(only version {SUPPORTED_VERSION} is read)")
    section = reader.read(1, "header section")
    if section != b"H":
        raise RecordingError(f"{reader.path}: expected header section b'H', found {section!r}")
    return _read_fields(reader, "header", _FIXED_HEADER_FIELDS)


def _meta_from_header(path: Path, fields: dict[str, bytes]) -> StreamInfo:
    for code, name in (("X", "width"), ("Y", "height")):
        if code not in fields:
            raise RecordingError(f"{path}: CPTV header has no {code!r} ({name}) field")
    width_px, height_px = _u32(fields["X"]), _u32(fields["Y"])
    if not (0 < width_px <= MAX_SIDE_PX and 0 < height_px <= MAX_SIDE_PX):
        raise RecordingError(f"{path}: CPTV frame size {width_px}x{height_px} is not plausible "
                             f"(each side 1..{MAX_SIDE_PX})")
    compression = fields.get("C", b"\x00")[0]
    if compression != 1:
        raise RecordingError(f"{path}: unsupported CPTV compression {compression} "
                             "(only 1, packed snake deltas, is supported)")
    fps = float(fields["Z"][0]) if fields.get("Z", b"\x00")[0] > 0 else DEFAULT_FPS
    start_us: int = struct.unpack("<Q", fields["T"])[0] if "T" in fields else 0
    extra: dict[str, object] = {"cptv_version": SUPPORTED_VERSION}
    for code, key in (("E", "model"), ("B", "brand"), ("V", "firmware"), ("M", "motion_config")):
        if code in fields:
            extra[key] = _text(fields[code])
    for code, key in (("L", "latitude"), ("O", "longitude")):
        if code in fields:
            extra[key] = struct.unpack("<f", fields[code])[0]
    return StreamInfo(
        path=path,
        kind="cptv-v2",
        thermal=ThermalStreamMeta(width=width_px, height=height_px, encoding="centikelvin",
                                  fps=fps),
        device=_text(fields.get("D")),
        start_t_ns=start_us * 1000,
        source=f"CPTV v2 {_text(fields.get('E')) or 'thermal camera'}",
        extra=extra,
    )


def unpack_signed(payload: npt.NDArray[np.uint8], count: int,
                  bit_width: int) -> npt.NDArray[np.int64]:
    """Unpack `count` two's-complement integers packed MSB-first at `bit_width` (1..32) bits.

    payload: (>= ceil(count*bit_width/8),) uint8. Returns (count,) int64.
    """
    bits = np.unpackbits(payload, count=count * bit_width).reshape(count, bit_width)
    weights = np.left_shift(np.int64(1), np.arange(bit_width - 1, -1, -1, dtype=np.int64))
    values = (bits @ weights).astype(np.int64, copy=False)  # already int64; for mypy
    values[values >= (1 << (bit_width - 1))] -= 1 << bit_width
    return values


def decode_delta(payload: bytes, width_px: int, height_px: int,
                 bit_width: int) -> npt.NDArray[np.int64]:
    """Decode one compression-1 payload into the (height, width) int64 change from the last frame.

    The caller has checked len(payload) == payload_size(width_px * height_px, bit_width).
    """
    buf = np.frombuffer(payload, dtype=np.uint8)
    steps = np.empty(width_px * height_px, dtype=np.int64)
    steps[0] = np.frombuffer(payload, dtype="<i4", count=1)[0]
    steps[1:] = unpack_signed(buf[4:], steps.size - 1, bit_width)
    delta = np.cumsum(steps).reshape(height_px, width_px)
    delta[1::2] = delta[1::2, ::-1]
    return delta


def payload_size(pixel_count: int, bit_width: int) -> int:
    """Bytes in a compression-1 payload: int32 start value + packed pixel_count-1 deltas."""
    return 4 + ((pixel_count - 1) * bit_width + 7) // 8


class CptvSource:
    """Lazily decodes a CPTV v2 file. The header is checked on construction; each frame is
    checked as it is decoded, so a corrupt frame mid-file raises RecordingError with its index.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with _GzReader(self.path) as reader:
            self.meta: StreamInfo = _meta_from_header(self.path, _read_header(reader))

    def frames(self) -> Iterator[ThermalFrame]:
        """Yield ThermalFrame objects with (height, width) uint16 centikelvin `counts`."""
        thermal = self.meta.thermal
        assert thermal is not None and thermal.fps is not None  # set by _meta_from_header
        period_ns = round(1e9 / thermal.fps)
        with _GzReader(self.path) as reader:
            _read_header(reader)
            previous = np.zeros((thermal.height, thermal.width), dtype=np.int64)
            clock = _FrameClock(self.meta.start_t_ns, period_ns)
            index = 0
            while not reader.at_eof():
                bit_width, time_on_ms, payload = self._read_frame(reader, index)
                current = previous + decode_delta(payload, thermal.width, thermal.height,
                                                  bit_width)
                low, high = int(current.min()), int(current.max())
                if low < 0 or high > 0xFFFF:
                    raise RecordingError(
                        f"{self.path}: frame {index}: decoded values {low}..{high} leave the "
                        "uint16 range 0..65535 (corrupt deltas)")
                previous = current
                yield ThermalFrame(index=index, t_ns=clock.next(time_on_ms),
                                   counts=current.astype(np.uint16))
                index += 1

    def _read_frame(self, reader: _GzReader, index: int) -> tuple[int, int | None, bytes]:
        """Read frame `index`'s section; return (bit width, time-on ms or None, payload)."""
        where = f"frame {index}"
        section = reader.read(1, f"{where} section")
        if section != b"F":
            raise RecordingError(f"{self.path}: {where}: expected section b'F', found {section!r}")
        fields = _read_fields(reader, where, _FIXED_FRAME_FIELDS)
        for code in ("f", "w"):
            if code not in fields:
                raise RecordingError(f"{self.path}: {where}: missing field {code!r}")
        bit_width = fields["w"][0]
        if not 1 <= bit_width <= 32:
            raise RecordingError(f"{self.path}: {where}: bit width {bit_width} is outside 1..32")
        size = _u32(fields["f"])
        thermal = self.meta.thermal
        assert thermal is not None
        need = payload_size(thermal.width * thermal.height, bit_width)
        if size != need:
            raise RecordingError(f"{self.path}: {where}: payload size {size} bytes, but "
                                 f"{thermal.width}x{thermal.height} at {bit_width} bits "
                                 f"needs {need}")
        payload = reader.read(size, f"{where} payload")
        time_on_ms = _u32(fields["t"]) if "t" in fields else None
        return bit_width, time_on_ms, payload


class _FrameClock:
    """Maps per-frame time-on (ms) to t_ns anchored at the header timestamp; see module doc."""

    def __init__(self, start_t_ns: int, period_ns: int) -> None:
        self._start_t_ns = start_t_ns
        self._period_ns = period_ns
        self._last_t_ns: int | None = None
        self._last_on_ms: int | None = None

    def next(self, time_on_ms: int | None) -> int:
        if self._last_t_ns is None:
            t_ns = self._start_t_ns
        elif time_on_ms is not None and self._last_on_ms is not None \
                and time_on_ms > self._last_on_ms:
            t_ns = self._last_t_ns + (time_on_ms - self._last_on_ms) * 1_000_000
        else:
            t_ns = self._last_t_ns + self._period_ns
        self._last_t_ns, self._last_on_ms = t_ns, time_on_ms
        return t_ns
