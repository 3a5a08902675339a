"""Replay sources: CPTV v2 (real files and a test encoder) and recording v1 folders."""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from shared import shared_data_dir

from edge.core.types import RgbFrame, ThermalFrame
from edge.errors import RecordingError
from edge.sources import CptvSource, RecordingSource, Source, open_recording
from edge.sources.cptv import unpack_signed

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


def decode_all(path: Path) -> list[ThermalFrame]:
    frames = list(open_recording(path).frames())
    assert all(isinstance(f, ThermalFrame) for f in frames)
    return [f for f in frames if isinstance(f, ThermalFrame)]


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


def _expect_error(path: Path, *needles: str, frames_before: int | None = None) -> None:
    """open + iterate must raise RecordingError naming the file and every needle."""
    seen = 0
    with pytest.raises(RecordingError) as info:
        for _ in open_recording(path).frames():
            seen += 1
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    if frames_before is not None:
        assert seen == frames_before  # frames before the corrupt one were delivered


def test_cptv_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "raw.cptv"
    path.write_bytes(b"CPTV\x02" + _good_body())
    _expect_error(path, "not a gzip-compressed CPTV file")


def test_cptv_corrupt_gzip(tmp_path: Path) -> None:
    data = bytearray(write_cptv(tmp_path / "ok.cptv", _good_body()).read_bytes())
    data[20:40] = bytes(20)  # inside the deflate stream
    path = tmp_path / "corrupt.cptv"
    path.write_bytes(bytes(data))
    _expect_error(path, "corrupt gzip stream")


def test_cptv_truncated_gzip(tmp_path: Path) -> None:
    data = write_cptv(tmp_path / "ok.cptv", _good_body()).read_bytes()
    path = tmp_path / "cut.cptv"
    path.write_bytes(data[: len(data) - 30])
    _expect_error(path, "corrupt gzip stream", "ended before")


def test_cptv_truncated_header_section(tmp_path: Path) -> None:
    _expect_error(write_cptv(tmp_path / "h.cptv", header(7, 5)[:9]), "truncated header")


def test_cptv_truncated_frame_payload(tmp_path: Path) -> None:
    path = write_cptv(tmp_path / "f.cptv", _good_body()[:-3])
    _expect_error(path, "truncated frame 2 payload", frames_before=2)


def test_cptv_bad_version(tmp_path: Path) -> None:
    _expect_error(write_cptv(tmp_path / "v3.cptv", _good_body(), version=3),
                  "unsupported CPTV version 3")


def test_cptv_missing_width(tmp_path: Path) -> None:
    body = b"H\x01" + field("Y", struct.pack("<I", 5)) + encode_frames(tiny_frames(), [16] * 3)
    _expect_error(write_cptv(tmp_path / "nox.cptv", body), "'X'")


def test_cptv_unsupported_compression(tmp_path: Path) -> None:
    _expect_error(write_cptv(tmp_path / "c0.cptv", header(7, 5, compression=0)),
                  "unsupported CPTV compression 0")


@pytest.mark.parametrize("bit_width", [0, 33])
def test_cptv_bad_bit_width(tmp_path: Path, bit_width: int) -> None:
    body = header(7, 5) + frame_section(bytes(40), bit_width)
    _expect_error(write_cptv(tmp_path / "bw.cptv", body), f"frame 0: bit width {bit_width}")


def test_cptv_payload_size_mismatch(tmp_path: Path) -> None:
    good = encode_frames(tiny_frames()[:1], [16])
    payload = good[-(4 + (34 * 16 + 7) // 8):]
    body = header(7, 5) + good + frame_section(payload + b"\x00", 16)
    _expect_error(write_cptv(tmp_path / "size.cptv", body), "frame 1: payload size 73",
                  frames_before=1)


def test_cptv_values_leave_uint16(tmp_path: Path) -> None:
    first = tiny_frames()[0]
    below_zero = first.astype(np.int64)
    below_zero[4, 6] = -5
    body = header(7, 5) + encode_frames([first, below_zero], [16, 16])
    _expect_error(write_cptv(tmp_path / "neg.cptv", body), "frame 1", "uint16",
                  frames_before=1)


def test_cptv_garbage_instead_of_frame(tmp_path: Path) -> None:
    body = _good_body() + b"G\x00"
    _expect_error(write_cptv(tmp_path / "g.cptv", body), "frame 3", "b'G'", frames_before=3)


# ---------------------------------------------------------------- recording v1 helpers

THERMAL_W, THERMAL_H = 8, 6
RGB_W, RGB_H = 64, 48
RGB_COLOURS_BGR = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40)]


def thermal_stack(n: int) -> npt.NDArray[np.uint16]:
    """(n, H, W) uint16 centikelvin frames, each distinct."""
    base = np.arange(THERMAL_H * THERMAL_W, dtype=np.uint16).reshape(THERMAL_H, THERMAL_W)
    return np.stack([base + np.uint16(30_000 + 100 * i) for i in range(n)])


def write_csv(path: Path, t_ns: list[int]) -> None:
    path.write_text("index,t_ns\n" + "".join(f"{i},{t}\n" for i, t in enumerate(t_ns)))


def write_video(path: Path, colours: list[tuple[int, int, int]]) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (RGB_W, RGB_H))
    assert writer.isOpened()
    for colour in colours:
        writer.write(np.full((RGB_H, RGB_W, 3), colour, dtype=np.uint8))
    writer.release()


def base_meta(*, rgb: bool, thermal: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"format": "gate-edge-recording", "version": 1,
                            "ambient_c": 22.5, "source": "unit test"}
    if thermal:
        meta["thermal"] = {"frames": "thermal.u16", "timestamps": "thermal.csv",
                           "width": THERMAL_W, "height": THERMAL_H, "encoding": "centikelvin"}
        meta["reference"] = {"thermal_roi": [5, 3, 3, 3], "temp_c": 35.0}
    if rgb:
        meta["rgb"] = {"video": "rgb.avi", "timestamps": "rgb.csv"}
    if rgb and thermal:
        meta["registration"] = {"rgb_to_thermal": [[0.125, 0, 0], [0, 0.125, 0], [0, 0, 1]]}
    return meta


THERMAL_T_NS = [1_000, 2_000, 3_000]
RGB_T_NS = [500, 2_000, 2_500, 9_000]  # 2_000 ties with thermal frame 1


def make_recording(folder: Path, *, rgb: bool = True, thermal: bool = True,
                   edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    meta = base_meta(rgb=rgb, thermal=thermal)
    if edit is not None:
        edit(meta)
    (folder / "meta.json").write_text(json.dumps(meta))
    if thermal:
        (folder / "thermal.u16").write_bytes(thermal_stack(len(THERMAL_T_NS)).astype("<u2")
                                             .tobytes())
        write_csv(folder / "thermal.csv", THERMAL_T_NS)
    if rgb:
        write_video(folder / "rgb.avi", RGB_COLOURS_BGR)
        write_csv(folder / "rgb.csv", RGB_T_NS)
    return folder


# ---------------------------------------------------------------- recording v1: happy paths


def test_recording_round_trip_with_rgb(tmp_path: Path) -> None:
    source = open_recording(make_recording(tmp_path / "rec"))
    assert isinstance(source, RecordingSource) and isinstance(source, Source)
    frames = list(source.frames())
    order = [(type(f).__name__[0], f.index, f.t_ns) for f in frames]
    assert order == [("R", 0, 500), ("T", 0, 1_000), ("T", 1, 2_000), ("R", 1, 2_000),
                     ("R", 2, 2_500), ("T", 2, 3_000), ("R", 3, 9_000)]
    stack = thermal_stack(3)
    for f in frames:
        if isinstance(f, ThermalFrame):
            assert f.counts.dtype == np.uint16
            np.testing.assert_array_equal(f.counts, stack[f.index])
        else:
            assert isinstance(f, RgbFrame) and f.bgr.shape == (RGB_H, RGB_W, 3)
            assert f.bgr.dtype == np.uint8
            mean_bgr = f.bgr.reshape(-1, 3).mean(axis=0)
            np.testing.assert_allclose(mean_bgr, RGB_COLOURS_BGR[f.index], atol=8)  # JPEG
    assert [(type(f), f.index) for f in source.frames()] == [(type(f), f.index) for f in frames]


def test_recording_meta(tmp_path: Path) -> None:
    meta = open_recording(make_recording(tmp_path / "rec") / "meta.json").meta
    assert meta.kind == "recording-v1" and meta.has_rgb and meta.path == tmp_path / "rec"
    assert meta.thermal is not None and meta.thermal.encoding == "centikelvin"
    assert (meta.thermal.width, meta.thermal.height, meta.thermal.frame_count) == (8, 6, 3)
    assert meta.thermal.fps == pytest.approx(1e6)  # 1 us apart in this synthetic recording
    assert meta.rgb_to_thermal is not None and meta.rgb_to_thermal.shape == (3, 3)
    assert meta.reference is not None and meta.reference.roi == (5, 3, 3, 3)
    assert meta.reference.temp_c == 35.0
    assert (meta.ambient_c, meta.source, meta.start_t_ns) == (22.5, "unit test", 500)


def test_recording_thermal_only_linear_and_extra_keys(tmp_path: Path) -> None:
    def edit(meta: dict[str, Any]) -> None:
        meta["thermal"]["encoding"] = "linear"
        meta["thermal"]["linear"] = {"gain": 0.01, "offset_c": -10}
        meta["synth"] = {"seed": 3}

    source = open_recording(make_recording(tmp_path / "rec", rgb=False, edit=edit))
    assert source.meta.thermal is not None and source.meta.thermal.linear_gain == 0.01
    assert source.meta.thermal.linear_offset_c == -10.0 and not source.meta.has_rgb
    assert source.meta.extra == {"synth": {"seed": 3}}
    assert [f.t_ns for f in source.frames()] == THERMAL_T_NS


def test_recording_rgb_only(tmp_path: Path) -> None:
    source = open_recording(make_recording(tmp_path / "rec", thermal=False))
    frames = list(source.frames())
    assert source.meta.thermal is None and all(isinstance(f, RgbFrame) for f in frames)
    assert [f.t_ns for f in frames] == RGB_T_NS


def test_recording_written_by_recording_writer(tmp_path: Path) -> None:
    writer_mod = pytest.importorskip("edge.sources.writer")
    stack = thermal_stack(2)
    with writer_mod.RecordingWriter(tmp_path / "w", width=THERMAL_W, height=THERMAL_H) as w:
        w.add_thermal(10, stack[0])
        w.add_thermal(20, stack[1])
    frames = decode_all(tmp_path / "w")
    np.testing.assert_array_equal(np.stack([f.counts for f in frames]), stack)


# ---------------------------------------------------------------- recording v1: bad input


def test_recording_missing_folder_and_meta(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nowhere", "not found")
    (tmp_path / "empty").mkdir()
    _expect_error(tmp_path / "empty", "meta.json", "missing")


@pytest.mark.parametrize("name", ["thermal.u16", "thermal.csv", "rgb.avi", "rgb.csv"])
def test_recording_missing_data_file(tmp_path: Path, name: str) -> None:
    folder = make_recording(tmp_path / "rec")
    (folder / name).unlink()
    with pytest.raises(RecordingError, match="missing") as info:
        open_recording(folder)
    assert str(folder / name) in str(info.value)


def _meta_error(tmp_path: Path, edit: Callable[[dict[str, Any]], None], *needles: str,
                rgb: bool = True) -> None:
    folder = make_recording(tmp_path / "rec", rgb=rgb, edit=edit)
    with pytest.raises(RecordingError) as info:
        open_recording(folder)
    message = str(info.value)
    assert str(folder / "meta.json") in message and "\n" not in message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_recording_unknown_encoding(tmp_path: Path) -> None:
    _meta_error(tmp_path, lambda m: m["thermal"].update(encoding="kelvin"),
                "thermal.encoding", "'kelvin'", "'centikelvin', 'p2pro' or 'linear'")


def test_recording_linear_parameters_go_with_linear_encoding(tmp_path: Path) -> None:
    _meta_error(tmp_path, lambda m: m["thermal"].update(encoding="linear"),
                "thermal.linear is missing", "requires")
    _meta_error(tmp_path, lambda m: m["thermal"].update(linear={"gain": 1, "offset_c": 0}),
                "thermal.linear is given", "'centikelvin'")


@pytest.mark.parametrize(("key", "value", "needle"), [
    ("format", "other", "format = 'other'"),
    ("version", 2, "version = 2: Input should be 1"),
])
def test_recording_format_and_version(tmp_path: Path, key: str, value: Any, needle: str) -> None:
    _meta_error(tmp_path, lambda m: m.update({key: value}), needle)


def test_recording_meta_schema_errors(tmp_path: Path) -> None:
    _meta_error(tmp_path, lambda m: m["thermal"].pop("width"), "thermal.width", "missing")
    _meta_error(tmp_path, lambda m: m["thermal"].update(width="160"), "thermal.width = '160'")
    _meta_error(tmp_path, lambda m: m["reference"].update(temp_C=35), "reference.temp_C",
                "allowed here: thermal_roi, temp_c")
    _meta_error(tmp_path, lambda m: m["reference"].update(thermal_roi=[6, 0, 3, 3]),
                "reference.thermal_roi", "inside the 8x6")


def test_recording_registration_rules(tmp_path: Path) -> None:
    _meta_error(tmp_path, lambda m: m.pop("registration"), "registration", "required")
    _meta_error(tmp_path, lambda m: m["registration"].update(rgb_to_thermal=[[1, 0], [0, 1]]),
                "registration.rgb_to_thermal", "3x3")
    singular = [[1, 2, 3], [2, 4, 6], [0, 0, 1]]
    _meta_error(tmp_path, lambda m: m["registration"].update(rgb_to_thermal=singular),
                "registration.rgb_to_thermal", "invertible")


def test_recording_invalid_json(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec")
    (folder / "meta.json").write_text('{"format": ')
    with pytest.raises(RecordingError, match="Invalid JSON") as info:
        open_recording(folder)
    assert str(folder / "meta.json") in str(info.value)


def test_recording_truncated_thermal(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec")
    path = folder / "thermal.u16"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(RecordingError, match=r"not a whole number .* truncated") as info:
        open_recording(folder)
    assert str(path) in str(info.value)


def test_recording_frame_count_mismatch(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec")
    write_csv(folder / "thermal.csv", [*THERMAL_T_NS, 4_000])
    with pytest.raises(RecordingError, match=r"holds 3 frames but .*thermal\.csv lists 4") as info:
        open_recording(folder)
    assert str(folder / "thermal.u16") in str(info.value)


@pytest.mark.parametrize(("text", "needle"), [
    ("i,t\n0,1\n", "header is 'i,t'"),
    ("index,t_ns\n0,1\n1,abc\n", "line 3: '1,abc' is not two integers"),
    ("index,t_ns\n0,1\n2,5\n", "line 3: index 2, expected 1"),
    ("index,t_ns\n0,100\n1,99\n", "line 3: t_ns 99 is before"),
])
def test_recording_bad_csv(tmp_path: Path, text: str, needle: str) -> None:
    folder = make_recording(tmp_path / "rec", rgb=False)
    (folder / "thermal.csv").write_text(text)
    with pytest.raises(RecordingError) as info:
        open_recording(folder)
    assert str(folder / "thermal.csv") in str(info.value) and needle in str(info.value)


def test_recording_unopenable_video(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec")
    (folder / "rgb.avi").write_bytes(b"not a video" * 50)
    with pytest.raises(RecordingError, match="OpenCV cannot open") as info:
        open_recording(folder)
    assert str(folder / "rgb.avi") in str(info.value)


def test_recording_video_count_disagrees_up_front(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec")
    write_video(folder / "rgb.avi", RGB_COLOURS_BGR[:3])
    with pytest.raises(RecordingError, match=r"has 3 frames but .*rgb\.csv lists 4") as info:
        open_recording(folder)
    assert str(folder / "rgb.avi") in str(info.value)


def test_recording_truncated_video_fails_at_the_missing_frame(tmp_path: Path) -> None:
    folder = make_recording(tmp_path / "rec")
    video = folder / "rgb.avi"
    video.write_bytes(video.read_bytes()[:-200])  # the header still claims 4 frames
    _expect_error(folder, str(video), "frame 3", "rgb.csv lists 4")


def test_recording_video_longer_than_csv(tmp_path: Path) -> None:
    # Not .avi, so only decoding can tell how many frames there are.
    def edit(meta: dict[str, Any]) -> None:
        meta["rgb"]["video"] = "rgb.video"

    folder = make_recording(tmp_path / "rec", edit=edit)
    write_video(folder / "rgb.video.avi", [*RGB_COLOURS_BGR, (0, 0, 0)])
    (folder / "rgb.video.avi").rename(folder / "rgb.video")
    _expect_error(folder, str(folder / "rgb.video"), "more frames than the 4")


def test_open_recording_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(RecordingError, match="not a recording"):
        open_recording(path)
    gz = tmp_path / "clip.bin"
    gz.write_bytes(gzip.compress(b"CPTV\x02" + _good_body()))
    assert isinstance(open_recording(gz), CptvSource)  # dispatch on gzip magic
