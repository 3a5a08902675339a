"""The per-frame pipeline for thermal screening: counts -> degC -> heads -> hot loop ->
tracks -> decisions. One instance owns all mutable state; it does no I/O."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.config import Settings
from edge.core.evidence import Evidence
from edge.core.types import Decision, Frame, ReferenceSpec, ThermalFrame, ThermalStreamMeta
from edge.thermal.face_max import FaceMaxLocalMean
from edge.thermal.front import ThermalFrontEnd
from edge.thermal.heads import HeadParams, Roi, find_heads
from edge.thermal.radiometry import ReferenceState

# Detector sizes were tuned on 120-pixel-wide upright Lepton frames; they scale with area.
_TUNED_SHORT_SIDE_PX = 120


def head_params(settings: Settings, upright_hw: tuple[int, int]) -> HeadParams:
    cfg = settings.detect
    short_px = min(upright_hw)
    scale = short_px / _TUNED_SHORT_SIDE_PX
    min_face_px = cfg.min_face_px or max(4, round(cfg.min_face_frac * short_px))
    return HeadParams(
        person_delta_c=cfg.person_delta_c,
        skin_floor_c=cfg.skin_floor_c,
        face_band_c=cfg.face_band_c,
        close_px=max(3, round(5 * scale) | 1),
        min_area_px=max(6, round(30 * scale * scale)),
        min_face_px=min_face_px,
        max_face_px=round(0.75 * short_px),
    )


@dataclass(slots=True)
class FrameReport:
    """What one frame did; the metrics publisher reads these."""

    t_ns: int
    heads: int
    measured: int
    reference: ReferenceState


class ThermalPipeline:
    """Thermal-only mode: heads found in the thermal frame, face maximum as the reading."""
    uses_rgb = False


    def __init__(
        self, settings: Settings, stream: ThermalStreamMeta, reference: ReferenceSpec | None
    ) -> None:
        self.front = ThermalFrontEnd(settings, stream, reference)
        self._heads = head_params(settings, self.front.upright_hw)
        self._stat = FaceMaxLocalMean(settings.screening.window_px)
        self.evidence = Evidence(settings, site="face-max")
        self.last: FrameReport | None = None

    @property
    def reference_roi(self) -> Roi | None:
        """The reference ROI in upright pixels, once known."""
        return self.front.roi

    def process(self, frame: Frame) -> list[Decision]:
        """Decisions completed by this frame (usually none). RGB frames are not used here."""
        if not isinstance(frame, ThermalFrame):
            return []
        temp_c, ref = self.front.convert(frame.counts)
        heads = find_heads(temp_c, self._heads, exclude=self.front.disc_box)
        skin_c = self._stat(temp_c, heads.labels, heads.label_ids)
        skin_c += np.float32(ref.offset_c) + self.evidence.skin_offset_c
        self.last = FrameReport(frame.t_ns, heads.count, int(heads.measurable.sum()), ref)
        return self.evidence.record(heads.boxes, heads.measurable, skin_c, ref.ok, frame.t_ns)

    def finish(self) -> list[Decision]:
        return self.evidence.finish()
