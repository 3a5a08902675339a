"""One person, one decision: tracker -> per-track accumulators -> the pure `decide`.

Shared by every screening mode. A pipeline hands each frame's detections and readings to
`Evidence.record`; the tracker assigns them to people, the accumulators collect what each
person measured, and `decide` turns a person's evidence into at most one decision. The
record of who has been decided lives here, and it is what a crash checkpoint saves.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from edge.core.access import AccessDesk, Identify, Sighting
from edge.core.accumulators import TemperatureSamples
from edge.core.decide import DecideParams, PersonEvidence, decide
from edge.core.detections import Detections, FrameName
from edge.core.identity import IdentityParams
from edge.core.passes import PassParams
from edge.core.tracker import Box, Track, Tracker, TrackerParams
from edge.core.types import Decision

__all__ = ["Evidence", "EvidenceParams", "Identify", "Sighting"]


@dataclass(frozen=True, slots=True)
class EvidenceParams:
    decide: DecideParams
    tracker: TrackerParams = field(default_factory=TrackerParams)
    skin_offset_c: float = 0.0  # site calibration added to every skin reading
    identity: IdentityParams | None = None  # None: recognition off
    passes: PassParams | None = None  # None: QR passes off


class Evidence:
    def __init__(self, params: EvidenceParams) -> None:
        self._tracker = Tracker(params.tracker)
        self._params = params.decide
        self.skin_offset_c = np.float32(params.skin_offset_c)
        self._temperature = TemperatureSamples()
        self._decided: set[int] = set()
        self._frame: FrameName = "thermal"
        # Baseline mode: body estimates of the latest decisions at this gate, oldest first.
        self._recent_c: deque[float] = deque(maxlen=params.decide.baseline_samples)
        # Identity and passes per person (edge.core.access); the pipeline binds its lookups.
        self.access = AccessDesk(params.identity, params.passes)

    def record(
        self,
        detections: Detections,
        skin_c: npt.NDArray[np.float32],
        reference_ok: bool,
        t_ns: int,
        room_c: float | None = None,
        identify: Identify | None = None,
        quality: npt.NDArray[np.float32] | None = None,
        sightings: Sequence[Sighting] = (),
    ) -> list[Decision]:
        """One frame: its detections and their (N,) reference-corrected skin readings
        (only the `measurable` ones are used), and the room temperature the pipeline measured
        (None: not known). With recognition on, `quality` (N,) rates each face for
        recognition and `identify` recognises the faces whose person still needs it;
        `sightings` are the verified QR codes read in this frame.
        Returns the decisions this frame completed."""
        self._frame = detections.frame
        update = self._tracker.update(detections.boxes, t_ns)
        self.access.observe(
            update.track_ids, detections.boxes, t_ns, quality, identify, sightings
        )
        measured = detections.measurable
        self._temperature.add(
            update.track_ids[measured],
            skin_c[measured] + self.skin_offset_c,
            detections.boxes[measured, 2],
            reference_ok,
            room_c,
            t_ns,
        )
        for track_id, live_ids in update.covering.items():
            # A decided person whose blob merges into another (leaning in, turning to
            # leave, a raised hand joining the face) must not come back as a new person.
            if track_id in self._decided:
                self._decided.update(live_ids)
            self.access.hand_over(track_id, live_ids)
        decisions = self._decide(update.ended, ending=True)
        decisions += self._decide(self._tracker.tracks, ending=False)
        for track in update.ended:
            self._temperature.drop(track.track_id)
            self._decided.discard(track.track_id)
            self.access.drop(track.track_id)
        return decisions

    def _decide(self, tracks: list[Track], ending: bool) -> list[Decision]:
        out: list[Decision] = []
        for track in tracks:  # per person in view, a handful
            tid = track.track_id
            person = PersonEvidence(
                track_id=tid,
                t_ns=track.last_t_ns,
                box=track.int_box(),
                frame=self._frame,
                skin_c=self._temperature.skin_c(tid),
                reference_ok=self._temperature.reference_ok(tid),
                face_w=self._temperature.face_w(tid),
                decided=tid in self._decided,
                room_c=self._temperature.room_c(tid),
                sample_t_ns=self._temperature.sample_t_ns(tid),
            )
            decision = decide(person, self._params, ending, self.baseline_c)
            first_t_ns = self._temperature.first_t_ns(tid)
            if decision is not None:
                self._decided.add(tid)
                decision = replace(decision, first_t_ns=first_t_ns)
                out.append(self.access.with_match(decision, tid))
                assert decision.temperature is not None
                # Every trusted decision, fevers too: the median of the recent people shrugs
                # off a few fevers, and a drifting camera that makes everyone "feverish" must
                # still fill the baseline it needs to stop doing so.
                trusted = decision.temperature.reference_ok or not self._params.reference_expected
                if decision.type != "recheck" and trusted:
                    self._recent_c.append(decision.temperature.body_c)
            settled = self.access.settle(track, tid in self._decided, ending, self._frame)
            out += [replace(d, first_t_ns=first_t_ns) for d in settled]
        return out

    @property
    def baseline_c(self) -> float | None:
        """Baseline mode: the median of the recent decisions, once there are enough."""
        if self._params.baseline_margin_c is None:
            return None
        if len(self._recent_c) < self._params.baseline_min_samples:
            return None
        return float(np.median(np.asarray(self._recent_c)))

    def finish(self) -> list[Decision]:
        """End of footage: decide every open track that has enough evidence."""
        return self._decide(self._tracker.drain(), ending=True)

    def apply_screening(
        self, *, threshold_c: float | None = None, skin_offset_c: float | None = None
    ) -> None:
        """A backend command changed the screening settings; applies from the next reading."""
        if threshold_c is not None:
            self._params = replace(self._params, threshold_c=threshold_c)
        if skin_offset_c is not None:
            self.skin_offset_c = np.float32(skin_offset_c)

    @property
    def threshold_c(self) -> float:
        return self._params.threshold_c

    @property
    def reference_expected(self) -> bool:
        return self._params.reference_expected

    def decided_boxes(self) -> list[Box]:
        """Boxes of people already decided and still in view (for a crash checkpoint)."""
        return [t.int_box() for t in self._tracker.tracks if t.track_id in self._decided]

    def restore_decided(self, boxes: list[Box], t_ns: int) -> None:
        """After a restart: people decided before the crash stay decided if still in view."""
        restored = self._tracker.add(boxes, t_ns)
        self._decided.update(restored)
        self.access.restore(restored)  # their identity went out before the crash
