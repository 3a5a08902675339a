"""The reference-disc locator's state over time: the temporal window, the confirmation of
candidates before a lock, the lock itself and its check on every later frame.
Used by `edge.thermal.disc`."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from edge.thermal.disc_detect import Candidates
from edge.thermal.disc_params import N_SECTORS, DiscParams

F32 = npt.NDArray[np.float32]
Roi = tuple[int, int, int, int]
LockState = Literal["ok", "occluded", "unstable"]

_RESYNC_FRAMES = 1024  # recompute the running sums exactly this often (rounding drift)


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Per-pixel mean and temporal std over the last `n` frames (std None below 3 frames)."""

    mean_c: F32
    tstd_c: F32 | None
    n: int


class TemporalWindow:
    """The last `size` upright frames in a ring buffer, with running per-pixel sums: O(HW)
    a frame, however long the window."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._buf = np.zeros((0, 0, 0), np.float32)
        self._sum = np.zeros((0, 0), np.float64)
        self._sq = np.zeros((0, 0), np.float64)
        self._ref = 0.0  # sums are of (value - ref): small numbers, no cancellation
        self._next = 0
        self.n = 0
        self._pushed = 0

    def push(self, temp_c: F32) -> WindowStats:
        if self._buf.shape[1:] != temp_c.shape:
            self._reset(temp_c)
        x = temp_c.astype(np.float64) - self._ref
        if self.n == self.size:
            old = self._buf[self._next].astype(np.float64) - self._ref
            self._sum -= old
            self._sq -= old * old
        self._buf[self._next] = temp_c
        self._next = (self._next + 1) % self.size
        self.n = min(self.n + 1, self.size)
        self._sum += x
        self._sq += x * x
        self._pushed += 1
        if self._pushed % _RESYNC_FRAMES == 0:
            self._resync()
        mean = self._sum / self.n
        tstd = np.sqrt(np.maximum(self._sq / self.n - mean * mean, 0.0)) if self.n >= 3 else None
        return WindowStats(
            (mean + self._ref).astype(np.float32),
            None if tstd is None else tstd.astype(np.float32),
            self.n,
        )

    def _reset(self, temp_c: F32) -> None:
        self._buf = np.zeros((self.size, *temp_c.shape), np.float32)
        self._sum = np.zeros(temp_c.shape, np.float64)
        self._sq = np.zeros(temp_c.shape, np.float64)
        self._ref = float(np.median(temp_c))
        self._next = self.n = 0

    def _resync(self) -> None:
        x = self.frames().astype(np.float64) - self._ref
        self._sum, self._sq = x.sum(0), (x * x).sum(0)

    def frames(self) -> F32:
        """(n, H, W) buffered frames, oldest first."""
        order = (self._next - self.n + np.arange(self.n)) % self.size
        return self._buf[order]

    def roi_means(self, roi: Roi) -> list[float]:
        """The ROI's mean in every buffered frame, oldest first."""
        x, y, w, h = roi
        return [float(v) for v in self.frames()[:, y : y + h, x : x + w].mean((1, 2))]


@dataclass(slots=True)
class Track:
    """A passing candidate followed over consecutive frames before it is locked."""

    cx: int
    cy: int
    r: float
    r_half: float
    contrast_c: float
    score: float
    visible: float
    means: list[float]
    streak: int


class Confirmer:
    """Follows passing candidates from frame to frame; one is ready after `confirm_frames`
    consecutive passes within `pos_tol_px`, its core means within `max_spread_c`."""

    def __init__(self, params: DiscParams) -> None:
        self.p = params
        self.tracks: list[Track] = []

    def clear(self) -> None:
        self.tracks = []

    def step(self, cands: Candidates, allowed: npt.NDArray[np.bool_] | None = None) -> Track | None:
        good = cands.ok if allowed is None else cands.ok & allowed
        new: list[Track] = []
        for k in np.nonzero(good)[0]:  # a handful of candidates, never pixels
            cx, cy = int(cands.cx[k]), int(cands.cy[k])
            match = next((t for t in self.tracks
                          if np.hypot(t.cx - cx, t.cy - cy) <= self.p.pos_tol_px), None)
            means = ([*match.means] if match else []) + [float(cands.mean_c[k])]
            new.append(Track(cx, cy, float(cands.r[k]), float(cands.r_half[k]),
                             float(cands.contrast_c[k]), float(cands.score[k]),
                             float(cands.visible[k]), means[-self.p.window :],
                             (match.streak if match else 0) + 1))
        self.tracks = new
        n = self.p.confirm_frames
        ready = [t for t in new
                 if t.streak >= n and np.ptp(t.means[-n:]) <= self.p.max_spread_c]
        return max(ready, key=lambda t: t.score) if ready else None


@dataclass(frozen=True, slots=True)
class DiscLock:
    """Where the disc is, in upright frame pixels (the centre may lie outside the frame).

    radius_px: the fitted half-level radius; roi: the square inscribed in the core, clipped
    to the frame (what is read); core_idx / ring_idx: flat indices of the core and the
    annulus, ring_sector: each annulus pixel's sector; frame: the frame it was locked on."""

    cx: float
    cy: float
    radius_px: float
    r_hyp: float
    contrast_c: float
    roi: Roi
    core_idx: npt.NDArray[np.intp] = field(repr=False)
    ring_idx: npt.NDArray[np.intp] = field(repr=False)
    ring_sector: npt.NDArray[np.intp] = field(repr=False)
    frame: int = 0


def _subpixel_centre(track: Track, mean_c: F32, params: DiscParams) -> tuple[float, float]:
    """Centroid of the half-level region near the candidate; not for a disc (or its fitted
    circle) cut by the frame edge, whose visible centroid lies off the true centre."""
    cx, cy = float(track.cx), float(track.cy)
    reach = track.r_half + 1.0
    h, w = mean_c.shape
    if track.visible < 0.999 or min(cx, cy, w - 1 - cx, h - 1 - cy) < reach:
        return cx, cy
    grid = np.indices(mean_c.shape)
    yy, xx = grid[0], grid[1]
    d = np.hypot(yy - cy, xx - cx)
    core_c = float(np.median(mean_c[d <= params.core_radius(track.r)]))
    region = np.asarray((d <= track.r_half + 1.0) & (mean_c >= core_c - track.contrast_c / 2.0))
    if int(region.sum()) < 5:
        return cx, cy
    return float(xx[region].mean()), float(yy[region].mean())


def _inscribed_roi(cx: float, cy: float, rc: float, core: npt.NDArray[np.bool_]) -> Roi:
    """The square inscribed in the core circle, clipped to the frame; the core's bounding
    box when that square lies outside (a disc cut deep by the edge)."""
    h, w = core.shape
    s = rc / np.sqrt(2.0)
    x0, y0 = max(0, int(np.ceil(cx - s))), max(0, int(np.ceil(cy - s)))
    x1, y1 = min(w, int(np.floor(cx + s)) + 1), min(h, int(np.floor(cy + s)) + 1)
    if x1 <= x0 or y1 <= y0:
        ys, xs = np.nonzero(core)
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    return (x0, y0, x1 - x0, y1 - y0)


def make_lock(track: Track, mean_c: F32, params: DiscParams, frame: int) -> DiscLock:
    """Lock on a confirmed track: sub-pixel centre, core and annulus pixels, the ROI."""
    cx, cy = _subpixel_centre(track, mean_c, params)
    grid = np.indices(mean_c.shape)
    yy, xx = grid[0], grid[1]
    d = np.hypot(yy - cy, xx - cx)
    # The core stays 2.5 px inside the fitted rim: the blurred rim must not pull it down.
    rc = max(1.5, min(params.core_radius(track.r), track.r_half - 2.5))
    core = d <= rc
    if core.sum() < 3:
        rc += 1.0
        core = d <= rc
    ann = (d >= track.r + params.ann_in_px) & (d <= track.r + params.ann_out_px)
    angle = np.arctan2(yy - cy, xx - cx)
    sector = ((angle + np.pi) / (2 * np.pi) * N_SECTORS).astype(np.intp) % N_SECTORS
    ring_idx = np.flatnonzero(ann)
    return DiscLock(cx, cy, track.r_half, track.r, track.contrast_c,
                    _inscribed_roi(cx, cy, rc, core), np.flatnonzero(core), ring_idx,
                    sector.ravel()[ring_idx], frame)


class LockCheck:
    """Checks the locked disc on every frame and says why it is not ok.

    "occluded": the core is no longer flat, no longer above its coldest annulus sector, or
    its mean jumped (the flag stays until the mean is back near its baseline);
    "unstable": the core is intact but its mean spreads more than `max_spread_c` over the
    window or drifts more than `max_drift_c` from its baseline (median over 3 windows of
    unoccluded frames, so it follows slow real changes, never an occlusion)."""

    def __init__(self, params: DiscParams, lock: DiscLock) -> None:
        self.p, self.lock = params, lock
        self._means: deque[float] = deque(maxlen=params.window)
        self._base: deque[float] = deque(maxlen=3 * params.window)
        self._last_mu: float | None = None
        self._occluded = False

    @property
    def baseline_c(self) -> float | None:
        return float(np.median(self._base)) if self._base else None

    def _core_and_ring(self, temp_c: F32) -> tuple[float, float, float]:
        """Core mean, core spatial std, and the core's height above its coldest sector."""
        flat = temp_c.ravel()
        core = flat[self.lock.core_idx].astype(np.float64)
        mu, sd = float(core.mean()), float(core.std())
        ring = flat[self.lock.ring_idx].astype(np.float64)
        sums = np.bincount(self.lock.ring_sector, ring, N_SECTORS)
        counts = np.bincount(self.lock.ring_sector, minlength=N_SECTORS)
        usable = counts >= 3
        above = mu - float((sums[usable] / counts[usable]).min()) if usable.any() else 0.0
        return mu, sd, above

    def check(self, temp_c: F32) -> LockState:
        p = self.p
        mu, sd, above = self._core_and_ring(temp_c)
        baseline = self.baseline_c
        base = mu if baseline is None else baseline
        if self._last_mu is not None and abs(mu - self._last_mu) > p.jump_c:
            self._occluded = True
        elif self._occluded and abs(mu - base) <= p.max_drift_c:
            self._occluded = False
        if sd > p.track_core_std_c or above < 0.5 * p.min_contrast_c or self._occluded:
            return "occluded"
        self._last_mu = mu
        self._means.append(mu)
        self._base.append(mu)
        if np.ptp(self._means) > p.max_spread_c or abs(mu - base) > p.max_drift_c:
            return "unstable"
        return "ok"
