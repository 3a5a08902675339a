"""`gate-edge calibrate`: the RGB -> thermal homography from point pairs, into the config.

Point pairs come from a target both cameras see (a heated disc or the corners of a heated
plate moved around the field of view): one line per pair, `rgb_x,rgb_y,thermal_x,thermal_y`
in raw sensor pixels. At least 4 pairs; more, spread over the view, average out clicking
error. The config is edited with tomlkit so the installer's comments survive.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import tomlkit

from edge.errors import ConfigError
from edge.evaluation.config_edit import set_config_value


@dataclass(frozen=True, slots=True)
class Calibration:
    homography: npt.NDArray[np.float64]  # (3, 3), RGB pixels -> thermal pixels
    rms_px: float  # reprojection error in thermal pixels over the inliers
    max_px: float
    pairs: int
    inliers: int


def read_pairs(path: Path) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(N, 2) RGB points and (N, 2) thermal points from a CSV (a header line is allowed)."""
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read point pairs: {exc}") from None
    values = []
    for line_no, row in enumerate(rows, start=1):
        if not row or row[0].strip().startswith("#"):
            continue
        try:
            values.append([float(v) for v in row])
        except ValueError:
            if line_no == 1:
                continue  # header
            raise ConfigError(f"{path}: line {line_no}: expected 4 numbers, got {row}") from None
        if len(values[-1]) != 4:
            raise ConfigError(f"{path}: line {line_no}: expected 4 numbers, got {len(row)}")
    if len(values) < 4:
        raise ConfigError(f"{path}: {len(values)} point pairs; a homography needs at least 4")
    pts = np.asarray(values, dtype=np.float64)
    return pts[:, :2], pts[:, 2:]


def fit(rgb: npt.NDArray[np.float64], thermal: npt.NDArray[np.float64]) -> Calibration:
    """Homography by RANSAC (a mis-clicked pair must not bend the whole map)."""
    h, mask = cv2.findHomography(rgb, thermal, cv2.RANSAC, ransacReprojThreshold=2.0)
    if h is None:
        raise ConfigError("point pairs are degenerate (collinear or repeated): no homography")
    inliers = mask.ravel().astype(bool)
    mapped = cv2.perspectiveTransform(rgb.reshape(-1, 1, 2), h).reshape(-1, 2)
    err = np.linalg.norm(mapped - thermal, axis=1)[inliers]
    return Calibration(
        h / h[2, 2], float(np.sqrt(np.mean(err**2))), float(err.max()), len(rgb), int(inliers.sum())
    )


def write_into_config(config: Path, homography: npt.NDArray[np.float64]) -> None:
    """Set `[registration] rgb_to_thermal` in the TOML file, keeping everything else."""
    matrix = tomlkit.array()
    for row in homography.tolist():
        matrix.append([round(v, 9) for v in row])
    matrix.multiline(True)
    set_config_value(config, "registration", "rgb_to_thermal", matrix, create=True)
