"""Per-person evidence and decisions, shared by every screening mode: tracks across frames,
readings of measurable frames, and the pure decision core applied to them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt

from edge.config import Settings
from edge.core.decide import DecideParams, decide
from edge.core.tracker import Tracker
from edge.core.types import Decision

Box = tuple[int, int, int, int]


class Evidence:
    def __init__(self, settings: Settings, site: str) -> None:
        scr = settings.screening
        self._tracker = Tracker()
        self._params = DecideParams(
            threshold_c=scr.threshold_c,
            min_samples=scr.min_samples,
            decide_samples=max(scr.decide_samples, scr.min_samples),
            ambient_c=scr.ambient_c,
            site=site,
        )
        self.skin_offset_c = np.float32(scr.skin_offset_c)

    def record(
        self,
        boxes: npt.NDArray[np.int32],
        measurable: npt.NDArray[np.bool_],
        skin_c: npt.NDArray[np.float32],
        reference_ok: bool,
        t_ns: int,
    ) -> list[Decision]:
        """One frame's faces: (M, 4) boxes, (M,) measurable flags and corrected skin readings.
        Returns the decisions this frame completed (usually none)."""
        assigned, ended = self._tracker.update(boxes, t_ns)
        tracks = self._tracker.tracks
        for i in np.flatnonzero(measurable).tolist():  # per measured face, not per pixel
            track = tracks[assigned[i]]
            track.skin_c.append(float(skin_c[i]))
            track.reference_ok.append(reference_ok)
            track.face_px.append(int(boxes[i, 2]))
        decisions = [decide(t, self._params, ending=True) for t in ended]
        decisions += [decide(t, self._params, ending=False) for t in tracks]
        return [d for d in decisions if d is not None]

    def finish(self) -> list[Decision]:
        """End of footage: decide every open track that has enough evidence."""
        decisions = [decide(t, self._params, ending=True) for t in self._tracker.drain()]
        return [d for d in decisions if d is not None]

    def apply_screening(
        self, *, threshold_c: float | None = None, skin_offset_c: float | None = None
    ) -> None:
        """A backend command changed the screening settings; applies from the next decision."""
        if threshold_c is not None:
            self._params = replace(self._params, threshold_c=threshold_c)
        if skin_offset_c is not None:
            self.skin_offset_c = np.float32(skin_offset_c)

    @property
    def threshold_c(self) -> float:
        return self._params.threshold_c

    def decided_boxes(self) -> list[Box]:
        return self._tracker.decided_boxes()

    def restore_decided(self, boxes: list[Box], t_ns: int) -> None:
        self._tracker.restore_decided(boxes, t_ns)
