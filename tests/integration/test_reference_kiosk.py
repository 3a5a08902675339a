"""The reference disc on the six shared kiosk recordings (Lepton 3.5 on its side): located
early, where the study found it, ok on every frame while people walk in, and a reference
that is ok when the person is decided."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.app.replay import replay
from edge.app.wiring import pipeline_params
from edge.cli.main import main
from edge.config import Settings
from edge.core.types import ThermalFrame
from edge.sources import open_recording
from edge.sources.writer import RecordingWriter
from edge.thermal.front import ThermalFrontEnd
from tests.integration.kiosks import CONFIG, OVERRIDES
from tests.integration.replay_helpers import settings_for
from tests.shared import REPO_ROOT, shared_data_dir
from tests.thermal.disc_scenes import Scene, frames, to_counts

KIOSK_CONFIG = REPO_ROOT / "configs" / "thermal-kiosk.toml"
LATEST_LOCK = 10  # frame index
CENTRE_TOL_PX = 1.5
# The disc's centre in raw sensor pixels (x, y), from the study's half-level centroids.
RAW_CENTRES = {
    "20210322-112850": (132.2, 93.1),
    "20210325-091249": (132.2, 93.1),
    "fs-1220-816659": (132.2, 93.1),
    "20210326-110819": (101.5, 15.3),
    "fs-1228-815109": (101.5, 15.3),
    "20210326-091927": (97.6, 22.3),
}


def kiosk(stem: str) -> tuple[Settings, Path]:
    (path,) = sorted(shared_data_dir("thermal", "cptv").glob(f"{stem}*.cptv"))
    settings = settings_for(CONFIG[stem], "mqtt://127.0.0.1:1", "kiosk", **OVERRIDES.get(stem, {}))
    assert settings.thermal.rotate_deg == 90 and settings.thermal.reference.mode == "auto"
    return settings, path


@pytest.mark.shared
@pytest.mark.parametrize("stem", sorted(RAW_CENTRES))
def test_disc_locked_early_where_the_study_found_it_and_ok_throughout(stem: str) -> None:
    settings, path = kiosk(stem)
    source = open_recording(path)
    assert source.meta.thermal is not None and source.meta.reference is None
    front = ThermalFrontEnd(pipeline_params(settings).front, source.meta.thermal, None)
    states, verdicts = [], []
    for frame in source.frames():
        assert isinstance(frame, ThermalFrame)
        states.append(front.convert(frame.counts)[1])
        verdicts.append(front.locator_state)
    place = front.place
    assert place is not None and place.source == "located", states[-1]
    assert place.frame is not None and place.frame <= LATEST_LOCK
    # Primed at the lock: ok from the lock frame on, for the whole recording.
    first_ok = next(i for i, s in enumerate(states) if s.ok)
    assert first_ok == place.frame
    assert all(s.ok for s in states[first_ok:]), {s.reason for s in states[first_ok:]}
    assert set(verdicts[first_ok:]) == {"ok"}
    assert place.centre_raw is not None
    dx, dy = np.subtract(place.centre_raw, RAW_CENTRES[stem])
    assert np.hypot(dx, dy) <= CENTRE_TOL_PX, (place.centre_raw, RAW_CENTRES[stem])
    assert 6.0 <= (place.radius_px or 0.0) <= 7.5  # the study's 6.1-7.1 px
    x, y, w, h = place.roi_raw
    assert np.hypot(x + (w - 1) / 2 - place.centre_raw[0], y + (h - 1) / 2 - place.centre_raw[1]
                    ) <= 1.0  # the ROI read is centred on the disc


@pytest.mark.shared
def test_fs1228_is_decided_with_its_reference_ok() -> None:
    """The old locator needed a second full window after its lock: fs-1228's one person
    was decided with reference_ok false."""
    settings, path = kiosk("fs-1228-815109")
    result = replay(settings, path, publish=False)
    assert len(result.decisions) == 1
    assert result.decisions[0].temperature.reference_ok is True


# --- gate-edge check --reference --------------------------------------------------------


@pytest.mark.shared
def test_check_reference_prints_where_and_writes_the_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, path = kiosk("fs-1228-815109")
    png = tmp_path / "reference.png"
    code = main(["check", "--config", str(KIOSK_CONFIG), "--no-broker",
                 "--reference", str(path), "--reference-image", str(png)])
    out = capsys.readouterr().out
    assert code == 0, out
    m = re.search(r"raw sensor x ([\d.]+), y ([\d.]+), radius ([\d.]+) px", out)
    assert m is not None, out
    x, y, _ = (float(v) for v in m.groups())
    tx, ty = RAW_CENTRES["fs-1228-815109"]
    assert np.hypot(x - tx, y - ty) <= CENTRE_TOL_PX
    assert re.search(r"ROI raw \[\d+, \d+, \d+, \d+\]", out)
    assert "reference state: ok, reading 35." in out  # the disc reads 35.7 C
    img = cv2.imread(str(png))
    assert img is not None and img.shape == (160 * 4, 120 * 4, 3)  # upright, 4x


def test_check_reference_exits_1_when_nothing_is_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty 25 C room, recorded sideways like the kiosk: nothing to lock on."""
    folder = tmp_path / "empty"
    with RecordingWriter(folder, width=160, height=120) as writer:
        for i, upright in enumerate(frames(lambda t: Scene(25.0), 40)):
            writer.add_thermal(i * 115_000_000, to_counts(upright, 90))
    code = main(["check", "--config", str(KIOSK_CONFIG), "--no-broker",
                 "--reference", str(folder)])
    out = capsys.readouterr().out
    assert code == 1
    assert "reference: not found in the first 30 frames" in out
