"""Locating and following the reference source (a heated disc or blackbody) in upright degC
frames.

    locator = ReferenceLocator(DiscParams())
    for temp_c in frames:                          # (H, W) float32 degC, upright
        roi, state = locator.update(temp_c)        # roi = (x, y, w, h) or None

Cues, strongest first (measurements: `edge.thermal.disc_params`):
  1. still: the disc neither moves nor changes; its per-pixel temporal std over a 9-frame
     window (~1 s) sits at sensor noise (0.04-0.10 C on the kiosks), people's at 0.2-0.8 C;
  2. locally distinct: its flat core stands above the annulus just outside its blurred rim
     (centre-surround, never a threshold on the whole scene), so it is found in a 15 C or a
     35 C room, inside a housing of any temperature below its own, and with a face hotter
     than the disc elsewhere in the frame;
  3. flat, round and sharp: the core's spatial std is at noise level, the half-level region
     fits a circle, its rim is a step blurred only by the optics, and most annulus sectors
     are colder (a face's hot canthus patch sits in warm skin);
  4. partly outside the frame is allowed: every mean is over in-frame pixels only, so a
     candidate's centre may lie outside the frame.

A candidate passing every test (`disc_detect`) on 3 consecutive frames, at the same place, is
locked, never before the window is full (frame index 8 on all six shared kiosk recordings).
While nothing is being confirmed the search runs on every 3rd frame only (~5 ms a search on a
2-core x86 for 160x120; a locked frame's check takes ~0.1 ms).
After the lock the disc is checked on every frame (`disc_track.LockCheck`). States:
"searching" (the window is filling or a candidate is being confirmed), "not found", "ok",
"occluded" (something covers the core: it is no longer flat or no longer above its
surroundings, or its mean jumped), "unstable" (the core is intact, its mean is not) and
"moved" (the frame on which the lock jumped to the disc's new place). While the locked place
fails, the disc is looked for elsewhere: at first only a similar disc far away, after ~3 s
any confirmed disc; after ~10 s with nothing found the lock is dropped.

On 74 stress cases (synthetic discs cut by each edge, housings, rooms at 15-35 C, people
touching, hiding or standing next to the disc, a moved disc, a heater ramp, and the real
recordings shifted so the disc is cut) this finds and follows the disc in 71, where the
earlier single-frame detector managed 28. Known limits: a disc less than 1.5 C above its
surroundings; a housing hotter than the disc and touching its rim; and, with no disc in
view, a face held still to 0.3 px for a whole second can lock (it is then lost as soon as
it moves).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from edge.thermal.disc_detect import Candidates, DiscDetector
from edge.thermal.disc_params import DiscParams
from edge.thermal.disc_track import (
    Confirmer,
    DiscLock,
    LockCheck,
    TemporalWindow,
    Track,
    WindowStats,
    make_lock,
)

__all__ = ["DiscLock", "DiscParams", "LocatorState", "ReferenceLocator", "lock_box"]

F32 = npt.NDArray[np.float32]
Roi = tuple[int, int, int, int]
LocatorState = Literal["ok", "searching", "not found", "occluded", "unstable", "moved"]

# The exclusion box reaches this far beyond the disc's fitted radius: the blurred rim
# (10-90% in ~3 px) and a margin, so the disc never becomes a "head".
BOX_MARGIN_PX = 4.0


def lock_box(lock: DiscLock, shape_hw: tuple[int, int]) -> Roi:
    """The whole disc with its rim, (x, y, w, h) clipped to the frame: centre +-(radius +
    BOX_MARGIN_PX)."""
    reach = lock.radius_px + BOX_MARGIN_PX
    h, w = shape_hw
    x0 = min(max(0, int(np.floor(lock.cx - reach))), w - 1)
    y0 = min(max(0, int(np.floor(lock.cy - reach))), h - 1)
    x1 = max(min(w, int(np.ceil(lock.cx + reach)) + 1), x0 + 1)
    y1 = max(min(h, int(np.ceil(lock.cy + reach)) + 1), y0 + 1)
    return (x0, y0, x1 - x0, y1 - y0)


class ReferenceLocator:
    """Finds the disc (temporal window + detector), locks after `confirm_frames` consistent
    detections, then checks the lock on every frame and says why it is not ok."""

    def __init__(self, params: DiscParams | None = None) -> None:
        self.p = params or DiscParams()
        self.detector = DiscDetector(self.p)
        self._window = TemporalWindow(self.p.window)
        self._confirmer = Confirmer(self.p)
        self._check: LockCheck | None = None
        self._fail = 0  # consecutive frames the locked place failed
        self.frame = -1
        self.last: Candidates | None = None  # the latest detection, for diagnostics

    @property
    def lock(self) -> DiscLock | None:
        return self._check.lock if self._check is not None else None

    def update(self, temp_c: F32) -> tuple[Roi | None, LocatorState]:
        """Feed one upright degC frame: the reference ROI (None if none) and the state."""
        self.frame += 1
        stats = self._window.push(temp_c)
        if self._check is None:
            return self._search(stats, temp_c)
        state = self._check.check(temp_c)
        if state != "occluded":
            self._fail = 0
            self._confirmer.clear()  # a later relocation starts afresh
            return self._check.lock.roi, state
        return self._relocate(stats, temp_c)

    def history_c(self) -> list[float]:
        """The locked ROI's mean over the buffered frames, oldest first (this frame last):
        primes a drift tracker at lock time, so it need not wait another window before it
        calls the reference stable."""
        lock = self.lock
        return [] if lock is None else self._window.roi_means(lock.roi)

    def _detect(self, stats: WindowStats) -> Candidates | None:
        """This frame's candidates; None before stillness can be judged (3 frames) and, while
        nothing is being confirmed, on all but every `search_every`-th frame."""
        if stats.tstd_c is None:
            return None
        if not self._confirmer.tracks and self.frame % self.p.search_every:
            return None
        self.last = self.detector.detect(stats.mean_c, stats.tstd_c)
        return self.last

    def _search(self, stats: WindowStats, temp_c: F32) -> tuple[Roi | None, LocatorState]:
        cands = self._detect(stats)
        found = None if cands is None else self._confirmer.step(cands)
        if found is None or stats.n < self.p.min_frames_to_lock:
            searching = stats.n < self.p.window or bool(self._confirmer.tracks)
            return None, "searching" if searching else "not found"
        lock = self._lock_on(found, stats)
        return lock.roi, self._check_new(temp_c)

    def _lock_on(self, track: Track, stats: WindowStats) -> DiscLock:
        lock = make_lock(track, stats.mean_c, self.p, self.frame)
        self._check = LockCheck(self.p, lock)
        self._confirmer.clear()
        self._fail = 0
        return lock

    def _check_new(self, temp_c: F32) -> LocatorState:
        assert self._check is not None
        return self._check.check(temp_c)

    def _relocate(self, stats: WindowStats, temp_c: F32) -> tuple[Roi | None, LocatorState]:
        """The locked place fails: look for the disc elsewhere while it does."""
        assert self._check is not None
        old, p = self._check.lock, self.p
        baseline = self._check.baseline_c
        self._fail += 1
        cands = self._detect(stats)
        if cands is not None:
            far = np.hypot(cands.cx - old.cx, cands.cy - old.cy) > 3 * p.pos_tol_px
            similar = (np.abs(cands.mean_c - (np.nan if baseline is None else baseline))
                       <= p.similar_c) & (np.abs(cands.r - old.r_hyp) <= p.similar_radius_px)
            # Soon only a similar disc far away; after relock_frames any confirmed disc.
            allowed = far & similar if self._fail < p.relock_frames else None
            found = self._confirmer.step(cands, allowed)
            if found is not None:
                moved = bool(np.hypot(found.cx - old.cx, found.cy - old.cy) > 3 * p.pos_tol_px)
                lock = self._lock_on(found, stats)
                state = self._check_new(temp_c)
                return lock.roi, "moved" if moved else state
        if self._fail >= p.lost_frames:
            self._check = None
            self._confirmer.clear()
            return None, "not found"
        return old.roi, "occluded"
