"""Map a facial skin temperature to an estimated body (oral) temperature, per measurement site.

body_c = slope * skin_c + intercept_c + AMBIENT_COEF * (ambient_c - AMBIENT_REF_C)

The gate measures one of two sites, and each has its own constants (`SITES`):

- "canthus" (RGB+thermal mode: the inner eye corners located through the colour camera)
- "face-max" (thermal-only mode: the hottest 3x3 local mean anywhere on the face). That spot is
  usually, but not always, the canthus; on the FDA data the whole-face maximum reads 0.26 degC
  (median) above the canthus maximum, so the canthus map would overstate it.

Where the constants come from: `python bench/fda_fit.py` on the FDA "Infrared Thermography
Temperature" set (PhysioNet, FLIR_groups1and2.csv, 1020 subjects), reference = aveOralM (oral,
monitor mode), reading = the site's FDA feature averaged over the rounds present. Model
"calibration" for both: least squares of skin on oral, then inverted.

- "canthus": feature canthiMax (maximum of the inner-canthus region);
  skin = 0.820955 * oral + 5.388873, so slope 1.218094, intercept -6.564152. Median reading
  35.71 -> median oral 36.94; alarms at 37.3 / 37.5 body fire at a canthus of 36.01 / 36.17.
  5-fold CV sensitivity/specificity: 0.776/0.832 at 37.3, 0.892/0.928 at 37.5.
- "face-max": feature T_Max (maximum of the whole face);
  skin = 0.820171 * oral + 5.715176, so slope 1.219258, intercept -6.968273. Median reading
  36.03 -> 36.96; alarms at 37.3 / 37.5 body fire at a face maximum of 36.31 / 36.47.
  5-fold CV sensitivity/specificity: 0.851/0.888 at 37.3, 0.910/0.952 at 37.5.

Why not least squares of oral on skin: its slope 0.75 squeezes fevers toward the mean and, at
a 37.5 alarm, caught 72% of the 111 subjects with oral >= 37.5 (5-fold CV, canthus) against 89%
here (specificity 0.98 vs 0.93). Ambient as a second regressor moved sensitivity/specificity
by <= 3 points in the FDA rooms (20-29 degC), and a gate's air sensor does not measure what a
face arriving from outdoors has equilibrated with, so AMBIENT_COEF is 0 for every site; the
argument stays so that switching to "calibration+ambient" needs no API change.
tests/test_bodytemp.py refits both sites and fails if these constants drift from the data or
lose fever sensitivity.

The camera reading must already be radiometrically corrected (blackbody reference) before it
comes here: this map only accounts for the skin-to-core gradient, not the camera's error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MODEL_NAME = "calibration"  # name in edge.evaluation.fda_fit.MODELS that produced the constants
AMBIENT_COEF = 0.0  # degC body per degC ambient; see module docstring for why it is off
AMBIENT_REF_C = 24.0  # median room temperature of the FDA data; the default when unknown
# The FDA rooms spanned 20.2-29.1 degC; an ambient term must not extrapolate beyond that.
AMBIENT_MIN_C = 20.0
AMBIENT_MAX_C = 29.0


@dataclass(frozen=True, slots=True)
class SiteMap:
    """body_c = slope * skin_c + intercept_c (+ the ambient term) for one measurement site."""

    feature: str  # the FDA column (rounds 1..4, averaged) the constants were fitted on
    slope: float  # degC body per degC skin; > 0 keeps the map strictly increasing
    intercept_c: float


CANTHUS = "canthus"  # RGB+thermal: the inner canthi
FACE_MAX = "face-max"  # thermal-only: the hottest 3x3 patch of the face
SITES: dict[str, SiteMap] = {
    CANTHUS: SiteMap(feature="canthiMax", slope=1.218094, intercept_c=-6.564152),
    FACE_MAX: SiteMap(feature="T_Max", slope=1.219258, intercept_c=-6.968273),
}
DEFAULT_SITE = CANTHUS


def site_map(site: str) -> SiteMap:
    """The constants of one site; ValueError naming the allowed sites for anything else."""
    try:
        return SITES[site]
    except (KeyError, TypeError):
        allowed = ", ".join(repr(s) for s in SITES)
        raise ValueError(f"unknown measurement site {site!r}; allowed: {allowed}") from None


def _ambient_term_c(ambient_c: float | None) -> float:
    if ambient_c is None:
        return 0.0
    ambient = min(max(float(ambient_c), AMBIENT_MIN_C), AMBIENT_MAX_C)
    return AMBIENT_COEF * (ambient - AMBIENT_REF_C)


@overload
def body_from_skin_c(
    skin_c: float, ambient_c: float | None = None, site: str = DEFAULT_SITE
) -> float: ...
@overload
def body_from_skin_c(
    skin_c: FloatArray, ambient_c: float | None = None, site: str = DEFAULT_SITE
) -> FloatArray: ...
def body_from_skin_c(
    skin_c: float | FloatArray, ambient_c: float | None = None, site: str = DEFAULT_SITE
) -> float | FloatArray:
    """Estimated oral temperature for a corrected reading at `site`; NaN passes through.

    `ambient_c` is the room air temperature if the gate knows it; None means AMBIENT_REF_C.
    `site` is "canthus" (RGB+thermal) or "face-max" (thermal-only); see SITES.
    """
    m = site_map(site)
    offset_c = m.intercept_c + _ambient_term_c(ambient_c)
    if isinstance(skin_c, np.ndarray):
        return np.asarray(m.slope * skin_c.astype(np.float64) + offset_c, dtype=np.float64)
    return m.slope * float(skin_c) + offset_c


@overload
def skin_from_body_c(
    body_c: float, ambient_c: float | None = None, site: str = DEFAULT_SITE
) -> float: ...
@overload
def skin_from_body_c(
    body_c: FloatArray, ambient_c: float | None = None, site: str = DEFAULT_SITE
) -> FloatArray: ...
def skin_from_body_c(
    body_c: float | FloatArray, ambient_c: float | None = None, site: str = DEFAULT_SITE
) -> float | FloatArray:
    """Exact inverse of body_from_skin_c at the same site: what a simulator should paint there.

    Because each model was fitted in this direction (skin on oral), this is also the median
    reading at `site` of a person whose oral temperature is `body_c`.
    """
    m = site_map(site)
    offset_c = m.intercept_c + _ambient_term_c(ambient_c)
    if isinstance(body_c, np.ndarray):
        return np.asarray((body_c.astype(np.float64) - offset_c) / m.slope, dtype=np.float64)
    return (float(body_c) - offset_c) / m.slope
