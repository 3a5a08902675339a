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
from edge.sim.optics import (
    DEFAULT_HOTSPOT_SIGMA_PX,
    DEFAULT_PSF_SIGMA_PX,
    DEFAULT_SUPERSAMPLE,
    SENSORS,
    CanthusAnatomy,
    check_optics,
    resolve_face_px,
)

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
NEAR_SPREAD = 0.03  # with face_px: each person's head at the gate within +-3 % of it
HEAD_ASPECT = 1.3  # height / width, hair included
# Body temperatures stay >= 0.4 degC from the threshold so that a reading within the
# required 0.3 degC always lands on the right side of it.
NORMAL_BODY_C = (36.1, 36.9)
FEVER_BODY_C = (37.8, 39.0)
# Heads at the gate stay within these shares of the frame (a pair: of its width).
MAX_NEAR_HEIGHT_SHARE, MAX_PAIR_WIDTH_SHARE = 0.6, 1 / 3.4
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
    # Optics and anatomy (edge.sim.optics): the canthus hot spot's Gaussian sigma in sensor
    # pixels when the head is at its nearest, the lens PSF sigma, the render supersampling.
    hotspot_sigma_px: float = DEFAULT_HOTSPOT_SIGMA_PX
    psf_sigma_px: float = DEFAULT_PSF_SIGMA_PX
    supersample: int = DEFAULT_SUPERSAMPLE
    hfov_deg: float = SENSORS["lepton"].hfov_deg  # horizontal field of view (distance_m)
    # Head width at the gate in sensor pixels (each person within +-3 %), or the distance
    # that gives it through hfov_deg; None for both: 30-35 px at 160x120, scaled.
    face_px: float | None = None
    distance_m: float | None = None

    def __post_init__(self) -> None:
        checks = [
            # Bounded: a scene is rendered in memory-sized pieces but written whole, and
            # 1000 people is already a 40-minute recording.
            ("people", 0 <= self.people <= 1000), ("passers", 0 <= self.passers <= 1000),
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
        check_optics(self.supersample, self.psf_sigma_px, self.hotspot_sigma_px, self.hfov_deg)
        near = resolve_face_px(self.face_px, self.distance_m, self.width, self.hfov_deg)
        if near is not None:
            widest = near * (1 + NEAR_SPREAD)
            if widest * HEAD_ASPECT > MAX_NEAR_HEIGHT_SHARE * self.height:
                raise ConfigError(f"synth: face_px = {near:.3g} is too big for a "
                                  f"{self.width}x{self.height} frame (heads must stay under "
                                  f"{MAX_NEAR_HEIGHT_SHARE:.0%} of its height)")
            if self.n_pairs and widest > MAX_PAIR_WIDTH_SHARE * (self.width - 4 * self.scale):
                raise ConfigError(f"synth: face_px = {near:.3g} is too big for pairs side by "
                                  f"side in a {self.width} px wide frame (pair_fraction = 0, "
                                  "a wider sensor or a smaller face)")
        if self.reference_roi is not None:
            x, y, w, h = self.reference_roi
            if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > self.width or y + h > self.height:
                raise ConfigError(f"synth: reference_roi = {self.reference_roi} is not inside "
                                  f"the upright {self.width}x{self.height} frame")

    @property
    def scale(self) -> float:
        return min(self.width / BASE_WIDTH_PX, self.height / BASE_HEIGHT_PX)

    @property
    def near_face_px(self) -> float | None:
        """The requested head width at the gate (face_px or from distance_m), if any."""
        return resolve_face_px(self.face_px, self.distance_m, self.width, self.hfov_deg)

    @property
    def near_head_px(self) -> tuple[float, float]:
        """Range each person's head width at the gate is drawn from."""
        near = self.near_face_px
        if near is None:
            return NEAR_HEAD_PX[0] * self.scale, NEAR_HEAD_PX[1] * self.scale
        return near * (1 - NEAR_SPREAD), near * (1 + NEAR_SPREAD)

    @property
    def far_head_px(self) -> float:
        """Head width where a group appears."""
        return min(FAR_HEAD_PX * self.scale, 0.4 * self.near_head_px[0])

    @property
    def measurable_head_px(self) -> float:
        """Heads at least this wide count as near (labels' near_frames, the dwell length)."""
        near = self.near_face_px
        return MEASURABLE_HEAD_PX * self.scale if near is None else 0.8 * near

    @property
    def passer_head_px(self) -> tuple[float, float]:
        """Passers cross far away: always well below the near heads."""
        near = self.near_face_px
        if near is None:
            return PASSER_HEAD_PX[0] * self.scale, PASSER_HEAD_PX[1] * self.scale
        return 0.2 * near, 0.35 * near

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
    skin_c: float  # canthus peak, the warmest facial spot: skin_from_body_c(temp_c, SKIN_SITE)
    face_c: float  # facial skin around the canthi: skin_c - the canthus excess
    hair_c: float
    clothes_c: float
    group: str
    paired: bool
    passer: bool
    exit: str
    anatomy: CanthusAnatomy


class _Pose(NamedTuple):
    person: int
    cx: float
    cy: float
    head_px: float
    near_px: float  # this person's head width at the gate (hot-spot sizes scale with it)


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


def rotate_xy(x: float, y: float, k: int, width: int, height: int) -> tuple[float, float]:
    """rotate_point for continuous pixel coordinates (centres at integers)."""
    for _ in range(k % 4):
        x, y, width, height = y, width - 1 - x, height, width
    return x, y


def rotate_box(box: Box, k: int, width: int, height: int) -> Box:
    x, y, w, h = box
    ax, ay = rotate_point(x, y, k, width, height)
    bx, by = rotate_point(x + w - 1, y + h - 1, k, width, height)
    return min(ax, bx), min(ay, by), abs(bx - ax) + 1, abs(by - ay) + 1
