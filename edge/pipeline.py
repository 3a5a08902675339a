"""The per-frame pipeline for thermal screening: counts -> degC -> heads -> hot loop ->
tracks -> decisions. One instance owns all mutable state; it does no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from edge.config import Settings
from edge.decide import DecideParams, decide
from edge.errors import ConfigError
from edge.model import Decision, ReferenceSpec, ThermalFrame, ThermalStreamMeta
from edge.radiometry import ReferenceState, ReferenceTracker, counts_to_c_lut, to_celsius
from edge.screening import FaceMaxLocalMean
from edge.thermal_detect import DiscLocator, DiscParams, HeadParams, Roi, find_heads
from edge.tracker import Tracker

# Detector sizes were tuned on 120-pixel-wide upright Lepton frames; they scale with area.
_TUNED_SHORT_SIDE_PX = 120


def rotate_roi(roi: Roi, shape_hw: tuple[int, int], rotate_deg: int) -> Roi:
    """A sensor-pixel ROI expressed in the upright (rotated) frame."""
    mask = np.zeros(shape_hw, dtype=np.uint8)
    x, y, w, h = roi
    mask[y : y + h, x : x + w] = 1
    ys, xs = np.nonzero(np.rot90(mask, k=-(rotate_deg // 90)))
    if ys.size == 0:
        raise ConfigError(
            f"reference ROI {roi} lies outside the {shape_hw[1]}x{shape_hw[0]} thermal frame"
        )
    x0, y0 = int(xs.min()), int(ys.min())
    return (x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1)


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
    def __init__(
        self, settings: Settings, stream: ThermalStreamMeta, reference: ReferenceSpec | None
    ) -> None:
        self._lut = counts_to_c_lut(stream)
        self._rotate = settings.thermal.rotate_deg
        raw_hw = (stream.height, stream.width)
        upright_hw = raw_hw if self._rotate in (0, 180) else (stream.width, stream.height)
        self._heads = head_params(settings, upright_hw)
        self._stat = FaceMaxLocalMean(settings.screening.window_px)
        self._tracker = Tracker()
        scr = settings.screening
        self._decide = DecideParams(
            threshold_c=scr.threshold_c,
            min_samples=scr.min_samples,
            decide_samples=max(scr.decide_samples, scr.min_samples),
            ambient_c=scr.ambient_c,
        )
        self._roi, true_c, self._locator = self._reference_setup(settings, reference, raw_hw)
        self._reference = ReferenceTracker(true_c)
        self._skin_offset_c = np.float32(settings.screening.skin_offset_c)
        self.last: FrameReport | None = None

    def _reference_setup(
        self, settings: Settings, reference: ReferenceSpec | None, raw_hw: tuple[int, int]
    ) -> tuple[Roi | None, float | None, DiscLocator | None]:
        cfg = settings.thermal.reference
        if cfg.mode == "off":
            return None, None, None
        if cfg.mode == "roi" and cfg.roi is not None:
            x, y, w, h = cfg.roi
            return rotate_roi((x, y, w, h), raw_hw, self._rotate), cfg.temp_c, None
        if reference is not None:
            true_c = cfg.temp_c if cfg.temp_c is not None else reference.temp_c
            return rotate_roi(reference.roi, raw_hw, self._rotate), true_c, None
        return None, cfg.temp_c, DiscLocator(DiscParams())

    def apply_screening(
        self, *, threshold_c: float | None = None, skin_offset_c: float | None = None
    ) -> None:
        """A backend command changed the screening settings; applies from the next decision."""
        if threshold_c is not None:
            self._decide = replace(self._decide, threshold_c=threshold_c)
        if skin_offset_c is not None:
            self._skin_offset_c = np.float32(skin_offset_c)

    def decided_boxes(self) -> list[tuple[int, int, int, int]]:
        return self._tracker.decided_boxes()

    def restore_decided(self, boxes: list[tuple[int, int, int, int]], t_ns: int) -> None:
        self._tracker.restore_decided(boxes, t_ns)

    @property
    def threshold_c(self) -> float:
        return self._decide.threshold_c

    @property
    def reference_roi(self) -> Roi | None:
        """The reference ROI in upright pixels, once known."""
        return self._roi

    def process(self, frame: ThermalFrame) -> list[Decision]:
        """Decisions completed by this frame (usually none)."""
        temp_c = to_celsius(frame.counts, self._lut, self._rotate)
        if self._roi is None and self._locator is not None:
            self._roi = self._locator.update(temp_c)
        ref = self._reference.update(_roi_mean_c(temp_c, self._roi))
        heads = find_heads(temp_c, self._heads, exclude=_disc_box(self._roi))
        skin_c = self._stat(temp_c, heads.labels, heads.label_ids)
        skin_c += np.float32(ref.offset_c) + self._skin_offset_c
        assigned, ended = self._tracker.update(heads.boxes, frame.t_ns)
        tracks = self._tracker.tracks
        measured = np.flatnonzero(heads.measurable)
        for i in measured.tolist():  # one iteration per measured face, not per pixel
            track = tracks[assigned[i]]
            track.skin_c.append(float(skin_c[i]))
            track.reference_ok.append(ref.ok)
            track.face_px.append(int(heads.boxes[i, 2]))
        self.last = FrameReport(frame.t_ns, heads.count, int(measured.size), ref)
        decisions = [decide(t, self._decide, ending=True) for t in ended]
        decisions += [decide(t, self._decide, ending=False) for t in tracks]
        return [d for d in decisions if d is not None]

    def finish(self) -> list[Decision]:
        """End of footage: decide every open track that has enough evidence."""
        decisions = [decide(t, self._decide, ending=True) for t in self._tracker.drain()]
        return [d for d in decisions if d is not None]


def _roi_mean_c(temp_c: npt.NDArray[np.float32], roi: Roi | None) -> float | None:
    if roi is None:
        return None
    x, y, w, h = roi
    return float(temp_c[y : y + h, x : x + w].mean())


def _disc_box(roi: Roi | None) -> Roi | None:
    """The whole disc around its inner ROI (the ROI is the disc's central half)."""
    if roi is None:
        return None
    x, y, w, h = roi
    return (max(0, x - w), max(0, y - h), 3 * w, 3 * h)
