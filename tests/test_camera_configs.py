"""configs/: every example loads, and the camera examples name the device sets they claim."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import load_config
from tests.shared import REPO_ROOT

CONFIGS = REPO_ROOT / "configs"
CAMERA_SETS = {  # file -> (thermal device, rgb device or None, mode)
    "uvc-lepton.toml": ("lepton", "uvc", "auto"),
    "uvc-p2pro.toml": ("p2pro", "uvc", "auto"),
    "rtsp-lepton.toml": ("lepton", "rtsp", "auto"),
    "kiosk-lepton.toml": ("lepton", None, "thermal"),
}


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_every_example_config_loads(path: Path) -> None:
    settings = load_config(path)
    assert settings.gate.gate  # validated, not just parsed


@pytest.mark.parametrize("name", sorted(CAMERA_SETS))
def test_camera_examples(name: str) -> None:
    thermal, rgb, mode = CAMERA_SETS[name]
    settings = load_config(CONFIGS / name)
    source = settings.source
    assert source.kind == "cameras" and settings.mode == mode
    assert source.thermal is not None and source.thermal.device == thermal
    assert (source.rgb.device if source.rgb is not None else None) == rgb
    text = (CONFIGS / name).read_text()
    assert "check --config THIS_FILE" in text  # each tells the installer how to verify it
    if rgb == "uvc":
        assert source.rgb is not None and (source.rgb.width, source.rgb.height) == (640, 480)
        assert source.rgb.path == "/dev/gate-rgb"  # the udev rule's link
        assert source.thermal.path == "/dev/gate-thermal"
