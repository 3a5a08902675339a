"""edge.app.record: live cameras (fakes) to a recording v1 folder: limits, meta.json, replay."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

import pytest

from edge.app.record import CAPTURE_KEY, RecordLimits, RecordStatus, record
from edge.app.replay import replay
from edge.config import Settings, validate
from edge.core.types import RgbFrame
from edge.errors import ConfigError
from edge.sources import open_recording
from tests.app.record_fakes import RGB_SHAPE, THERMAL_SHAPE, openers

H_RGB_TO_THERMAL = [[1.25, 0.0, 0.0], [0.0, 1.25, 0.0], [0.0, 0.0, 1.0]]


def _settings(registration: bool = True, roi: bool = True) -> Settings:
    raw: dict[str, object] = {"mode": "thermal", "source": {"stall_s": 5.0}}
    if registration:
        raw["registration"] = {"rgb_to_thermal": H_RGB_TO_THERMAL}
    if roi:
        raw["thermal"] = {"reference": {"mode": "roi", "roi": [2, 3, 6, 5], "temp_c": 35.0}}
    return validate(raw, "test")


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def test_duration_limit_both_streams_and_meta(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    status = record(_settings(), out, openers(), limits=RecordLimits(duration_s=0.5))
    assert status.stopped_by == "duration" and status.elapsed_s >= 0.5
    assert status.frames["thermal"] > 5 and status.frames["rgb"] > 5
    meta = json.loads((out / "meta.json").read_text())
    assert meta["registration"]["rgb_to_thermal"] == H_RGB_TO_THERMAL
    assert meta["reference"] == {"thermal_roi": [2, 3, 6, 5], "temp_c": 35.0}
    assert meta["thermal"]["encoding"] == "centikelvin"
    cap = meta[CAPTURE_KEY]
    assert cap["stopped_by"] == "duration"
    assert cap["thermal"]["written"] == status.frames["thermal"]
    assert cap["rgb"]["written"] == status.frames["rgb"]
    assert {"dropped", "ffc", "reopens", "device"} <= set(cap["thermal"])

    source = open_recording(out)
    assert source.meta.thermal is not None and source.meta.rgb is not None
    assert (source.meta.thermal.height, source.meta.thermal.width) == THERMAL_SHAPE
    assert source.meta.extra[CAPTURE_KEY] == cap  # readers keep the extra key
    stamps: dict[str, list[int]] = {"thermal": [], "rgb": []}
    for frame in source.frames():
        if isinstance(frame, RgbFrame):
            stamps["rgb"].append(frame.t_ns)
            assert frame.bgr.shape == (*RGB_SHAPE, 3)
        else:
            stamps["thermal"].append(frame.t_ns)
    assert len(stamps["thermal"]) == status.frames["thermal"]
    assert len(stamps["rgb"]) == status.frames["rgb"]
    for t in stamps.values():
        assert all(b > a for a, b in itertools.pairwise(t))  # monotonic, strictly
    span_s = (stamps["thermal"][-1] - stamps["thermal"][0]) / 1e9
    assert 0.3 < span_s < 5.0  # the capture clock, not a made-up one


def test_size_limit_keeps_the_folder_under_it(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    max_bytes = 2_000_000
    status = record(_settings(), out, openers(period_s=0.002),
                    limits=RecordLimits(max_bytes=max_bytes))
    assert status.stopped_by == "size"
    on_disk = _folder_bytes(out)
    frame_bytes = THERMAL_SHAPE[0] * THERMAL_SHAPE[1] * 2
    assert on_disk <= max_bytes, on_disk
    # Buffers are budgeted, not spent: the folder ends within that reserve of the limit.
    assert on_disk > max_bytes - 256 * 1024 - 3 * frame_bytes - 100_000, on_disk
    assert open_recording(out).meta.thermal is not None


def test_thermal_only_and_replay(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    settings = _settings(registration=False)
    status = record(settings, out, openers(rgb=False), limits=RecordLimits(duration_s=0.3))
    assert set(status.frames) == {"thermal"} and status.frames["thermal"] > 3
    result = replay(settings, out, publish=False)
    assert result.thermal_frames == status.frames["thermal"]
    assert result.meta.rgb is None and result.meta.reference is not None


def test_both_streams_replay_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    status = record(_settings(), out, openers(), limits=RecordLimits(duration_s=0.3))
    result = replay(_settings(), out, publish=False)
    assert result.thermal_frames == status.frames["thermal"]
    assert result.rgb_frames == status.frames["rgb"]


def test_stop_event_ends_cleanly_and_callbacks(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    stop = threading.Event()
    seen: list[int] = []

    def progress(status: RecordStatus) -> None:
        seen.append(status.frames["thermal"])
        if status.frames["thermal"] >= 10:
            stop.set()

    starts: list[dict[str, tuple[int, int]]] = []
    status = record(_settings(), out, openers(), stop=stop, on_progress=progress,
                    on_start=lambda s: starts.append(dict(s.sizes)))
    assert status.stopped_by == "stop" and status.frames["thermal"] >= 10
    assert starts == [{"thermal": (160, 120), "rgb": (128, 96)}]
    assert seen == sorted(seen)
    assert json.loads((out / "meta.json").read_text())[CAPTURE_KEY]["stopped_by"] == "stop"


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"registration\.rgb_to_thermal"):
        record(_settings(registration=False), tmp_path / "a", openers())
    with pytest.raises(ConfigError, match="thermal camera"):
        record(_settings(), tmp_path / "b", {"rgb": openers()["rgb"]})
    bad_roi = validate({"thermal": {"reference": {"mode": "roi", "roi": [150, 110, 20, 20],
                                                  "temp_c": 35.0}}}, "test")
    with pytest.raises(ConfigError, match="roi"):
        record(bad_roi, tmp_path / "c", openers(rgb=False), limits=RecordLimits(duration_s=1))
    assert not (tmp_path / "c" / "meta.json").exists()
