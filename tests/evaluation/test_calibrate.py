"""`gate-edge calibrate`: homography from point pairs, written into the config with its
comments intact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import load_config
from edge.errors import ConfigError
from edge.evaluation.calibrate import fit, read_pairs, write_into_config

TRUE_H = np.array([[0.26, 0.01, 12.0], [-0.008, 0.27, 6.0], [1e-5, 2e-5, 1.0]])


def _pairs(tmp_path: Path, n: int, noise_px: float, outlier: bool = False) -> Path:
    rng = np.random.default_rng(n)
    rgb = rng.uniform([20, 20], [620, 460], (n, 2))
    thermal = cv2.perspectiveTransform(rgb.reshape(-1, 1, 2), TRUE_H).reshape(-1, 2)
    thermal += rng.normal(0, noise_px, thermal.shape)
    if outlier:
        thermal[0] += 25.0  # one mis-clicked pair
    lines = ["rgb_x,rgb_y,thermal_x,thermal_y"] + [
        ",".join(f"{v:.3f}" for v in (*a, *b)) for a, b in zip(rgb, thermal, strict=True)
    ]
    path = tmp_path / "pairs.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_recovers_the_homography_despite_an_outlier(tmp_path: Path) -> None:
    cal = fit(*read_pairs(_pairs(tmp_path, 12, 0.2, outlier=True)))
    assert cal.inliers == 11 and cal.rms_px < 0.5
    probe = np.array([[[100.0, 100.0]], [[500.0, 400.0]]])
    got = cv2.perspectiveTransform(probe, cal.homography)
    want = cv2.perspectiveTransform(probe, TRUE_H)
    assert np.abs(got - want).max() < 0.5


def test_too_few_or_bad_pairs_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    path.write_text("1,2,3,4\n5,6,7,8\n")
    with pytest.raises(ConfigError, match="at least 4"):
        read_pairs(path)
    path.write_text("1,2,3,4\n5,6,7\n")
    with pytest.raises(ConfigError, match="line 2"):
        read_pairs(path)


def test_cli_writes_config_keeping_comments(tmp_path: Path) -> None:
    config = tmp_path / "gate.toml"
    config.write_text('# my gate\n[gate]\nsite = "s1"  # the compound\ngate = "north"\n')
    pairs = _pairs(tmp_path, 8, 0.0)
    done = subprocess.run(
        [sys.executable, "-m", "edge", "calibrate", str(pairs), "--config", str(config)],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    text = config.read_text()
    assert "# my gate" in text and "# the compound" in text
    h = np.asarray(load_config(config).registration.rgb_to_thermal)
    assert np.abs(h - TRUE_H / TRUE_H[2, 2]).max() < 1e-3


def test_write_refuses_to_produce_an_invalid_config(tmp_path: Path) -> None:
    config = tmp_path / "gate.toml"
    config.write_text("[thermal]\nrotate_deg = 45\n")
    with pytest.raises(ConfigError, match="rotate_deg"):
        write_into_config(config, TRUE_H)
    assert "rgb_to_thermal" not in config.read_text()
