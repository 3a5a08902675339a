"""The thermal front end shared by every mode: counts -> upright degC, and the reference
source (configured ROI, the recording's, or a located disc) turned into a drift offset.

In auto mode without a recorded reference the disc locator (`edge.thermal.disc`) runs on
every frame: it finds the disc, then checks it (occluded, unstable, moved) for as long as
the gate runs. At each lock the drift tracker is primed with the locator's buffered readings,
so a lock gives a stable reference at once. Where the reference is read (`place`) is kept in
upright and raw sensor pixels for `gate-edge check --reference`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from edge.core.types import ReferenceSpec, ThermalStreamMeta
from edge.errors import ConfigError
from edge.thermal.disc import DiscLock, DiscParams, LocatorState, ReferenceLocator, lock_box
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


def upright_to_raw(
    x: float, y: float, raw_hw: tuple[int, int], rotate_deg: int
) -> tuple[float, float]:
    """An upright pixel position in raw sensor pixels (the inverse of `to_celsius`'s
    clockwise rotation by `rotate_deg`)."""
    h, w = raw_hw
    k = (rotate_deg // 90) % 4
    if k == 1:
        return y, h - 1 - x
    if k == 2:
        return w - 1 - x, h - 1 - y
    if k == 3:
        return w - 1 - y, x
    return x, y


def raw_roi(roi: Roi, raw_hw: tuple[int, int], rotate_deg: int) -> Roi:
    """An upright ROI in raw sensor pixels (the inverse of `rotate_roi`)."""
    x, y, w, h = roi
    (ax, ay), (bx, by) = (
        upright_to_raw(px, py, raw_hw, rotate_deg) for px, py in ((x, y), (x + w - 1, y + h - 1))
    )
    x0, y0 = int(min(ax, bx)), int(min(ay, by))
    return (x0, y0, int(max(ax, bx)) - x0 + 1, int(max(ay, by)) - y0 + 1)


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


@dataclass(frozen=True, slots=True)
class ReferencePlace:
    """Where the reference is read.

    source: "located" (the disc locator's lock), "pinned" (`thermal.reference.roi`) or
    "recording" (the recording's own reference). roi / roi_raw: the ROI read, (x, y, w, h) in
    upright / raw sensor pixels. Located only: centre / centre_raw, the disc's centre (x, y)
    (it may lie outside the frame when the disc is cut by the edge), radius_px its fitted
    half-level radius, frame the frame index it was locked on."""

    source: Literal["located", "pinned", "recording"]
    roi: Roi
    roi_raw: Roi
    centre: tuple[float, float] | None = None
    centre_raw: tuple[float, float] | None = None
    radius_px: float | None = None
    frame: int | None = None


class ThermalFrontEnd:
    """Counts -> upright degC, plus the reference source. One per pipeline."""

    def __init__(
        self, params: FrontParams, stream: ThermalStreamMeta, reference: ReferenceSpec | None
    ) -> None:
        self._lut = counts_to_c_lut(stream)
        self.rotate_deg = params.rotate_deg
        self.raw_hw = (stream.height, stream.width)
        self.upright_hw = (
            self.raw_hw if self.rotate_deg in (0, 180) else (stream.width, stream.height)
        )
        self.place, true_c, self._locator, self._idle_reason = self._setup(params, reference)
        # Pinned and recorded ROIs have no locator to judge occlusion: the tracker does.
        jump_c = None if self._locator is not None else DiscParams().jump_c
        self._reference = ReferenceTracker(true_c, jump_c=jump_c)
        self._lock_seen: DiscLock | None = None
        self.locator_state: LocatorState | None = None  # auto mode: the last verdict
        self.state: ReferenceState | None = None  # after the last frame

    @property
    def roi(self) -> Roi | None:
        """The reference ROI read, upright pixels (None while no reference is known)."""
        return self.place.roi if self.place is not None else None

    @property
    def locator(self) -> ReferenceLocator | None:
        return self._locator

    def _setup(
        self, params: FrontParams, reference: ReferenceSpec | None
    ) -> tuple[ReferencePlace | None, float | None, ReferenceLocator | None, str]:
        if params.reference_mode == "off":
            return None, None, None, "no reference configured"
        if params.reference_mode == "roi" and params.reference_roi is not None:
            return self._fixed("pinned", params.reference_roi), params.reference_temp_c, None, "ok"
        if reference is not None:
            true_c = (
                params.reference_temp_c if params.reference_temp_c is not None
                else reference.temp_c
            )
            return self._fixed("recording", reference.roi), true_c, None, "ok"
        return None, params.reference_temp_c, ReferenceLocator(DiscParams()), "searching"

    def _fixed(self, source: Literal["pinned", "recording"], roi_raw: Roi) -> ReferencePlace:
        return ReferencePlace(source, rotate_roi(roi_raw, self.raw_hw, self.rotate_deg), roi_raw)

    def _located(self, lock: DiscLock) -> ReferencePlace:
        raw = upright_to_raw(lock.cx, lock.cy, self.raw_hw, self.rotate_deg)
        return ReferencePlace(
            "located", lock.roi, raw_roi(lock.roi, self.raw_hw, self.rotate_deg),
            (lock.cx, lock.cy), raw, lock.radius_px, lock.frame,
        )

    def convert(
        self, counts: npt.NDArray[np.uint16]
    ) -> tuple[npt.NDArray[np.float32], ReferenceState]:
        """Upright (H, W) float32 degC and the reference state after this frame."""
        temp_c = to_celsius(counts, self._lut, self.rotate_deg)
        reason = self._follow(temp_c) if self._locator is not None else self._idle_reason
        self.state = self._reference.update(_roi_mean_c(temp_c, self.roi), reason)
        return temp_c, self.state

    def _follow(self, temp_c: npt.NDArray[np.float32]) -> str:
        """Run the locator on this frame; at a new lock, prime the tracker with its buffer
        (this frame's reading is added by the caller)."""
        assert self._locator is not None
        _, self.locator_state = self._locator.update(temp_c)
        lock = self._locator.lock
        if lock is None:
            self.place = None
        elif lock is not self._lock_seen:
            self.place = self._located(lock)
            self._reference.restart(self._locator.history_c()[:-1])
        self._lock_seen = lock
        return self.locator_state

    @property
    def disc_box(self) -> Roi | None:
        """The whole reference (for head finding to ignore): a located disc's centre +-
        (radius + 4 px); around a pinned or recorded ROI, 3x the ROI."""
        lock = self._locator.lock if self._locator is not None else None
        if lock is not None:
            return lock_box(lock, self.upright_hw)
        return disc_box(self.roi)


def disc_box(roi: Roi | None) -> Roi | None:
    """Around a pinned or recorded ROI, whose disc geometry is not known: 3x the ROI (the
    ROI taken as the disc's central part)."""
    if roi is None:
        return None
    x, y, w, h = roi
    return (max(0, x - w), max(0, y - h), 3 * w, 3 * h)


def _roi_mean_c(temp_c: npt.NDArray[np.float32], roi: Roi | None) -> float | None:
    if roi is None:
        return None
    x, y, w, h = roi
    return float(temp_c[y : y + h, x : x + w].mean())
