"""Map a facial skin (inner canthus) temperature to an estimated body (oral) temperature.

body_c = SLOPE * skin_c + INTERCEPT_C + AMBIENT_COEF * (ambient_c - AMBIENT_REF_C)

Where the constants come from: `python bench/fda_fit.py` on the FDA "Infrared Thermography
Temperature" set (PhysioNet, FLIR_groups1and2.csv, 1020 subjects), reading = canthiMax averaged
over the rounds present, reference = aveOralM (oral, monitor mode). Model "calibration":
least squares of skin on oral, skin = 0.820955 * oral + 5.388873, inverted, so SLOPE 1.218094
and INTERCEPT_C -6.564152. It maps the median reading (35.71) to the median oral (36.94);
alarms at 37.3 / 37.5 body correspond to canthus 36.01 / 36.17 degC.

Why not least squares of oral on skin: its slope 0.75 squeezes fevers toward the mean and, at
a 37.5 alarm, caught 72% of the 111 subjects with oral >= 37.5 (5-fold CV) against 89% here
(specificity 0.98 vs 0.93). Ambient as a second regressor moved sensitivity/specificity by
<= 3 points in the FDA rooms (20-29 degC), and a gate's air sensor does not measure what a face
arriving from outdoors has equilibrated with, so AMBIENT_COEF is 0; the argument stays so that
switching to "calibration+ambient" needs no API change. tests/test_bodytemp.py refits and
fails if these constants drift from the data or lose fever sensitivity.

The camera reading must already be radiometrically corrected (blackbody reference) before it
comes here: this map only accounts for the skin-to-core gradient, not the camera's error.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MODEL_NAME = "calibration"  # name in edge.bodytemp_fit.MODELS that produced the constants
SLOPE = 1.218094  # degC body per degC skin; > 0 keeps the map strictly increasing
INTERCEPT_C = -6.564152
AMBIENT_COEF = 0.0  # degC body per degC ambient; see module docstring for why it is off
AMBIENT_REF_C = 24.0  # median room temperature of the FDA data; the default when unknown
# The FDA rooms spanned 20.2-29.1 degC; an ambient term must not extrapolate beyond that.
AMBIENT_MIN_C = 20.0
AMBIENT_MAX_C = 29.0


def _ambient_term_c(ambient_c: float | None) -> float:
    if ambient_c is None:
        return 0.0
    ambient = min(max(float(ambient_c), AMBIENT_MIN_C), AMBIENT_MAX_C)
    return AMBIENT_COEF * (ambient - AMBIENT_REF_C)


@overload
def body_from_skin_c(skin_c: float, ambient_c: float | None = None) -> float: ...
@overload
def body_from_skin_c(skin_c: FloatArray, ambient_c: float | None = None) -> FloatArray: ...
def body_from_skin_c(
    skin_c: float | FloatArray, ambient_c: float | None = None
) -> float | FloatArray:
    """Estimated oral temperature for a corrected canthus reading; NaN passes through.

    `ambient_c` is the room air temperature if the gate knows it; None means AMBIENT_REF_C.
    """
    offset_c = INTERCEPT_C + _ambient_term_c(ambient_c)
    if isinstance(skin_c, np.ndarray):
        return np.asarray(SLOPE * skin_c.astype(np.float64) + offset_c, dtype=np.float64)
    return SLOPE * float(skin_c) + offset_c


@overload
def skin_from_body_c(body_c: float, ambient_c: float | None = None) -> float: ...
@overload
def skin_from_body_c(body_c: FloatArray, ambient_c: float | None = None) -> FloatArray: ...
def skin_from_body_c(
    body_c: float | FloatArray, ambient_c: float | None = None
) -> float | FloatArray:
    """Exact inverse of body_from_skin_c: the canthus temperature a simulator should paint.

    Because the model was fitted in this direction (skin on oral), this is also the median
    canthus reading of a person whose oral temperature is `body_c`.
    """
    offset_c = INTERCEPT_C + _ambient_term_c(ambient_c)
    if isinstance(body_c, np.ndarray):
        return np.asarray((body_c.astype(np.float64) - offset_c) / SLOPE, dtype=np.float64)
    return (float(body_c) - offset_c) / SLOPE
