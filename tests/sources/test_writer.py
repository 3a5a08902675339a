"""edge.sources.writer: count encodings, frame checks, meta only on a clean close, RGB."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.core.types import ReferenceSpec, RgbFrame
from edge.sources import open_recording
from edge.sources.writer import KELVIN_OFFSET_C, RecordingWriter, counts_from_c


def test_counts_from_c_per_encoding() -> None:
    assert KELVIN_OFFSET_C == 273.15
    assert counts_from_c(36.6, "centikelvin") == 30975
    assert counts_from_c(36.6, "p2pro") == 19824
    assert counts_from_c(36.6, "linear", linear_gain=0.01, linear_offset_c=-50.0) == 8660
    assert counts_from_c(np.array([-300.0, 1000.0]), "centikelvin").tolist() == [0, 65535]
    frame_c = np.full((2, 3), 22.004, dtype=np.float32)
    counts = counts_from_c(frame_c, "centikelvin")
    assert counts.dtype == np.uint16 and counts.shape == (2, 3) and (counts == 29515).all()
    with pytest.raises(ValueError, match="linear"):
        counts_from_c(1.0, "linear")
    with pytest.raises(ValueError, match="unknown"):
        counts_from_c(1.0, "kelvin")  # type: ignore[arg-type]


def test_writer_checks_frames_and_writes_meta_only_on_clean_close(tmp_path: Path) -> None:
    frame = np.zeros((4, 5), dtype=np.uint16)
    reference = ReferenceSpec(roi=(1, 1, 2, 2), temp_c=35.0)
    writer = RecordingWriter(tmp_path / "ok", width=5, height=4, reference=reference)
    with pytest.raises(RuntimeError):
        writer.add_thermal(0, frame)
    with pytest.raises(RuntimeError):
        writer.write_labels({"people": []})
    with writer:
        writer.write_labels({"people": []})
        writer.add_thermal(10, frame)
        with pytest.raises(ValueError, match=r"\(4, 5\) uint16"):
            writer.add_thermal(11, np.zeros((5, 4), dtype=np.uint16))
        with pytest.raises(ValueError, match=r"\(4, 5\) uint16"):
            writer.add_thermal(11, frame.astype(np.float32))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="before"):
            writer.add_thermal(9, frame)
        writer.add_thermal(10, frame + 1)
    meta = json.loads((tmp_path / "ok" / "meta.json").read_text())
    assert meta["thermal"]["width"] == 5 and meta["reference"]["thermal_roi"] == [1, 1, 2, 2]
    assert (tmp_path / "ok" / "thermal.u16").read_bytes() == frame.tobytes() + (frame + 1).tobytes()
    assert (tmp_path / "ok" / "thermal.csv").read_text() == "index,t_ns\n0,10\n1,10\n"
    assert json.loads((tmp_path / "ok" / "labels.json").read_text()) == {"people": []}
    with pytest.raises(KeyError), RecordingWriter(tmp_path / "ok", width=5, height=4) as again:
        again.add_thermal(0, frame)
        assert not (tmp_path / "ok" / "labels.json").exists()
        raise KeyError("crash mid-recording")
    # The interrupted rewrite must not leave the first recording's meta.json claiming it.
    assert (tmp_path / "ok" / "thermal.u16").stat().st_size == frame.nbytes
    assert not (tmp_path / "ok" / "meta.json").exists()


def test_writer_rgb_stream(tmp_path: Path) -> None:
    h = np.eye(3) * 0.25
    h[2, 2] = 1.0
    with pytest.raises(ValueError, match="rgb_to_thermal"):
        RecordingWriter(tmp_path / "x", width=8, height=6, rgb_size=(32, 24))
    with pytest.raises(ValueError, match="rgb_to_thermal"):
        RecordingWriter(tmp_path / "x", width=8, height=6, rgb_to_thermal=h)
    with pytest.raises(ValueError, match="invertible"):
        RecordingWriter(tmp_path / "x", width=8, height=6, rgb_size=(32, 24),
                        rgb_to_thermal=np.zeros((3, 3)))
    writer = RecordingWriter(tmp_path / "w", width=8, height=6, rgb_size=(32, 24), rgb_fps=15,
                             rgb_to_thermal=h)
    with pytest.raises(RuntimeError):
        writer.add_rgb(0, np.zeros((24, 32, 3), np.uint8))
    with writer:
        writer.add_thermal(5, np.zeros((6, 8), np.uint16))
        writer.add_rgb(0, np.full((24, 32, 3), 100, np.uint8))
        with pytest.raises(ValueError, match=r"\(24, 32, 3\) uint8"):
            writer.add_rgb(1, np.zeros((32, 24, 3), np.uint8))
        with pytest.raises(ValueError, match="before"):
            writer.add_rgb(-1, np.zeros((24, 32, 3), np.uint8))
        writer.add_rgb(66, np.full((24, 32, 3), 200, np.uint8))
    meta = json.loads((tmp_path / "w" / "meta.json").read_text())
    assert meta["rgb"] == {"video": "rgb.avi", "timestamps": "rgb.csv"}
    assert meta["registration"]["rgb_to_thermal"] == h.tolist()
    assert (tmp_path / "w" / "rgb.csv").read_text() == "index,t_ns\n0,0\n1,66\n"
    source = open_recording(tmp_path / "w")
    frames = list(source.frames())
    assert [type(f).__name__ for f in frames] == ["RgbFrame", "ThermalFrame", "RgbFrame"]
    rgb = [f for f in frames if isinstance(f, RgbFrame)]
    assert [int(np.median(f.bgr)) for f in rgb] == pytest.approx([100, 200], abs=3)
