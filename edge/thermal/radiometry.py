"""Raw counts -> degC, and drift correction by a reference source (blackbody / heated disc).

Each encoding is a lookup table over the full uint16 range (256 KiB of float32), so
converting a frame is one gather, whatever the encoding's formula.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
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


# Why the reference is or is not usable: ReferenceState.reason, machine-readable.
REFERENCE_REASONS: tuple[str, ...] = (
    "ok",  # a stable reading; its offset is applied and `ok` is true
    "settling",  # a pinned or recorded ROI's first frames: the smoothing window is filling
    "searching",  # auto: nothing locked yet; the window is filling or a candidate confirming
    "not found",  # auto: nothing in view passes as a disc (or the lock was lost)
    "occluded",  # something covers the reference; the last good offset is held
    "unstable",  # the reading spreads over the window or drifts from its baseline
    "moved",  # auto: the frame on which the lock jumped to the disc's new place
    "implausible",  # the offset would exceed max_offset_c: the ROI is not the reference
    "no reference configured",  # thermal.reference.mode = "off"
    "no thermal frame yet",  # RGB + thermal mode before its first thermal frame
)


@dataclass(frozen=True, slots=True)
class ReferenceState:
    """The reference source right now: `offset_c` is added to every face reading.

    reason: machine-readable, one of REFERENCE_REASONS ("ok" exactly when `ok`);
    detail: a human sentence, or "" when the reason says it all."""

    offset_c: float
    reading_c: float | None
    ok: bool
    reason: str
    detail: str = ""


class ReferenceTracker:
    """Follows the reference ROI over time and turns it into a drift offset.

    With a known true temperature the offset is `true - measured` (absolute correction).
    Without one (e.g. a kiosk's heated disc of unknown setpoint) only drift is corrected:
    the offset is `first stable reading - measured`, so a camera that warms up does not
    shift everyone's reading. The reading is the ROI's mean, smoothed over `window` frames,
    because single-frame noise on 60 pixels is still ~0.02 degC and jitter would show up
    in every person's temperature.

    `reason` passed to `update` is the locator's verdict on this frame ("ok" for a pinned
    ROI); an "occluded" frame is not added to the window and the last good offset is held.
    With `jump_c` set (pinned and recorded ROIs, which no locator checks) the tracker judges
    occlusion itself: a frame-to-frame jump above `jump_c` (a heater cannot change that fast)
    is "occluded" until the reading is back within `max_drift_c` of the level before the
    jump; a new level that stays steady for `accept_frames` (~10 s) is taken as the
    reference's own (`restart`)."""

    def __init__(
        self,
        true_c: float | None,
        window: int = 9,
        max_spread_c: float = 0.3,
        max_offset_c: float = 3.0,
        jump_c: float | None = None,
        max_drift_c: float = 0.5,
        accept_frames: int = 90,
    ) -> None:
        self._true_c = true_c
        self._readings: deque[float] = deque(maxlen=window)
        self._baseline_c: float | None = None
        self._max_spread_c = max_spread_c
        self._max_offset_c = max_offset_c
        self._jump_c, self._max_drift_c, self._accept_frames = jump_c, max_drift_c, accept_frames
        self._last_c: float | None = None  # the last reading added to the window
        self._good: tuple[float, float] | None = None  # (reading, offset) when last ok
        self._covered_at: float | None = None  # level before a jump (own occlusion check)
        self._covered: deque[float] = deque(maxlen=window)
        self._covered_n = 0

    def restart(self, readings: Sequence[float]) -> None:
        """A new lock (or an accepted new level): the window restarts from these readings
        of the new ROI, oldest first, so the reference can be stable at once. In drift-only
        mode the baseline moves with the step between the old and new readings: a re-lock is
        a discontinuity, never camera drift."""
        before = self._good[0] if self._good is not None else None
        self._readings.clear()
        self._readings.extend(float(v) for v in readings)
        self._last_c = self._readings[-1] if self._readings else None
        self._covered_at, self._covered_n = None, 0
        self._covered.clear()
        if self._baseline_c is not None and before is not None and self._readings:
            self._baseline_c += float(np.mean(self._readings)) - before

    def update(self, roi_mean_c: float | None, reason: str = "ok") -> ReferenceState:
        """Feed this frame's ROI mean (None when no reference is in view) and the locator's
        verdict on it."""
        if roi_mean_c is None or not np.isfinite(roi_mean_c):
            self._readings.clear()
            self._last_c, self._covered_at = None, None
            why = reason if reason != "ok" else "not found"
            return ReferenceState(0.0, None, False, why, "no reference reading")
        value = float(roi_mean_c)
        if reason == "occluded" or self._jumped(value):
            return self._held(value)
        self._readings.append(value)
        self._last_c = value
        return self._state(reason)

    def _state(self, reason: str) -> ReferenceState:
        reading_c = float(np.mean(self._readings))
        spread_c = max(self._readings) - min(self._readings)
        full = len(self._readings) == self._readings.maxlen
        stable = full and spread_c <= self._max_spread_c
        if self._true_c is not None:
            target_c = self._true_c
        elif stable and reason == "ok" and self._baseline_c is None:
            self._baseline_c = target_c = reading_c
        else:
            # Drift-only mode before the first stable reading: nothing to correct against.
            target_c = self._baseline_c if self._baseline_c is not None else reading_c
        offset_c = target_c - reading_c
        if abs(offset_c) > self._max_offset_c:
            return ReferenceState(0.0, reading_c, False, "implausible",
                                  f"reference off by {offset_c:+.1f} C")
        if reason == "ok":
            reason = "ok" if stable else "settling" if not full else "unstable"
        detail = f"spread {spread_c:.2f} C over {len(self._readings)} frames"
        if reason == "ok":
            self._good = (reading_c, offset_c)
        # An unstable reference still gives the best offset we have; `ok` tells consumers.
        return ReferenceState(offset_c, reading_c, reason == "ok", reason, detail)

    def _held(self, value: float) -> ReferenceState:
        """Occluded: the frame is not used; the last good reading and offset are held."""
        reading_c, offset_c = self._good if self._good is not None else (None, 0.0)
        return ReferenceState(offset_c, reading_c, False, "occluded",
                              f"reference reads {value:.2f} C")

    def _jumped(self, value: float) -> bool:
        """Own occlusion check (with `jump_c`): whether this frame is covered."""
        if self._jump_c is None:
            return False
        if self._covered_at is None:
            if self._last_c is None or abs(value - self._last_c) <= self._jump_c:
                return False
            self._covered_at = float(np.mean(self._readings)) if self._readings else self._last_c
            self._covered.clear()
            self._covered_n = 0
        if abs(value - self._covered_at) <= self._max_drift_c:
            self._covered_at = None  # back at its level: uncovered
            return False
        self._covered.append(value)
        self._covered_n += 1
        steady = (len(self._covered) == self._covered.maxlen
                  and max(self._covered) - min(self._covered) <= self._max_spread_c)
        if self._covered_n >= self._accept_frames and steady:
            self.restart(list(self._covered)[:-1])  # this frame is added by update()
            return False
        return True
