"""`gate-edge record` and `check --snapshot` end to end on a camera config whose cameras are
`fake` (a recording played as cameras, edge.app.cameras): no patching, the same openers and
capture threads `run` uses; what `record` writes replays, frame for frame from the source."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.app.replay import replay
from edge.cli.main import main
from edge.config import load_config
from edge.core.types import RgbFrame, ThermalFrame
from edge.sources import open_recording
from edge.sources.writer import RecordingWriter

H = [[0.25, 0.0, 0.0], [0.0, 0.25, 0.0], [0.0, 0.0, 1.0]]
FRAMES = 20


def _source(folder: Path) -> set[str]:
    """A short RGB + thermal recording of noisy frames (live-like: no two equal); the digests
    of its thermal frames."""
    rng = np.random.default_rng(3)
    digests = set()
    with RecordingWriter(folder, width=160, height=120, rgb_size=(64, 48), rgb_to_thermal=H,
                         source="test source") as w:
        for i in range(FRAMES):
            t_ns = 1_000_000_000 + i * 100_000_000
            counts = rng.integers(29000, 31000, (120, 160), dtype=np.uint16)
            w.add_thermal(t_ns, counts)
            digests.add(hashlib.sha256(counts.tobytes()).hexdigest())
            w.add_rgb(t_ns + 1, rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    return digests


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, set[str]]:
    digests = _source(tmp_path / "src")
    config = tmp_path / "gate.toml"
    config.write_text(f"""mode = "thermal"
[registration]
rgb_to_thermal = {H}
[thermal.reference]
mode = "roi"
roi = [4, 4, 10, 10]
temp_c = 35.0
[source]
kind = "cameras"
[source.thermal]
device = "fake"
path = "{tmp_path / 'src'}"
speed = 10.0
loop = true
[source.rgb]
device = "fake"
path = "{tmp_path / 'src'}"
speed = 10.0
loop = true
""")
    return config, digests


def test_record_fake_cameras_then_replay(tmp_path: Path, setup: tuple[Path, set[str]],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    config, digests = setup
    out = tmp_path / "rec"
    assert main(["record", str(out), "--config", str(config), "--duration", "1.0"]) == 0
    assert "--duration reached" in capsys.readouterr().out
    meta = json.loads((out / "meta.json").read_text())
    assert meta["reference"] == {"thermal_roi": [4, 4, 10, 10], "temp_c": 35.0}
    assert meta["registration"]["rgb_to_thermal"] == H
    assert meta["capture"]["thermal"]["device"] == f"thermal:fake {tmp_path / 'src'}"
    recorded = list(open_recording(out).frames())
    thermal = [f for f in recorded if isinstance(f, ThermalFrame)]
    rgb = [f for f in recorded if isinstance(f, RgbFrame)]
    assert len(thermal) == meta["capture"]["thermal"]["written"] >= 5
    assert len(rgb) == meta["capture"]["rgb"]["written"] >= 5
    # Every recorded thermal frame is one of the source's, bit for bit.
    assert {hashlib.sha256(f.counts.tobytes()).hexdigest() for f in thermal} <= digests
    result = replay(load_config(config), out, publish=False)
    assert (result.thermal_frames, result.rgb_frames) == (len(thermal), len(rgb))


def test_check_snapshot_with_fake_cameras(tmp_path: Path, setup: tuple[Path, set[str]],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = setup
    snap = tmp_path / "aim"
    assert main(["check", "--config", str(config), "--no-broker", "--snapshot", str(snap)]) == 0
    out = capsys.readouterr().out
    assert "camera thermal: thermal:fake" in out and ": ok (160x120 uint16" in out
    thermal = cv2.imread(str(snap / "thermal.png"))
    rgb = cv2.imread(str(snap / "rgb.png"))
    assert thermal is not None and thermal.shape == (480, 640, 3)
    assert rgb is not None and rgb.shape == (48, 64, 3)


def test_check_cameras_on_fake_cameras(tmp_path: Path, setup: tuple[Path, set[str]],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The camera part of `check` alone, on fake sysfs and /dev roots."""
    from edge.cli.check_cameras import check_cameras

    config, _ = setup
    snap = tmp_path / "aim"
    assert check_cameras(load_config(config), snap, sysfs_root=tmp_path, dev_root=tmp_path)
    out = capsys.readouterr().out
    assert f"camera thermal: thermal:fake {tmp_path / 'src'}: ok (160x120 uint16 centikelvin" \
        in out
    assert f"camera rgb: rgb:fake {tmp_path / 'src'}: ok (64x48 BGR" in out
    thermal = cv2.imread(str(snap / "thermal.png"))
    assert thermal is not None and thermal.shape == (480, 640, 3)
    assert (thermal[14 * 4 - 1, 4 * 4:14 * 4] == (0, 255, 0)).all()  # the ROI box, lower edge
