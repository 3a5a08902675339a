"""The table of synthetic QR cases (tests/vision/test_qr.py asserts bounds on it, bench/bench_qr.py
prints it): each case is one code rendered into SEEDS frames (sub-pixel centre jitter, new
background and noise each time), scored by how many frames decode to the exact text.

Physical scale: a 640 px wide RGB camera with a 60 degree field of view (FOCAL_PX = 554), a
code of 5 cm (symbol, quiet zone excluded: a phone screen or a printed pass). The compound's
passes are version 7 (45 modules), DCCs version 14 (73 modules) at EC level M.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tests.vision.qr_scenes import (
    COMPOUND_TEXT,
    DCC_TEXT,
    FOCAL_PX,
    FRAME_H,
    FRAME_W,
    QUIET_MODULES,
    Placement,
    qr_matrix,
    render,
)

SEEDS = 8
CODE_SIDE_M = 0.05


def module_px_at(distance_m: float, text: str, side_m: float = CODE_SIDE_M) -> float:
    """Pixels per module of a `side_m` code at `distance_m` facing the camera."""
    modules = qr_matrix(text).shape[0] - 2 * QUIET_MODULES
    return FOCAL_PX * side_m / distance_m / modules


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    module_px: float
    roll_deg: float = 0.0
    tilt_deg: float = 0.0
    blur_sigma_px: float = 0.0
    cover: tuple[float, float, float, float] | None = None
    lo: int = 0  # bounds on frames decoded out of SEEDS
    hi: int = SEEDS

    def frames(self) -> list[np.ndarray]:
        rng = np.random.default_rng(7)
        out = []
        for seed in range(SEEDS):
            jitter = rng.uniform(-20, 20, 2)
            centre = (FRAME_W / 2 + jitter[0], FRAME_H / 2 + jitter[1])
            p = Placement(self.text, centre, self.module_px, self.roll_deg, self.tilt_deg)
            out.append(render([p], seed=seed, blur_sigma_px=self.blur_sigma_px,
                              cover=self.cover))
        return out


GE, HC = COMPOUND_TEXT, DCC_TEXT
ALL = SEEDS
CASES = (
    Case("compound, phone at 0.25 m", GE, module_px_at(0.25, GE), lo=ALL),
    Case("compound, phone at 0.35 m", GE, module_px_at(0.35, GE), lo=ALL - 2),
    Case("compound, phone at 0.5 m (arm's length)", GE, module_px_at(0.5, GE), hi=0),
    Case("DCC, phone at 0.15 m", HC, module_px_at(0.15, HC), lo=ALL),
    Case("DCC, phone at 0.25 m", HC, module_px_at(0.25, HC), lo=2, hi=ALL),
    Case("DCC, phone at 0.5 m (arm's length)", HC, module_px_at(0.5, HC), hi=0),
    Case("upright, 3 px/module", HC, 3.0, lo=ALL),
    Case("roll +30 deg", HC, 3.0, roll_deg=30, lo=ALL),
    Case("roll -30 deg", HC, 3.0, roll_deg=-30, lo=ALL),
    Case("tilt +35 deg (out of plane)", HC, 3.0, tilt_deg=35, lo=ALL),
    Case("tilt -35 deg (out of plane)", HC, 3.0, tilt_deg=-35, lo=ALL),
    Case("roll 15 + tilt 35 + blur 0.7 px", HC, 3.0, 15, 35, 0.7, lo=ALL - 2),
    Case("small, 2.5 px/module", HC, 2.5, lo=ALL),
    Case("small, 2 px/module", HC, 2.0, lo=ALL - 2),
    Case("small, 1.5 px/module", HC, 1.5, lo=2, hi=ALL - 1),
    Case("small, 1.2 px/module", HC, 1.2, hi=0),
    Case("blur 0.7 px, 3 px/module", HC, 3.0, blur_sigma_px=0.7, lo=ALL),
    Case("blur 1.0 px, 3 px/module", HC, 3.0, blur_sigma_px=1.0, lo=ALL - 2),
    Case("blur 1.0 px, 2 px/module", HC, 2.0, blur_sigma_px=1.0, hi=2),
    Case("blur 1.5 px, 4 px/module", HC, 4.0, blur_sigma_px=1.5, lo=ALL - 2),
    Case("thumb over both left finder patterns", HC, 3.0, cover=(0, 0, 0.3, 1), hi=0),
    Case("thumb over the bottom-left finder", HC, 3.0, cover=(0, 0.7, 0.3, 1), hi=0),
    Case("thumb over the bottom-right 6 % of the code", HC, 3.0, cover=(0.75, 0.75, 1, 1),
         lo=ALL),
    Case("thumb over the bottom-right 12 % of the code", HC, 3.0, cover=(0.65, 0.65, 1, 1),
         lo=ALL - 2),
)
