"""The reference-disc locator's parameters, each with the measurement behind it.

Numbers quoted below come from the six shared Lepton 3.5 kiosk recordings (160x120, camera
on its side, ~8.7 frames/s; ../shared/data/thermal/cptv). The disc: half-level radius
6.1-7.1 px, rim rising 10-90% in ~3 px, 5.2-7.8 C above its housing and 5.4-8.9 C above the
room's median, per-pixel temporal std 0.04-0.10 C over a whole recording. The locked
candidate's test values on every frame after the lock (9-frame window): contrast against
the annulus 4.6-7.2 C, core spatial std 0.07-0.13 C, core and rim temporal std 0.01-0.07 C,
8 of 8 annulus sectors colder, roundness IoU 0.77-0.93, rim sharpness 0.66-0.84. People in
the same scenes: per-pixel temporal std 0.2-0.8 C (scene median). The study and its stress
cases are summarised in the docstring of `edge.thermal.disc`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

N_SECTORS = 8  # annulus sectors for the "colder all round" test (45 degrees each)


@dataclass(frozen=True, slots=True)
class DiscParams:
    """What a heated reference disc (or blackbody) looks like, and how it is followed."""

    # --- geometry -------------------------------------------------------------------------
    # Half-level radius hypotheses: the kiosks' 6.1-7.1 px, and a disc up to ~2x nearer or
    # farther (or a different sensor). Seven scales keep a search near 1 ms a frame.
    radii_px: tuple[float, ...] = (3.0, 4.0, 5.0, 6.5, 8.0, 10.0, 12.0)
    # Smallest fitted half-level radius accepted. Below 3 px the rim blur (~1.5 px each
    # side) leaves no flat top to read, and a face's 3x3 px canthus patch would qualify.
    min_radius_px: float = 3.0
    # Core (the part that is read and tested for flatness): this share of the radius, at
    # least 1.5 px (9 pixels), so it stays inside the ~3 px blurred rim.
    core_frac: float = 0.6
    # Annulus r + 1.5 .. r + 4 px: just outside the blurred rim, inside most housings.
    ann_in_px: float = 1.5
    ann_out_px: float = 4.0

    # --- tests on a candidate (window mean and window temporal std) -----------------------
    # Core above the annulus: 10x the sensor noise; the kiosks show 4.6-7.2 C, and a disc
    # 1.5 C above a 35 C room must still pass.
    min_contrast_c: float = 1.0
    # Extra contrast asked of a disc cut by the frame edge, times the share of it cut off.
    cut_contrast_c: float = 1.0
    # Core spatial std: absolute limit (real cores 0.07-0.13 C), and relative to the contrast
    # (real discs 0.01-0.03 of it) but never stricter than the floor (noise, fixed pattern).
    max_core_std_c: float = 0.35
    max_core_std_rel: float = 0.15
    core_std_floor_c: float = 0.12
    # Core temporal std over the window, mean over the core: discs 0.01-0.07 C, people
    # 0.2-0.8 C.
    max_temporal_std_c: float = 0.25
    # Rim temporal std, median over the rim band: discs 0.01-0.07 C; a head's steep outline
    # swaying by a fraction of a pixel reads tenths of a degree.
    max_rim_tstd_c: float = 0.15
    # A disc cut by the frame edge is accepted while this share of its core is in view.
    min_visible_frac: float = 0.35
    # Annulus sectors clearly (0.5 x min contrast) colder than the core (discs: 8 of 8): a
    # person touching one side of the disc warms two or three; skin around a canthus most.
    min_cold_sector_frac: float = 0.6
    # Half-level region vs the best circle (IoU): discs 0.77-0.93 (pixelised, blurred).
    min_iou: float = 0.72
    # Rim step over 1-2 px either side of the rim, over the contrast: discs 0.66-0.84 (a
    # step blurred by the optics), smooth warm blobs and slopes less.
    min_sharpness: float = 0.55
    # Readings a heated disc can have (kiosks: 31.9-36.1 C; blackbodies 35-45 C).
    plausible_c: tuple[float, float] = (15.0, 60.0)
    # Proposals tested per frame (the best responses over all scales).
    max_candidates: int = 32
    # While nothing is being confirmed (no disc in view, or the locked one covered), detect
    # on every 3rd frame only: a search costs ~100x a locked frame's check, and a disc that
    # appears is confirmed at most 2 frames later.
    search_every: int = 3

    # --- locking --------------------------------------------------------------------------
    # Temporal window: 9 frames, ~1 s at 8.7 Hz; stillness is judged over it.
    window: int = 9
    # Consecutive passing detections within `pos_tol_px` of each other to lock, their core
    # means within `max_spread_c`; and never before a full window.
    confirm_frames: int = 3
    min_frames_to_lock: int = 9
    pos_tol_px: float = 1.5

    # --- tracking after the lock ----------------------------------------------------------
    # Core-mean spread over the window above this: "unstable" (kiosk cores move by 0.03-0.10
    # C sd over a whole recording; the drift tracker uses the same 0.3 C).
    max_spread_c: float = 0.3
    # Core mean this far from its baseline (median over 3 windows): "unstable".
    max_drift_c: float = 0.5
    # Frame-to-frame core-mean jump above this: "occluded" (a heater changes far slower than
    # 0.5 C in ~0.11 s; a person stepping in front does not).
    jump_c: float = 0.5
    # Single-frame core spatial std while locked (real 0.07-0.14 C): above it, something
    # covers part of the core.
    track_core_std_c: float = 0.45
    # While the locked place fails, a disc confirmed elsewhere within this of the baseline
    # and of about the same radius is the same disc, moved.
    similar_c: float = 1.0
    similar_radius_px: float = 2.5
    # Failing this long (27 frames, ~3 s): accept any confirmed disc, even a different one.
    relock_frames: int = 27
    # Failing this long (90 frames, ~10 s) with nothing found elsewhere: unlock.
    lost_frames: int = 90

    def core_radius(self, r: float) -> float:
        return max(1.5, self.core_frac * r)

    def core_radius_array(self, r: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.maximum(1.5, self.core_frac * r)
