"""Map a facial skin temperature to an estimated body (oral) temperature, per measurement site.

body_c = slope * skin_c + intercept_c + ambient_coef * (clamp(room_c) - AMBIENT_REF_C)

The gate measures one of two sites, and each has its own constants (`SITES`):

- "canthus" (RGB+thermal mode: the inner eye corners located through the colour camera)
- "face-max" (thermal-only mode: the hottest spot anywhere on the face). That spot is
  usually, but not always, the canthus; on the FDA data the whole-face maximum reads 0.26 degC
  (median) above the canthus maximum, so the canthus map would overstate it.

Where the constants come from: `python bench/fda_fit.py` on the FDA "Infrared Thermography
Temperature" set (PhysioNet, FLIR_groups1and2.csv, 1020 subjects), reference = aveOralM (oral,
monitor mode), reading = the site's FDA feature averaged over the rounds present, room = the
study's T_atm (20.2-29.1 degC, median 24.0). Model "calibration+ambient" for both: least
squares of skin on oral and room, then inverted.

- "canthus": feature canthiMax (maximum of the inner-canthus region);
  skin = 0.799026 * oral + 0.084740 * (room - 24) + 6.191076, so slope 1.251523,
  intercept -7.748275, ambient_coef -0.106054 (body degC per room degC).
  5-fold CV sensitivity/specificity: 0.801/0.858 at 37.3, 0.901/0.933 at 37.5 (MAE 0.310).
- "face-max": feature T_Max (maximum of the whole face);
  skin = 0.804932 * oral + 0.058889 * (room - 24) + 6.272656, so slope 1.242341,
  intercept -7.792776, ambient_coef -0.073160.
  5-fold CV sensitivity/specificity: 0.832/0.901 at 37.3, 0.901/0.954 at 37.5 (MAE 0.242).

Why the room term (docs/fever-threshold.md, "Room temperature"): skin reads 0.085 (canthus) /
0.059 (face maximum) degC higher per degC of room (t = 11.5 / 10.1). Without the term the map
read 0.15-0.24 degC low in FDA rooms below 23 degC and 0.21-0.25 degC high in rooms of 26 degC
and more; with it the bias is within 0.05 degC in every room band, and MAE, ROC area and
specificity improve at both sites. At the face maximum the nominal thresholds catch 1 of 111
(37.5) and 3 of 161 (37.3) fevers fewer, all lost in rooms of 25.7 degC and more, where the
room-blind map caught them by reading everyone high (there it raised 3x the false alarms). A
calibration against a thermometer (`screening.skin_offset_c`) is made at one room
temperature; the room term carries it across the day and the seasons.

Why not least squares of oral on skin: its slope 0.75 squeezes fevers toward the mean and, at
a 37.5 alarm, caught 72% of the 111 subjects with oral >= 37.5 (5-fold CV, canthus) against 89%
here (specificity 0.98 vs 0.93).

The room: the gate measures it in the thermal frame (the scene background, smoothed over a
minute; `edge.pipeline.base.RoomTemperature`); `screening.ambient_c` overrides it. It is
clamped to the FDA rooms, AMBIENT_MIN_C..AMBIENT_MAX_C: kiosks run up to 31 degC, and beyond
29 degC the map holds the 29 degC correction, which over-reads (at 31 degC by 0.21 canthus /
0.15 face-max degC body): the safe side, more alarms, never fewer. Unknown (None) means
AMBIENT_REF_C, i.e. no room correction. tests/core/test_bodytemp.py refits both sites and fails
if these constants drift from the data or lose fever sensitivity.

The camera reading must already be radiometrically corrected (blackbody reference) before it
comes here: this map only accounts for the skin-to-core gradient, not the camera's error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MODEL_NAME = "calibration+ambient"  # name in edge.evaluation.fda_fit.MODELS of the constants
AMBIENT_REF_C = 24.0  # median room temperature of the FDA data; the default when unknown
# The FDA rooms spanned 20.2-29.1 degC; the room term does not extrapolate beyond that.
AMBIENT_MIN_C = 20.0
AMBIENT_MAX_C = 29.0


@dataclass(frozen=True, slots=True)
class SiteMap:
    """body_c = slope * skin_c + intercept_c + ambient_coef * (room_c - AMBIENT_REF_C) for
    one measurement site (room_c clamped to AMBIENT_MIN_C..AMBIENT_MAX_C)."""

    feature: str  # the FDA column (rounds 1..4, averaged) the constants were fitted on
    slope: float  # degC body per degC skin; > 0 keeps the map strictly increasing
    intercept_c: float
    ambient_coef: float = 0.0  # degC body per degC room (< 0: a warm room warms the skin)


CANTHUS = "canthus"  # RGB+thermal: the inner canthi
FACE_MAX = "face-max"  # thermal-only: the hottest spot of the face
SITES: dict[str, SiteMap] = {
    CANTHUS: SiteMap(
        feature="canthiMax", slope=1.251523, intercept_c=-7.748275, ambient_coef=-0.106054
    ),
    FACE_MAX: SiteMap(
        feature="T_Max", slope=1.242341, intercept_c=-7.792776, ambient_coef=-0.073160
    ),
}
DEFAULT_SITE = CANTHUS


def site_map(site: str) -> SiteMap:
    """The constants of one site; ValueError naming the allowed sites for anything else."""
    try:
        return SITES[site]
    except (KeyError, TypeError):
        allowed = ", ".join(repr(s) for s in SITES)
        raise ValueError(f"unknown measurement site {site!r}; allowed: {allowed}") from None


def clamp_ambient_c(ambient_c: float | None) -> float:
    """The room temperature the map uses: clamped to the FDA rooms; None (or NaN) means
    AMBIENT_REF_C, no room correction."""
    if ambient_c is None or ambient_c != ambient_c:
        return AMBIENT_REF_C
    return min(max(float(ambient_c), AMBIENT_MIN_C), AMBIENT_MAX_C)


def _ambient_term_c(m: SiteMap, ambient_c: float | None) -> float:
    return m.ambient_coef * (clamp_ambient_c(ambient_c) - AMBIENT_REF_C)


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

    `ambient_c` is the room temperature if the gate knows it (clamped to 20-29 degC); None
    means AMBIENT_REF_C.
    `site` is "canthus" (RGB+thermal) or "face-max" (thermal-only); see SITES.
    """
    m = site_map(site)
    offset_c = m.intercept_c + _ambient_term_c(m, ambient_c)
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
    offset_c = m.intercept_c + _ambient_term_c(m, ambient_c)
    if isinstance(body_c, np.ndarray):
        return np.asarray((body_c.astype(np.float64) - offset_c) / m.slope, dtype=np.float64)
    return (float(body_c) - offset_c) / m.slope
