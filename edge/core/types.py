"""Frozen value types shared by every stage. Arrays are documented with shape and dtype."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

Encoding = Literal["centikelvin", "p2pro", "linear"]
ENCODINGS: tuple[str, ...] = ("centikelvin", "p2pro", "linear")


@dataclass(frozen=True, slots=True)
class ThermalFrame:
    """One radiometric frame. `counts` is (H, W) uint16 raw sensor counts, as recorded."""

    index: int
    t_ns: int
    counts: npt.NDArray[np.uint16]


@dataclass(frozen=True, slots=True)
class RgbFrame:
    """One colour frame. `bgr` is (H, W, 3) uint8 in OpenCV channel order."""

    index: int
    t_ns: int
    bgr: npt.NDArray[np.uint8]


Frame = ThermalFrame | RgbFrame


@dataclass(frozen=True, slots=True)
class ThermalStreamMeta:
    width: int
    height: int
    encoding: Encoding
    linear_gain: float | None = None  # degC per count, only for encoding "linear"
    linear_offset_c: float | None = None
    fps: float | None = None
    frame_count: int | None = None


@dataclass(frozen=True, slots=True)
class ReferenceSpec:
    """A blackbody / heated disc in the thermal view: ROI (x, y, w, h) in thermal pixels."""

    roi: tuple[int, int, int, int]
    temp_c: float


@dataclass(frozen=True, slots=True)
class RgbStreamMeta:
    width: int | None = None  # None: known only once the first frame arrives
    height: int | None = None
    fps: float | None = None
    frame_count: int | None = None


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a source knows before its first frame: its streams and what it carries about
    them (registration, reference, ambient). A recording gives one from its header; a
    camera from its driver and the config.

    kind: "recording-v1", "cptv-v2" (cameras: "uvc", "lepton", ...).
    path: the recording (None for a camera); device: a camera or recorder name.
    rgb_to_thermal: (3, 3) float64 homography from RGB to raw thermal pixels.
    """

    kind: str
    thermal: ThermalStreamMeta | None
    rgb: RgbStreamMeta | None = None
    path: Path | None = None
    rgb_to_thermal: npt.NDArray[np.float64] | None = None
    reference: ReferenceSpec | None = None
    ambient_c: float | None = None
    source: str = ""
    device: str | None = None
    start_t_ns: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def has_rgb(self) -> bool:
        return self.rgb is not None

    @property
    def origin(self) -> str:
        """Where the frames come from, for messages: the recording's path or the device."""
        return str(self.path) if self.path is not None else self.device or self.kind


@dataclass(frozen=True, slots=True)
class TemperatureReading:
    """What one person measured: `body_c` is the estimated core temperature."""

    body_c: float
    skin_c: float
    threshold_c: float
    site: str  # "canthus" (RGB+thermal) or "face-max" (thermal-only)
    samples: int
    reference_ok: bool
    spread_c: float  # max - min of the per-frame readings used
    # The room temperature the map was given (measured in the thermal frame, or the
    # screening.ambient_c override); None: not known (the map then assumes 24 degC).
    ambient_c: float | None = None
    # Baseline mode: the median of the gate's recent decisions that `threshold_c`
    # (then baseline_c + margin) was derived from; None when the absolute threshold applied.
    baseline_c: float | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """A face recognised as an enrolled subject: `distance` is the Euclidean distance between
    descriptors (smaller = more alike) that decided it."""

    subject: str
    distance: float


@dataclass(frozen=True, slots=True)
class PassRef:
    """Which pass a decision is about (never the payload itself): its id, issuer kind
    (`compound` or `dcc`), signer key id, the SHA-256 of the QR text (the same QR shown again
    has the same digest) and its end of validity (ISO 8601 UTC, None if it has none)."""

    id: str | None
    kind: str | None
    kid: str | None
    digest: str
    expires: str | None = None


# recheck: measured, but the reading cannot be trusted (reference lost); check by hand.
TemperatureType = Literal["screening", "fever", "recheck"]
# Access and identity decisions (docs/mqtt.md): one per person and kind.
AccessType = Literal["pass.granted", "pass.denied", "quarantine.breach"]
DecisionType = Literal[
    "screening", "fever", "recheck", "pass.granted", "pass.denied", "quarantine.breach"
]
TEMPERATURE_TYPES: tuple[str, ...] = ("screening", "fever", "recheck")


@dataclass(frozen=True, slots=True)
class Decision:
    """Output of the pure decision core; the publisher wraps it into an MQTT event."""

    type: DecisionType
    t_ns: int
    track: int
    temperature: TemperatureReading | None  # None only for access / identity decisions
    bbox: tuple[int, int, int, int]  # the person's last box (x, y, w, h) in `bbox_frame` pixels
    bbox_frame: Literal["thermal", "rgb"] = "thermal"  # upright thermal or RGB camera pixels
    # Recognition on: the person's identity (None = not recognised: a stranger, or no face
    # good enough). `recognition` says whether it was looked for at all, so events carry
    # `match: null` only when recognition is on.
    match: Match | None = None
    recognition: bool = False
    subject: str | None = None  # access decisions: whose access (the match's, or the pass's)
    reason: str | None = None  # pass.denied: why (docs/mqtt.md)
    pass_ref: PassRef | None = None  # the pass shown, for pass decisions (None: by face)
    # Frame t_ns of the person's first measured sample (the first frame they were measurable):
    # where the decision latency starts (edge.app.latency). None: not known (no sample).
    first_t_ns: int | None = None
    # Frame t_ns of the first sample the temperature decision used (the person at their
    # closest: face within near_share of its widest): the latency "at the gate" starts here.
    near_t_ns: int | None = None

    @property
    def is_temperature(self) -> bool:
        return self.type in TEMPERATURE_TYPES
