"""What every screening mode shares: its parameters (built by the composition root from the
config), the per-frame report the metrics read, and the interface the run loop drives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from edge.core.decide import DecideParams
from edge.core.evidence import Evidence, EvidenceParams
from edge.core.tracker import TrackerParams
from edge.core.types import Decision, Frame
from edge.thermal.front import FrontParams
from edge.thermal.heads import HeadSizing
from edge.thermal.radiometry import ReferenceState


@dataclass(frozen=True, slots=True)
class ScreeningParams:
    threshold_c: float = 37.3
    min_samples: int = 5
    decide_samples: int = 9
    ambient_c: float | None = None
    skin_offset_c: float = 0.0  # site calibration, added to every skin reading
    reference_expected: bool = False  # a reference source is installed (mode not "off")
    recheck_margin_c: float = 1.0
    statistic: Literal["peak", "local-mean"] = "peak"  # the hot loops' per-face reading
    window_px: int = 3  # window of the local-mean statistic

    def evidence(self, site: str, tracker: TrackerParams) -> EvidenceParams:
        decide = DecideParams(
            threshold_c=self.threshold_c,
            min_samples=self.min_samples,
            decide_samples=max(self.decide_samples, self.min_samples),
            ambient_c=self.ambient_c,
            site=site,
            reference_expected=self.reference_expected,
            recheck_margin_c=self.recheck_margin_c,
        )
        return EvidenceParams(decide, tracker, self.skin_offset_c)


@dataclass(frozen=True, slots=True)
class FaceParams:
    """RGB + thermal: the face models and the canthus reading."""

    threads: int = 1
    score_threshold: float = 0.5
    min_face_px: float = 40.0  # RGB pixels; narrower faces are tracked, not measured
    canthus_radius_px: int = 2
    min_thermal_face_px: float = 12.0
    max_pair_ms: float = 150.0
    # RGB -> raw thermal homography from the config; None = the source's own.
    rgb_to_thermal: npt.NDArray[np.float64] | None = None


@dataclass(frozen=True, slots=True)
class PipelineParams:
    front: FrontParams = field(default_factory=FrontParams)
    screening: ScreeningParams = field(default_factory=ScreeningParams)
    tracker: TrackerParams = field(default_factory=TrackerParams)
    heads: HeadSizing = field(default_factory=HeadSizing)
    faces: FaceParams = field(default_factory=FaceParams)


@dataclass(slots=True)
class FrameReport:
    """What one frame did; the metrics publisher reads these."""

    t_ns: int
    heads: int
    measured: int
    reference: ReferenceState


class Pipeline(Protocol):
    """What every screening mode offers the run loop."""

    evidence: Evidence
    last: FrameReport | None
    uses_rgb: bool  # whether RGB frames are worth feeding it

    def process(self, frame: Frame) -> list[Decision]: ...
    def finish(self) -> list[Decision]: ...
