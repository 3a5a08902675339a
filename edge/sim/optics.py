"""Physics both simulators share: the thermal camera (sensor, optics, field of view) and the
face anatomy that places and sizes the inner-canthus hot spot. Nothing here borrows a pipeline
convention: the canthus comes from anthropometry, not from `edge.vision.geometry`.

A thermal frame is rendered as a focal-plane temperature field on a grid `supersample` times
finer than the sensor (sub-pixel k of sensor pixel i sits at i - 0.5 + (k + 0.5) / s, so
pixel centres stay the frames' pixel-centre coordinates), blurred with a Gaussian
point-spread function, and each sensor pixel is the area average of its s x s sub-pixels
(`to_sensor`). Sensor noise and quantisation to counts are added by the callers after that.

Each canthus is a 2-D Gaussian bump (`add_hotspots`) whose continuous peak is exactly the
labelled canthus temperature; the skin around it is `canthus excess` cooler. A one-pixel hot
spot therefore reaches the sensor spread over several pixels and reads lower in every one of
them: how much lower depends on its sigma, the PSF and where it falls on the pixel grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Sensor:
    width: int
    height: int
    hfov_deg: float  # horizontal field of view


# FLIR Lepton 3.5: 160x120, 57 deg HFOV (Lepton engineering datasheet 500-0659-00-09; a 50 deg
# lens exists too). InfiRay P2 Pro: 256x192, 56 x 42 deg. A 640x512 core (e.g. FLIR Boson 640)
# with a 50 deg lens.
SENSORS: dict[str, Sensor] = {
    "lepton": Sensor(160, 120, 57.0),
    "p2pro": Sensor(256, 192, 56.0),
    "640x512": Sensor(640, 512, 50.0),
}
# Face width that `face_px` counts, metres: head breadth / bizygomatic width of adults are
# ~14-16 cm (Farkas, Anthropometry of the Head and Face, 1994), so 15 cm.
FACE_WIDTH_M = 0.15
FACE_PX_RANGE = (8.0, 400.0)  # what `face_px` accepts (the sweep uses 12 to 60)

# Optics. A diffraction-limited f/1.1 lens at 10 um on 12 um pixels (the Lepton's) has an Airy
# pattern whose Gaussian approximation has sigma ~ 0.42 * lambda * N = 4.6 um = 0.39 px
# (Zhang, Zerubia & Olivo-Marin, Appl. Opt. 46(10), 2007); with aberrations and defocus over
# a gate's 1-2 m depth, about 0.5 px.
DEFAULT_PSF_SIGMA_PX = 0.5
# Hot-spot sigma in sensor pixels when the face is at its nearest (the dwell at the gate);
# it shrinks and grows with the face (a fixed physical size). 1 px on a Lepton with faces
# 30-40 px across 15 cm is ~4-5 mm, a hot region ~1 cm across at half maximum around the
# medial canthus; bench/sweep_skin.py sweeps 0.5 to 2 px. The default scenes (demo, tests)
# use 2 px, a well-resolved canthus (a closer camera or a finer sensor than these faces
# suggest), so they test the pipeline's plumbing and decisions without the optics' loss:
# at 1 px the lens and the pixel area alone take ~25 % of the canthus excess, at 0.5 px
# ~60 %, which only a site calibration restores (README, "What a site must calibrate").
DEFAULT_HOTSPOT_SIGMA_PX = 2.0
DEFAULT_SUPERSAMPLE = 4

# Canthus excess over the surrounding facial skin, degC, drawn per person: the FDA set
# (../shared/data/fda, 1020 subjects, rounds averaged) has canthiMax - T_FHCC (forehead centre)
# median 1.17, 10th-90th percentile 0.67-1.78 degC (the other forehead points agree within
# 0.1 degC), so uniform 0.7-1.8.
CANTHUS_EXCESS_C = (0.7, 1.8)
# The cooler of the two canthi, below the warmer: FDA |Max1R13 - Max1L13| (right vs left canthus
# maxima) median 0.18, 90th percentile 0.46 degC, so uniform 0-0.4.
OTHER_CANTHUS_BELOW_C = (0.0, 0.4)
# Inner canthus from the eye centres (pupils). Intercanthal distance en-en, mm: cohort means
# 31.2 (Middle Eastern) to 38.5 (African), SD 1.5-3.2 (systematic review of 67 studies,
# 22,638 people, Plast Reconstr Surg Glob Open 2022, PMC9029890); interpupillary distance:
# adult mean ~63 mm, most adults 50-75 mm (Dodgson, Proc. SPIE 5291, 2004). Drawn as
# N(mean, sd) clipped to (low, high). The canthus lies (IPD - ICD) / 2 from its pupil towards
# the other eye, i.e. a fraction (1 - ICD / IPD) / 2 of the eye-to-eye vector (the pipeline
# assumes 0.25; this gives 0.17-0.29).
INTERCANTHAL_MM = (33.5, 3.0, 27.0, 41.0)
INTERPUPILLARY_MM = (63.0, 3.5, 55.0, 71.0)
CANTHUS_OFFSET_PX = 1.0  # hot-spot centre vs the anatomical point: uniform in a disc this big


def face_px_at(distance_m: float, sensor_width_px: int, hfov_deg: float,
               face_m: float = FACE_WIDTH_M) -> float:
    """Face width in sensor pixels at `distance_m` (pinhole camera, face at the optical axis).

    Example: a Lepton (160 px, 57 deg) sees a 15 cm face at 1 m as 22.1 px wide."""
    if distance_m <= 0 or not 1.0 <= hfov_deg <= 170.0:
        raise ConfigError(f"synth: distance_m = {distance_m!r} / hfov_deg = {hfov_deg!r} "
                          "must be > 0 / within 1-170 degrees")
    span_m = 2.0 * distance_m * math.tan(math.radians(hfov_deg) / 2.0)
    return face_m / span_m * sensor_width_px


def check_optics(supersample: int, psf_sigma_px: float, hotspot_sigma_px: float,
                 hfov_deg: float) -> None:
    """ConfigError naming the first out-of-range optics parameter of a scene spec."""
    checks = [
        ("supersample", isinstance(supersample, int) and 1 <= supersample <= 8,
         "must be an integer from 1 to 8"),
        ("psf_sigma_px", 0.0 <= psf_sigma_px <= 5.0, "must be 0 (no blur) to 5 pixels"),
        ("hotspot_sigma_px", 0.2 <= hotspot_sigma_px <= 10.0, "must be 0.2 to 10 pixels"),
        ("hfov_deg", 1.0 <= hfov_deg <= 170.0, "must be 1 to 170 degrees"),
    ]
    values = {"supersample": supersample, "psf_sigma_px": psf_sigma_px,
              "hotspot_sigma_px": hotspot_sigma_px, "hfov_deg": hfov_deg}
    for name, ok, why in checks:
        if not ok:
            raise ConfigError(f"synth: {name} = {values[name]!r} {why}")


def resolve_face_px(face_px: float | None, distance_m: float | None, width: int,
                    hfov_deg: float) -> float | None:
    """The near face width a spec asks for (given directly or by distance), checked."""
    if face_px is not None and distance_m is not None:
        raise ConfigError("synth: give face_px or distance_m, not both")
    if distance_m is not None:
        if not 0.1 <= distance_m <= 20.0:
            raise ConfigError(f"synth: distance_m = {distance_m!r} must be 0.1 to 20 metres")
        face_px = face_px_at(distance_m, width, hfov_deg)
    if face_px is not None and not FACE_PX_RANGE[0] <= face_px <= FACE_PX_RANGE[1]:
        raise ConfigError(f"synth: face_px = {face_px:.3g} must be {FACE_PX_RANGE[0]:g} to "
                          f"{FACE_PX_RANGE[1]:g} sensor pixels (distance_m gives the face width "
                          "through hfov_deg)")
    return face_px


def sub_coords(n_px: int, s: int) -> F32:
    """Sensor-pixel coordinates of the n_px * s sub-pixel centres along one axis."""
    return np.asarray((np.arange(n_px * s, dtype=np.float64) + 0.5) / s - 0.5, np.float32)


def sub_range(lo: float, hi: float, n_px: int, s: int) -> tuple[int, int]:
    """Sub-pixel index range [a, b) whose centres lie within [lo, hi] sensor px (clipped)."""
    a = max(0, math.ceil((lo + 0.5) * s - 0.5))
    b = min(n_px * s, math.floor((hi + 0.5) * s - 0.5) + 1)
    return a, max(a, b)


def to_sensor(field: F32, s: int, psf_sigma_px: float, out: F32) -> None:
    """Blur the (H*s, W*s) focal-plane field with the Gaussian PSF and area-average each
    s x s block into `out` (H, W). The scene continues past the frame edge (replicated)."""
    blurred = field
    if psf_sigma_px > 0:
        blurred = np.asarray(cv2.GaussianBlur(field, (0, 0), sigmaX=psf_sigma_px * s,
                                              borderType=cv2.BORDER_REPLICATE), np.float32)
    if s == 1:
        np.copyto(out, blurred)
    else:
        cv2.resize(blurred, (out.shape[1], out.shape[0]), dst=out,
                   interpolation=cv2.INTER_AREA)  # an exact block mean for an integer factor


def add_hotspots(region: F32, xs: F32, ys: F32,
                 spots: list[tuple[float, float, float, float]]) -> None:
    """Raise `region` (sub-pixel temperatures at xs (1, n), ys (m, 1)) towards each spot
    (x, y, sigma_px, peak_c) with a Gaussian weight: T = T0 + max(0, max_i (peak_i - T0) G_i).
    At a spot's centre T is exactly its peak, and nowhere above the hottest peak."""
    lift = np.zeros_like(region)
    for x, y, sigma, peak in spots:
        g = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / np.float32(2.0 * sigma * sigma))
        np.maximum(lift, (np.float32(peak) - region) * g, out=lift)
    region += lift


def reference_radius_px(w: int, h: int, psf_sigma_px: float) -> float:
    """Blackbody disc radius around an ROI of w x h pixels: 0.75 of its longer side, and big
    enough that the blur carries no background into the ROI (3 PSF sigmas past its corners),
    so the ROI mean stays the disc temperature."""
    return max(0.75 * max(w, h), 0.5 * math.hypot(w, h) + 3.0 * psf_sigma_px)


@dataclass(frozen=True)
class CanthusAnatomy:
    """One person's canthus hot spots, fixed for the recording."""

    fraction: float  # of the eye-to-eye vector, from each eye centre towards the other
    offsets: tuple[tuple[float, float], tuple[float, float]]  # (dx, dy) in near-face px
    below_c: tuple[float, float]  # each canthus's peak below the person's skin_c (one is 0)


def draw_anatomy(rng: np.random.Generator) -> CanthusAnatomy:
    icd = float(np.clip(rng.normal(*INTERCANTHAL_MM[:2]), *INTERCANTHAL_MM[2:]))
    ipd = float(np.clip(rng.normal(*INTERPUPILLARY_MM[:2]), *INTERPUPILLARY_MM[2:]))
    radius = CANTHUS_OFFSET_PX * np.sqrt(rng.uniform(size=2))
    angle = rng.uniform(0.0, 2.0 * math.pi, size=2)
    offsets = tuple((float(r * math.cos(a)), float(r * math.sin(a)))
                    for r, a in zip(radius, angle, strict=True))
    drop = float(rng.uniform(*OTHER_CANTHUS_BELOW_C))
    cooler = int(rng.integers(2))
    below = (drop, 0.0) if cooler == 0 else (0.0, drop)
    return CanthusAnatomy((1.0 - icd / ipd) / 2.0, (offsets[0], offsets[1]), below)
