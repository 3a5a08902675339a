"""Raw counts -> degC, and drift correction by a reference source (blackbody / heated disc).

Each encoding is a lookup table over the full uint16 range (256 KiB of float32), so
converting a frame is one gather, whatever the encoding's formula.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.core.types import ThermalStreamMeta
from edge.errors import RecordingError

KELVIN_OFFSET_C = 273.15
_COUNTS = np.arange(65536, dtype=np.float64)


def counts_to_c_lut(meta: ThermalStreamMeta) -> npt.NDArray[np.float32]:
    """(65536,) float32 table: degC for every possible raw count of this stream."""
    if meta.encoding == "centikelvin":
        lut = _COUNTS / 100.0 - KELVIN_OFFSET_C
    elif meta.encoding == "p2pro":
        lut = _COUNTS / 64.0 - KELVIN_OFFSET_C
    elif meta.encoding == "linear":
        if meta.linear_gain is None or meta.linear_offset_c is None:
            raise RecordingError("encoding 'linear' needs linear.gain and linear.offset_c")
        lut = meta.linear_gain * _COUNTS + meta.linear_offset_c
    else:
        raise RecordingError(
            f"unknown thermal encoding {meta.encoding!r} (allowed: centikelvin, p2pro, linear)"
        )
    return lut.astype(np.float32)


def to_celsius(
    counts: npt.NDArray[np.uint16], lut: npt.NDArray[np.float32], rotate_deg: int = 0
) -> npt.NDArray[np.float32]:
    """(H, W) uint16 counts -> (H', W') float32 degC, rotated clockwise by `rotate_deg`.

    Rotation happens here, once, so every later stage sees an upright scene.
    """
    temp_c = lut[counts]
    if rotate_deg:
        temp_c = np.ascontiguousarray(np.rot90(temp_c, k=-(rotate_deg // 90)))
    return temp_c


@dataclass(frozen=True, slots=True)
class ReferenceState:
    """The reference source right now: `offset_c` is added to every face reading."""

    offset_c: float
    reading_c: float | None
    ok: bool
    reason: str


class ReferenceTracker:
    """Follows the reference ROI over time and turns it into a drift offset.

    With a known true temperature the offset is `true - measured` (absolute correction).
    Without one (e.g. a kiosk's heated disc of unknown setpoint) only drift is corrected:
    the offset is `first stable reading - measured`, so a camera that warms up does not
    shift everyone's reading. The reading is the ROI's mean, smoothed over `window` frames,
    because single-frame noise on 60 pixels is still ~0.02 degC and jitter would show up
    in every person's temperature.
    """

    def __init__(
        self,
        true_c: float | None,
        window: int = 9,
        max_spread_c: float = 0.3,
        max_offset_c: float = 3.0,
    ) -> None:
        self._true_c = true_c
        self._readings: deque[float] = deque(maxlen=window)
        self._baseline_c: float | None = None
        self._max_spread_c = max_spread_c
        self._max_offset_c = max_offset_c

    def update(self, roi_mean_c: float | None) -> ReferenceState:
        """Feed this frame's ROI mean (None when no reference is in view)."""
        if roi_mean_c is None or not np.isfinite(roi_mean_c):
            self._readings.clear()
            return ReferenceState(0.0, None, False, "reference missing")
        self._readings.append(roi_mean_c)
        reading_c = float(np.mean(self._readings))
        spread_c = max(self._readings) - min(self._readings)
        stable = len(self._readings) == self._readings.maxlen and spread_c <= self._max_spread_c
        if self._true_c is not None:
            target_c = self._true_c
        elif stable and self._baseline_c is None:
            self._baseline_c = target_c = reading_c
        else:
            # Drift-only mode before the first stable reading: nothing to correct against.
            target_c = self._baseline_c if self._baseline_c is not None else reading_c
        offset_c = target_c - reading_c
        if abs(offset_c) > self._max_offset_c:
            return ReferenceState(0.0, reading_c, False, f"reference off by {offset_c:+.1f} C")
        # An unstable reference still gives the best offset we have; `ok` tells consumers.
        return ReferenceState(offset_c, reading_c, stable, "ok" if stable else "reference unstable")
