"""What every screening mode shares: its parameters (built by the composition root from the
config), the room temperature measured in the thermal frame, the per-frame report the metrics
read, and the interface the run loop drives."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from edge.core.decide import DecideParams
from edge.core.evidence import Evidence, EvidenceParams
from edge.core.identity import IdentityParams
from edge.core.passes import PassParams
from edge.core.tracker import TrackerParams
from edge.core.types import Decision, Frame
from edge.thermal.front import FrontParams
from edge.thermal.heads import HeadSizing, Roi
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
    early_margin_c: float | None = 0.3  # sequential decision; None: everyone waits
    settle_quantum_px: float = 1.0  # face-width growth this small counts as stopped
    baseline_margin_c: float | None = None  # baseline mode; None = absolute threshold
    baseline_samples: int = 20
    baseline_min_samples: int = 10
    statistic: Literal["peak", "local-mean"] = "peak"  # the hot loops' per-face reading
    window_px: int = 3  # window of the local-mean statistic

    def evidence(
        self,
        site: str,
        tracker: TrackerParams,
        identity: IdentityParams | None = None,
        passes: PassParams | None = None,
    ) -> EvidenceParams:
        decide = DecideParams(
            threshold_c=self.threshold_c,
            min_samples=self.min_samples,
            decide_samples=max(self.decide_samples, self.min_samples),
            ambient_c=self.ambient_c,
            site=site,
            reference_expected=self.reference_expected,
            recheck_margin_c=self.recheck_margin_c,
            early_margin_c=self.early_margin_c,
            settle_quantum_px=self.settle_quantum_px,
            baseline_margin_c=self.baseline_margin_c,
            baseline_samples=self.baseline_samples,
            baseline_min_samples=self.baseline_min_samples,
        )
        return EvidenceParams(decide, tracker, self.skin_offset_c, identity, passes)


@dataclass(frozen=True, slots=True)
class FaceParams:
    """RGB + thermal: the face models and the canthus reading."""

    threads: int = 1
    score_threshold: float = 0.5
    min_face_px: float = 40.0  # RGB pixels; narrower faces are tracked, not measured
    detect_every: int = 6  # full detection every N RGB frames at most (1: every frame)
    canthus_radius_px: int = 2
    min_thermal_face_px: float = 12.0
    max_pair_ms: float = 150.0
    # RGB -> raw thermal homography from the config; None = the source's own.
    rgb_to_thermal: npt.NDArray[np.float64] | None = None


@dataclass(frozen=True, slots=True)
class RoomParams:
    """The room temperature from the thermal frame (the skin -> body map's room term).

    stride: subsample step (4: 1200 of a Lepton's 19200 pixels).
    snapshot_s / window_s: a snapshot every snapshot_s; each pixel is the lower quartile of
        the snapshots of the last window_s. Rooms change over many minutes; a person passes
        in seconds, and anything warmer that stays less than 3/4 of the window is not in it.
    person_delta_c: pixels this much warmer than the rest are people (who stayed longer), the
        disc or a lamp, and are left out.
    """

    stride: int = 4
    snapshot_s: float = 2.0
    window_s: float = 60.0
    person_delta_c: float = 2.5


class RoomTemperature:
    """The room temperature a thermal frame shows, robust to people in time and in space.

    Every snapshot_s the reference-corrected frame is subsampled (`stride`) and kept for
    window_s. Per pixel, the lower quartile of the kept snapshots (people are warmer than
    what they hide): a person walking up, standing, leaving, even filling the view, is gone
    from it unless they stay 3/4 of the window (45 s). The room is the median of those pixels
    without the reference disc and without the pixels more than person_delta_c warmer than
    that median (whoever stayed). Until the window fills, the snapshots so far count (the
    first frame alone: the spatial rule only). When the reference first locks, its offset
    steps from nothing to the camera's error: the kept snapshots step with it (a correction,
    not the room changing); later offset changes follow the camera's drift, which the
    corrected frame no longer shows.
    """

    def __init__(self, params: RoomParams | None = None) -> None:
        self.params = params or RoomParams()
        self.room_c: float | None = None
        keep = max(1, round(self.params.window_s / self.params.snapshot_s))
        self._snaps: deque[npt.NDArray[np.float32]] = deque(maxlen=keep)
        self._snap_t_ns: int | None = None
        self._locked = False
        self._offset_c = 0.0

    def update(
        self,
        temp_c: npt.NDArray[np.float32],
        offset_c: float,
        t_ns: int,
        exclude: Roi | None = None,
        reference_ok: bool = False,
    ) -> float | None:
        """This frame (upright degC before the reference offset `offset_c`; whether the
        reference is ok); returns the room temperature (None: none measured yet)."""
        if reference_ok and not self._locked:
            self._step(offset_c - self._offset_c)
        self._locked |= reference_ok
        self._offset_c = offset_c
        last = self._snap_t_ns
        if last is not None and 0 <= t_ns - last < self.params.snapshot_s * 1e9:
            return self.room_c
        s = self.params.stride
        self._snaps.append(np.asarray(temp_c[::s, ::s] + np.float32(offset_c), np.float32))
        self._snap_t_ns = t_ns
        per_pixel = np.quantile(np.stack(self._snaps), 0.25, axis=0, method="lower")
        pixels = per_pixel[self._keep(per_pixel.shape, exclude) & np.isfinite(per_pixel)]
        if pixels.size:
            first = float(np.median(pixels))
            self.room_c = float(np.median(pixels[pixels < first + self.params.person_delta_c]))
        return self.room_c

    def _step(self, step_c: float) -> None:
        for snap in self._snaps:
            snap += np.float32(step_c)
        if self.room_c is not None:
            self.room_c += step_c

    def _keep(self, shape: tuple[int, ...], exclude: Roi | None) -> npt.NDArray[np.bool_]:
        keep = np.ones(shape, dtype=bool)
        if exclude is not None:
            s, (x, y, w, h) = self.params.stride, exclude
            keep[-(-y // s) : (y + h + s - 1) // s, -(-x // s) : (x + w + s - 1) // s] = False
        return keep


@dataclass(frozen=True, slots=True)
class PipelineParams:
    front: FrontParams = field(default_factory=FrontParams)
    screening: ScreeningParams = field(default_factory=ScreeningParams)
    tracker: TrackerParams = field(default_factory=TrackerParams)
    heads: HeadSizing = field(default_factory=HeadSizing)
    faces: FaceParams = field(default_factory=FaceParams)
    room: RoomParams = field(default_factory=RoomParams)
    identity: IdentityParams | None = None  # recognition policy; None: recognition off
    passes: PassParams | None = None  # QR pass policy; None: passes off


@dataclass(slots=True)
class FrameReport:
    """What one frame did; the metrics publisher reads these. `room_c`: the room temperature
    measured in the thermal frame (None before the first thermal frame)."""

    t_ns: int
    heads: int
    measured: int
    reference: ReferenceState
    room_c: float | None = None


class Pipeline(Protocol):
    """What every screening mode offers the run loop."""

    evidence: Evidence
    last: FrameReport | None
    uses_rgb: bool  # whether RGB frames are worth feeding it

    def process(self, frame: Frame) -> list[Decision]: ...
    def finish(self) -> list[Decision]: ...
