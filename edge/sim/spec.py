"""Scene description for `gate-edge synth`: the spec, its constants, and pixel geometry.

Split from edge/synth.py so the renderer stays readable; edge.sim.thermal re-exports these names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from edge.core.types import ENCODINGS, Encoding
from edge.errors import ConfigError

F32 = npt.NDArray[np.float32]
Box = tuple[int, int, int, int]

FEVER_THRESHOLD_C = 37.3
EPOCH_NS = 1_700_000_000_000_000_000
BASE_WIDTH_PX, BASE_HEIGHT_PX = 160, 120
FAR_HEAD_PX = 6.0
NEAR_HEAD_PX = (30.0, 35.0)
MEASURABLE_HEAD_PX = 22.0
NEAR_S = 1.5  # every measured person shows a >= MEASURABLE_HEAD_PX head this long
PASSER_HEAD_PX = (6.0, 11.0)
HEAD_ASPECT = 1.3  # height / width, hair included
# Body temperatures stay >= 0.4 degC from the threshold so that a reading within the
# required 0.3 degC always lands on the right side of it.
NORMAL_BODY_C = (36.1, 36.9)
FEVER_BODY_C = (37.8, 39.0)
FACE_BELOW_CANTHUS_C = (1.2, 2.0)
# Thermal-only mode reads the hottest 3x3 patch of the face, so the painted hottest spot is
# the FDA face maximum of the person's body temperature (edge.core.bodytemp site "face-max").
SKIN_SITE = "face-max"


@dataclass(frozen=True)
class SceneSpec:
    """What to synthesise. `people` counts measured people; `passers` come on top."""

    people: int = 24
    fever_fraction: float = 0.25
    pair_fraction: float = 0.34  # share of `people` who arrive as side-by-side pairs
    width: int = BASE_WIDTH_PX
    height: int = BASE_HEIGHT_PX
    fps: float = 9.0
    seed: int = 0
    ambient_c: float = 22.0
    noise_c: float = 0.08  # sensor noise sigma per pixel and frame
    drift_c: float = 0.4  # amplitude of one slow sine over the recording, whole frame
    reference: bool = True
    reference_temp_c: float = 35.0
    reference_roi: tuple[int, int, int, int] | None = None  # upright x,y,w,h; None: corner
    encoding: Encoding = "centikelvin"
    linear_gain: float = 0.01  # degC per count, encoding "linear" only
    linear_offset_c: float = -50.0
    rotate: int = 0  # degrees; stored = np.rot90(upright, rotate // 90)
    passers: int = 2

    def __post_init__(self) -> None:
        checks = [
            ("people", self.people >= 0), ("passers", self.passers >= 0),
            ("fever_fraction", 0.0 <= self.fever_fraction <= 1.0),
            ("pair_fraction", 0.0 <= self.pair_fraction <= 1.0),
            ("width", 64 <= self.width <= 8192), ("height", 48 <= self.height <= 8192),
            ("fps", 1.0 <= self.fps <= 100.0), ("noise_c", self.noise_c >= 0.0),
            ("drift_c", self.drift_c >= 0.0), ("rotate", self.rotate in (0, 90, 180, 270)),
            ("encoding", self.encoding in ENCODINGS), ("linear_gain", self.linear_gain > 0),
        ]
        for name, ok in checks:
            if not ok:
                raise ConfigError(f"synth: {name} = {getattr(self, name)!r} is out of range")
        if self.people + self.passers == 0:
            raise ConfigError("synth: people + passers must be at least 1")
        if self.reference_roi is not None:
            x, y, w, h = self.reference_roi
            if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > self.width or y + h > self.height:
                raise ConfigError(f"synth: reference_roi = {self.reference_roi} is not inside "
                                  f"the upright {self.width}x{self.height} frame")

    @property
    def scale(self) -> float:
        return min(self.width / BASE_WIDTH_PX, self.height / BASE_HEIGHT_PX)

    @property
    def n_pairs(self) -> int:
        return pair_count(self.people, self.pair_fraction)

    @property
    def n_fevers(self) -> int:
        return fever_count(self.people, self.fever_fraction)

    def upright_reference_roi(self) -> Box:
        if self.reference_roi is not None:
            return self.reference_roi
        s = self.scale
        side = max(4, round(8 * s))
        return (self.width - side - round(4 * s), round(4 * s), side, side)


@dataclass(frozen=True)
class SynthSummary:
    people: int
    passers: int
    fevers: int
    pairs: int
    frames: int
    duration_s: float


@dataclass(frozen=True)
class _Person:
    label: str
    temp_c: float
    skin_c: float  # canthus, the warmest facial spot: skin_from_body_c(temp_c, site=SKIN_SITE)
    face_c: float  # warmest of the rest of the face
    hair_c: float
    clothes_c: float
    group: str
    paired: bool
    passer: bool
    exit: str


class _Pose(NamedTuple):
    person: int
    cx: float
    cy: float
    head_px: float


def pair_count(people: int, pair_fraction: float) -> int:
    """Pairs in a scene: `pair_fraction` of the people arrive two by two."""
    return min(people // 2, round(people * pair_fraction / 2))


def fever_count(people: int, fever_fraction: float) -> int:
    """People with fever: at least one whenever the fraction is above zero."""
    wanted = round(people * fever_fraction)
    return min(people, max(wanted, 1 if fever_fraction > 0 else 0))


def drift_offset_c(frame_index: int, n_frames: int, amplitude_c: float, phase_rad: float) -> float:
    """Offset added to every pixel of frame `frame_index`: one sine period per recording."""
    return amplitude_c * math.sin(2.0 * math.pi * frame_index / max(n_frames, 1) + phase_rad)


def rotate_point(x: int, y: int, k: int, width: int, height: int) -> tuple[int, int]:
    """Upright pixel (x, y) of a width x height frame -> its place in np.rot90(frame, k)."""
    for _ in range(k % 4):
        x, y, width, height = y, width - 1 - x, height, width
    return x, y


def rotate_box(box: Box, k: int, width: int, height: int) -> Box:
    x, y, w, h = box
    ax, ay = rotate_point(x, y, k, width, height)
    bx, by = rotate_point(x + w - 1, y + h - 1, k, width, height)
    return min(ax, bx), min(ay, by), abs(bx - ax) + 1, abs(by - ay) + 1
