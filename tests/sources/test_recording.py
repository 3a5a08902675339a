"""Recording v1 folders (edge.sources.recording): round trips, metadata and bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.core.types import RgbFrame, ThermalFrame
from edge.errors import RecordingError
from edge.sources import RecordingSource, Source, open_recording
from tests.sources.readback import decode_all, expect_error

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
    expect_error(tmp_path / "nowhere", "not found")
    (tmp_path / "empty").mkdir()
    expect_error(tmp_path / "empty", "meta.json", "missing")


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
    expect_error(folder, str(video), "frame 3", "rgb.csv lists 4")


def test_recording_video_longer_than_csv(tmp_path: Path) -> None:
    # Not .avi, so only decoding can tell how many frames there are.
    def edit(meta: dict[str, Any]) -> None:
        meta["rgb"]["video"] = "rgb.video"

    folder = make_recording(tmp_path / "rec", edit=edit)
    write_video(folder / "rgb.video.avi", [*RGB_COLOURS_BGR, (0, 0, 0)])
    (folder / "rgb.video.avi").rename(folder / "rgb.video")
    expect_error(folder, str(folder / "rgb.video"), "more frames than the 4")
