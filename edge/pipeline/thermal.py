"""Thermal-only mode: counts -> degC -> heads -> face-max hot loop -> tracks -> decisions,
with the room temperature read off the same frame. One instance owns all mutable state; it
does no I/O."""

from __future__ import annotations

import numpy as np

from edge.core.evidence import Evidence
from edge.core.types import Decision, Frame, ReferenceSpec, ThermalFrame, ThermalStreamMeta
from edge.pipeline.base import FrameReport, PipelineParams, RoomTemperature
from edge.thermal.face_max import FaceMaxLocalMean, FacePeak
from edge.thermal.front import ThermalFrontEnd
from edge.thermal.heads import find_heads, head_params


class ThermalPipeline:
    """Heads found in the thermal frame, the face maximum as the reading (site face-max)."""

    uses_rgb = False

    def __init__(
        self, params: PipelineParams, stream: ThermalStreamMeta, reference: ReferenceSpec | None
    ) -> None:
        self.front = ThermalFrontEnd(params.front, stream, reference)
        self._heads = head_params(params.heads, self.front.upright_hw)
        scr = params.screening
        self._stat = (
            FacePeak() if scr.statistic == "peak" else FaceMaxLocalMean(scr.window_px)
        )
        self.evidence = Evidence(params.screening.evidence("face-max", params.tracker))
        self.room = RoomTemperature(params.room)
        self.last: FrameReport | None = None

    def process(self, frame: Frame) -> list[Decision]:
        """Decisions completed by this frame (usually none). RGB frames are not used here."""
        if not isinstance(frame, ThermalFrame):
            return []
        temp_c, ref = self.front.convert(frame.counts)
        disc = self.front.disc_box
        room_c = self.room.update(temp_c, ref.offset_c, frame.t_ns, disc, ref.ok)
        heads = find_heads(temp_c, self._heads, exclude=disc)
        dets = heads.detections
        skin_c = self._stat(temp_c, heads.labels, dets.label_ids)
        skin_c += np.float32(ref.offset_c)
        measured = int(dets.measurable.sum())
        self.last = FrameReport(frame.t_ns, dets.count, measured, ref, room_c)
        return self.evidence.record(dets, skin_c, ref.ok, frame.t_ns, room_c)

    def finish(self) -> list[Decision]:
        return self.evidence.finish()
