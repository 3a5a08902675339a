"""CPTV v2 replay source: real files, a tiny test encoder, bad input, and file-type dispatch."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from edge.errors import RecordingError
from edge.sources import CptvSource, Source, open_recording
from edge.sources.cptv import unpack_signed
from tests.shared import shared_data_dir
from tests.sources.readback import decode_all, expect_error

# Frame counts from ../shared/data/README.md, keyed by file name prefix.
REAL_CPTV_FRAMES = {
    "20210325-091249": 86,
    "20210326-110819": 102,
    "20210326-091927": 75,
    "20210322-112850": 149,
    "fs-1220-816659": 54,
    "fs-1228-815109": 125,
}
KELVIN_C = 273.15

# ---------------------------------------------------------------- CPTV: a tiny test encoder


def pack_signed(values: npt.NDArray[np.int64], bit_width: int) -> bytes:
    """(n,) int64 -> two's complement, MSB-first, `bit_width` bits each, zero-padded bytes."""
    limit = 1 << (bit_width - 1)
    assert values.size == 0 or (values.min() >= -limit and values.max() < limit)
    raw = values.astype(np.int64) & ((1 << bit_width) - 1)
    bits = (raw[:, None] >> np.arange(bit_width - 1, -1, -1)) & 1
    return np.packbits(bits.astype(np.uint8).ravel()).tobytes()


def snake_steps(frame: npt.NDArray[Any], previous: npt.NDArray[Any]) -> tuple[int, Any]:
    """(start value, (n-1,) int64 deltas) for the change previous -> frame, in snake order."""
    delta = frame.astype(np.int64) - previous.astype(np.int64)
    delta[1::2] = delta[1::2, ::-1]
    flat = delta.ravel()
    return int(flat[0]), np.diff(flat)


def field(code: str, data: bytes) -> bytes:
    return bytes([len(data)]) + code.encode("ascii") + data


def header(width: int, height: int, *extra: bytes, compression: int = 1) -> bytes:
    fields = [field("X", struct.pack("<I", width)), field("Y", struct.pack("<I", height)),
              field("C", bytes([compression])), *extra]
    return b"H" + bytes([len(fields)]) + b"".join(fields)


def frame_section(payload: bytes, bit_width: int, *extra: bytes, size: int | None = None) -> bytes:
    fields = [field("f", struct.pack("<I", len(payload) if size is None else size)),
              field("w", bytes([bit_width])), *extra]
    return b"F" + bytes([len(fields)]) + b"".join(fields) + payload


def encode_frames(frames: list[npt.NDArray[Any]], bit_widths: list[int],
                  times_on_ms: list[int] | None = None) -> bytes:
    """Frame sections for (H, W) integer frames; each frame's deltas packed at its bit width."""
    out, previous = b"", np.zeros_like(frames[0], dtype=np.int64)
    for i, (frame, bit_width) in enumerate(zip(frames, bit_widths, strict=True)):
        start, steps = snake_steps(frame, previous)
        payload = struct.pack("<i", start) + pack_signed(steps, bit_width)
        extra = [field("t", struct.pack("<I", times_on_ms[i]))] if times_on_ms else []
        out += frame_section(payload, bit_width, *extra, field("c", struct.pack("<I", 7)))
        previous = frame
    return out


def write_cptv(path: Path, body: bytes, version: int = 2) -> Path:
    path.write_bytes(gzip.compress(b"CPTV" + bytes([version]) + body))
    return path


def tiny_frames() -> list[npt.NDArray[np.uint16]]:
    """Three 5x7 frames (odd row count and width exercise the snake) with known bit needs."""
    rng = np.random.default_rng(7)
    first = rng.integers(29_000, 31_000, size=(5, 7)).astype(np.uint16)
    second = (first.astype(np.int64) + rng.integers(-3, 4, size=(5, 7))).astype(np.uint16)
    third = second.copy()
    third[2, 3] += 20_000  # a hot spot: its neighbours' steps need about 16 bits
    return [first, second, third]


# ---------------------------------------------------------------- CPTV: real files


def _real_cptv(prefix: str) -> Path:
    matches = sorted(shared_data_dir("thermal", "cptv").glob(f"{prefix}*.cptv"))
    assert len(matches) == 1, f"expected one {prefix}*.cptv, found {matches}"
    return matches[0]


@pytest.mark.shared
def test_every_real_cptv_file_is_listed_here() -> None:
    names = [p.name for p in shared_data_dir("thermal", "cptv").glob("*.cptv")]
    unlisted = [n for n in names if not any(n.startswith(p) for p in REAL_CPTV_FRAMES)]
    assert names and not unlisted


@pytest.mark.shared
@pytest.mark.parametrize(("prefix", "expected_frames"), sorted(REAL_CPTV_FRAMES.items()))
def test_real_cptv_decodes(prefix: str, expected_frames: int) -> None:
    source = open_recording(_real_cptv(prefix))
    assert isinstance(source, CptvSource) and isinstance(source, Source)
    meta = source.meta
    assert meta.kind == "cptv-v2" and not meta.has_rgb and meta.reference is None
    assert meta.thermal is not None and (meta.thermal.width, meta.thermal.height) == (160, 120)
    assert meta.thermal.encoding == "centikelvin" and meta.thermal.fps == 9.0
    assert meta.device and meta.start_t_ns > 1_600_000_000 * 10**9  # 2020 or later

    frames = decode_all(meta.path)
    assert len(frames) == expected_frames
    assert [f.index for f in frames] == list(range(expected_frames))
    temp_c = np.stack([f.counts for f in frames]).astype(np.float64) / 100.0 - KELVIN_C
    assert frames[0].counts.dtype == np.uint16 and frames[0].counts.shape == (120, 160)
    assert temp_c.min() > 0.0 and temp_c.max() < 60.0
    t_ns = np.array([f.t_ns for f in frames])
    assert t_ns[0] == meta.start_t_ns
    # The camera's time-on clock steps 114-115 ms (8.7 Hz), not the header's nominal 9 fps.
    assert np.all(np.diff(t_ns) >= 100_000_000) and np.all(np.diff(t_ns) <= 130_000_000)


@pytest.mark.shared
def test_real_cptv_header_timestamp_matches_file_name() -> None:
    # The kiosk names files after the recording start: 2021-04-01T00:10:48.540Z.
    meta = open_recording(_real_cptv("fs-1220-816659")).meta
    assert meta.start_t_ns // 1_000_000 == 1_617_235_848_540


# ---------------------------------------------------------------- CPTV: round trip


def test_cptv_round_trip_reproduces_frames(tmp_path: Path) -> None:
    frames = tiny_frames()
    _start, steps = snake_steps(frames[1], frames[0])
    assert steps.min() < 0 and steps.min() >= -16 and steps.max() < 16  # fits 5 bits, signed
    body = header(7, 5, field("D", b"gate-test"), field("Z", bytes([9])),
                  field("T", struct.pack("<Q", 1_700_000_000_000_000)),
                  field("Q", b"???"), field("L", struct.pack("<f", -43.5)))
    body += encode_frames(frames, [16, 5, 16], times_on_ms=[5000, 5114, 5229])
    decoded = decode_all(write_cptv(tmp_path / "tiny.cptv", body))

    assert len(decoded) == 3
    for got, want in zip(decoded, frames, strict=True):
        assert got.counts.dtype == np.uint16
        np.testing.assert_array_equal(got.counts, want)
    t0_ns = 1_700_000_000_000_000_000
    assert [f.t_ns for f in decoded] == [t0_ns, t0_ns + 114_000_000, t0_ns + 229_000_000]
    meta = open_recording(tmp_path / "tiny.cptv").meta
    assert meta.device == "gate-test" and meta.start_t_ns == t0_ns
    assert meta.extra["latitude"] == pytest.approx(-43.5)


@pytest.mark.parametrize("bit_width", range(1, 33))
def test_unpack_signed_full_range(bit_width: int) -> None:
    limit = 1 << (bit_width - 1)
    values = np.random.default_rng(bit_width).integers(-limit, limit, size=101, dtype=np.int64)
    values[:2] = [-limit, limit - 1]
    packed = np.frombuffer(pack_signed(values, bit_width), dtype=np.uint8)
    np.testing.assert_array_equal(unpack_signed(packed, values.size, bit_width), values)


@pytest.mark.parametrize("bit_width", [1, 2, 5, 9, 16])
def test_cptv_frame_at_bit_width(tmp_path: Path, bit_width: int) -> None:
    # Snake-ordered values in [0, 2**(w-1)) make every step fit w signed bits, both signs.
    rng = np.random.default_rng(bit_width)
    snake = 20_000 + rng.integers(0, 1 << (bit_width - 1), size=(5, 6), dtype=np.int64)
    frame = snake.copy()
    frame[1::2] = frame[1::2, ::-1]
    body = header(6, 5) + encode_frames([np.full((5, 6), 20_000), frame], [16, bit_width])
    decoded = decode_all(write_cptv(tmp_path / "w.cptv", body))
    np.testing.assert_array_equal(decoded[1].counts, frame)


def test_cptv_without_time_on_spaces_frames_by_fps(tmp_path: Path) -> None:
    frames = tiny_frames()
    body = header(7, 5, field("Z", bytes([8])), field("T", struct.pack("<Q", 10)))
    body += encode_frames(frames, [16, 5, 16])
    decoded = decode_all(write_cptv(tmp_path / "no_t.cptv", body))
    assert [f.t_ns for f in decoded] == [10_000, 10_000 + 125_000_000, 10_000 + 250_000_000]


# ---------------------------------------------------------------- CPTV: bad input


def _good_body() -> bytes:
    return header(7, 5) + encode_frames(tiny_frames(), [16, 5, 16])


def test_cptv_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "raw.cptv"
    path.write_bytes(b"CPTV\x02" + _good_body())
    expect_error(path, "not a gzip-compressed CPTV file")


def test_cptv_corrupt_gzip(tmp_path: Path) -> None:
    data = bytearray(write_cptv(tmp_path / "ok.cptv", _good_body()).read_bytes())
    data[20:40] = bytes(20)  # inside the deflate stream
    path = tmp_path / "corrupt.cptv"
    path.write_bytes(bytes(data))
    expect_error(path, "corrupt gzip stream")


def test_cptv_truncated_gzip(tmp_path: Path) -> None:
    data = write_cptv(tmp_path / "ok.cptv", _good_body()).read_bytes()
    path = tmp_path / "cut.cptv"
    path.write_bytes(data[: len(data) - 30])
    expect_error(path, "corrupt gzip stream", "ended before")


def test_cptv_truncated_header_section(tmp_path: Path) -> None:
    expect_error(write_cptv(tmp_path / "h.cptv", header(7, 5)[:9]), "truncated header")


def test_cptv_truncated_frame_payload(tmp_path: Path) -> None:
    path = write_cptv(tmp_path / "f.cptv", _good_body()[:-3])
    expect_error(path, "truncated frame 2 payload", frames_before=2)


def test_cptv_bad_version(tmp_path: Path) -> None:
    expect_error(write_cptv(tmp_path / "v3.cptv", _good_body(), version=3),
                  "unsupported CPTV version 3")


def test_cptv_missing_width(tmp_path: Path) -> None:
    body = b"H\x01" + field("Y", struct.pack("<I", 5)) + encode_frames(tiny_frames(), [16] * 3)
    expect_error(write_cptv(tmp_path / "nox.cptv", body), "'X'")


def test_cptv_unsupported_compression(tmp_path: Path) -> None:
    expect_error(write_cptv(tmp_path / "c0.cptv", header(7, 5, compression=0)),
                  "unsupported CPTV compression 0")


@pytest.mark.parametrize("bit_width", [0, 33])
def test_cptv_bad_bit_width(tmp_path: Path, bit_width: int) -> None:
    body = header(7, 5) + frame_section(bytes(40), bit_width)
    expect_error(write_cptv(tmp_path / "bw.cptv", body), f"frame 0: bit width {bit_width}")


def test_cptv_payload_size_mismatch(tmp_path: Path) -> None:
    good = encode_frames(tiny_frames()[:1], [16])
    payload = good[-(4 + (34 * 16 + 7) // 8):]
    body = header(7, 5) + good + frame_section(payload + b"\x00", 16)
    expect_error(write_cptv(tmp_path / "size.cptv", body), "frame 1: payload size 73",
                  frames_before=1)


def test_cptv_values_leave_uint16(tmp_path: Path) -> None:
    first = tiny_frames()[0]
    below_zero = first.astype(np.int64)
    below_zero[4, 6] = -5
    body = header(7, 5) + encode_frames([first, below_zero], [16, 16])
    expect_error(write_cptv(tmp_path / "neg.cptv", body), "frame 1", "uint16",
                  frames_before=1)


def test_cptv_garbage_instead_of_frame(tmp_path: Path) -> None:
    body = _good_body() + b"G\x00"
    expect_error(write_cptv(tmp_path / "g.cptv", body), "frame 3", "b'G'", frames_before=3)

# ---------------------------------------------------------------- dispatch


def test_open_recording_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(RecordingError, match="not a recording"):
        open_recording(path)
    gz = tmp_path / "clip.bin"
    gz.write_bytes(gzip.compress(b"CPTV\x02" + _good_body()))
    assert isinstance(open_recording(gz), CptvSource)  # dispatch on gzip magic
