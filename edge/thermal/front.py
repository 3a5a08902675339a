"""The thermal front end shared by every mode: counts -> upright degC, and the reference
source (configured ROI, the recording's, or a located disc) turned into a drift offset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from edge.core.types import ReferenceSpec, ThermalStreamMeta
from edge.errors import ConfigError
from edge.thermal.disc import DiscLocator, DiscParams
from edge.thermal.heads import Roi
from edge.thermal.radiometry import ReferenceState, ReferenceTracker, counts_to_c_lut, to_celsius


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


@dataclass(frozen=True, slots=True)
class FrontParams:
    """rotate_deg: clockwise rotation that makes the scene upright.
    reference_mode: "auto" (the source's reference, else locate a disc), "roi" or "off".
    reference_roi: x, y, w, h in raw sensor pixels (mode "roi").
    reference_temp_c: the reference's true temperature; None corrects drift only."""

    rotate_deg: int = 0
    reference_mode: Literal["auto", "roi", "off"] = "auto"
    reference_roi: Roi | None = None
    reference_temp_c: float | None = None


class ThermalFrontEnd:
    """Counts -> upright degC, plus the reference source. One per pipeline."""

    def __init__(
        self, params: FrontParams, stream: ThermalStreamMeta, reference: ReferenceSpec | None
    ) -> None:
        self._lut = counts_to_c_lut(stream)
        self.rotate_deg = params.rotate_deg
        raw_hw = (stream.height, stream.width)
        self.upright_hw = raw_hw if self.rotate_deg in (0, 180) else (stream.width, stream.height)
        self.roi, true_c, self._locator = self._setup(params, reference, raw_hw)
        self._reference = ReferenceTracker(true_c)

    def _setup(
        self, params: FrontParams, reference: ReferenceSpec | None, raw_hw: tuple[int, int]
    ) -> tuple[Roi | None, float | None, DiscLocator | None]:
        if params.reference_mode == "off":
            return None, None, None
        if params.reference_mode == "roi" and params.reference_roi is not None:
            roi = rotate_roi(params.reference_roi, raw_hw, self.rotate_deg)
            return roi, params.reference_temp_c, None
        if reference is not None:
            true_c = (
                params.reference_temp_c if params.reference_temp_c is not None
                else reference.temp_c
            )
            return rotate_roi(reference.roi, raw_hw, self.rotate_deg), true_c, None
        return None, params.reference_temp_c, DiscLocator(DiscParams())

    def convert(
        self, counts: npt.NDArray[np.uint16]
    ) -> tuple[npt.NDArray[np.float32], ReferenceState]:
        """Upright (H, W) float32 degC and the reference state after this frame."""
        temp_c = to_celsius(counts, self._lut, self.rotate_deg)
        if self.roi is None and self._locator is not None:
            self.roi = self._locator.update(temp_c)
        return temp_c, self._reference.update(_roi_mean_c(temp_c, self.roi))

    @property
    def disc_box(self) -> Roi | None:
        return disc_box(self.roi)


def disc_box(roi: Roi | None) -> Roi | None:
    """The whole disc around its inner ROI (the ROI is the disc's central half)."""
    if roi is None:
        return None
    x, y, w, h = roi
    return (max(0, x - w), max(0, y - h), 3 * w, 3 * h)


def _roi_mean_c(temp_c: npt.NDArray[np.float32], roi: Roi | None) -> float | None:
    if roi is None:
        return None
    x, y, w, h = roi
    return float(temp_c[y : y + h, x : x + w].mean())
