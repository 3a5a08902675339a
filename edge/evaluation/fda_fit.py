"""Fit and score skin-to-body temperature maps on the FDA facial-IR data (numpy + csv only).

Shared by `bench/fda_fit.py` (prints the table) and `tests/test_bodytemp.py` (checks that the
constants in `edge.core.bodytemp` still match a refit), so the fitting logic exists once. Nothing
here runs on the gate; it is imported only by the bench script and the tests.

Every model has the form  body = slope * skin + intercept + ambient_coef * (ambient - ref),
which is what `edge.core.bodytemp` evaluates at runtime. Each measurement site in
`edge.core.bodytemp.SITES` names the FDA feature its constants are fitted on; `load_site` reads it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.core.bodytemp import DEFAULT_SITE, SITES, site_map

FloatArray = npt.NDArray[np.float64]

ROUNDS = 4
# The gate reads the inner canthus (RGB+thermal: canthiMax, the canthus maximum) or the hottest
# 3x3 patch of the face (thermal-only: T_Max, the whole-face maximum); edge.core.bodytemp.SITES
# holds the pairing, so the fit and the runtime constants cannot disagree about the feature.
SITE_FEATURES: dict[str, str] = {site: m.feature for site, m in SITES.items()}
SKIN_FEATURE = SITE_FEATURES[DEFAULT_SITE]
# Monitor mode waits for the thermometer to settle, so it is the better reference for body
# temperature; fast mode is a predicted value and is noisier against every IR feature.
ORAL_REFERENCE = "aveOralM"
ORAL_SECONDARY = "aveOralF"
FEVER_THRESHOLDS_C: tuple[float, ...] = (37.3, 37.5)
CV_FOLDS = 5
CV_SEED = 20201  # fixed so the printed table and the test agree run to run


@dataclass(frozen=True, slots=True)
class FdaData:
    """One row per subject. `skin_rounds_c` is (n, 4) with NaN where a round is missing."""

    subject_ids: tuple[str, ...]
    skin_rounds_c: FloatArray
    oral_monitor_c: FloatArray
    oral_fast_c: FloatArray
    ambient_c: FloatArray

    @property
    def skin_mean_c(self) -> FloatArray:
        """Mean of the available rounds: repeated captures of one subject, like a gate's frames."""
        return np.asarray(np.nanmean(self.skin_rounds_c, axis=1), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class LinearMap:
    """body_c = slope * skin_c + intercept_c + ambient_coef * (ambient_c - ambient_ref_c)."""

    slope: float
    intercept_c: float
    ambient_coef: float = 0.0
    ambient_ref_c: float = 24.0

    def predict(self, skin_c: FloatArray, ambient_c: FloatArray | None = None) -> FloatArray:
        ambient_term = (
            0.0 if ambient_c is None else self.ambient_coef * (ambient_c - self.ambient_ref_c)
        )
        return np.asarray(self.slope * skin_c + self.intercept_c + ambient_term, np.float64)


FitFn = Callable[[FloatArray, FloatArray, FloatArray, float], LinearMap]


def load_fda(path: Path, feature: str = SKIN_FEATURE) -> FdaData:
    """Read FLIR_groups1and2.csv: two banner rows, then the column names, then one subject/row.

    Subjects with no round of `feature` or no oral/ambient value are dropped (none are, in the
    published file, for canthiMax or T_Max).
    """
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 4:
        raise ValueError(f"{path}: expected 3 header rows and data, got {len(rows)} rows")
    names = rows[2]
    wanted = [f"{feature}{r}" for r in range(1, ROUNDS + 1)]
    wanted += [ORAL_REFERENCE, ORAL_SECONDARY, "T_atm"]
    missing = [n for n in wanted if n not in names]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    index = {n: names.index(n) for n in wanted}
    id_col = names.index("SubjectID")

    def num(row: Sequence[str], name: str) -> float:
        text = row[index[name]].strip() if index[name] < len(row) else ""
        try:
            return float(text)
        except ValueError:
            return float("nan")

    body = [r for r in rows[3:] if r and r[id_col].strip()]
    skin = np.array([[num(r, n) for n in wanted[:ROUNDS]] for r in body], dtype=np.float64)
    extra = np.array([[num(r, n) for n in wanted[ROUNDS:]] for r in body], dtype=np.float64)
    keep = (~np.all(np.isnan(skin), axis=1)) & (~np.any(np.isnan(extra), axis=1))
    return FdaData(
        subject_ids=tuple(r[id_col].strip() for r, k in zip(body, keep, strict=True) if k),
        skin_rounds_c=skin[keep],
        oral_monitor_c=extra[keep, 0],
        oral_fast_c=extra[keep, 1],
        ambient_c=extra[keep, 2],
    )


def load_site(path: Path, site: str) -> FdaData:
    """The FDA data read at one measurement site's feature (ValueError for an unknown site)."""
    return load_fda(path, site_map(site).feature)


# --- candidate models -------------------------------------------------------------------------
# Each takes (skin_c, ambient_c, oral_c, ambient_ref_c) and returns a LinearMap.


def fit_offset(skin: FloatArray, amb: FloatArray, oral: FloatArray, ref: float) -> LinearMap:
    """Slope 1: the skin reading keeps its spread; the median is robust to the febrile tail."""
    return LinearMap(1.0, float(np.median(oral - skin)), 0.0, ref)


def fit_ols(skin: FloatArray, amb: FloatArray, oral: FloatArray, ref: float) -> LinearMap:
    """Least squares of oral on skin: best MAE, but slope < 1 pulls fevers toward the mean."""
    slope, intercept = np.polyfit(skin, oral, 1)
    return LinearMap(float(slope), float(intercept), 0.0, ref)


def fit_orthogonal(skin: FloatArray, amb: FloatArray, oral: FloatArray, ref: float) -> LinearMap:
    """Deming regression with equal error variances (total least squares)."""
    cov = np.cov(skin, oral)
    sxx, syy, sxy = cov[0, 0], cov[1, 1], cov[0, 1]
    slope = (syy - sxx + np.sqrt((syy - sxx) ** 2 + 4.0 * sxy**2)) / (2.0 * sxy)
    intercept = np.mean(oral) - slope * np.mean(skin)
    return LinearMap(float(slope), float(intercept), 0.0, ref)


def fit_calibration(skin: FloatArray, amb: FloatArray, oral: FloatArray, ref: float) -> LinearMap:
    """Classical calibration: regress skin on oral (skin = c*oral + d) and invert.

    This is the generative direction (body temperature drives skin temperature; the camera
    adds noise to skin), so its inverse is what the scene simulator should paint, and a person
    whose oral temperature is exactly T reads, on median, as T. Slope > 1 expands the range.
    """
    c, d = np.polyfit(oral, skin, 1)
    return LinearMap(float(1.0 / c), float(-d / c), 0.0, ref)


def fit_offset_ambient(
    skin: FloatArray, amb: FloatArray, oral: FloatArray, ref: float
) -> LinearMap:
    """Slope 1 on skin, least-squares offset that depends linearly on ambient."""
    design = np.column_stack([amb - ref, np.ones_like(skin)])
    (coef, intercept), *_ = np.linalg.lstsq(design, oral - skin, rcond=None)
    return LinearMap(1.0, float(intercept), float(coef), ref)


def fit_ols_ambient(skin: FloatArray, amb: FloatArray, oral: FloatArray, ref: float) -> LinearMap:
    design = np.column_stack([skin, amb - ref, np.ones_like(skin)])
    (slope, coef, intercept), *_ = np.linalg.lstsq(design, oral, rcond=None)
    return LinearMap(float(slope), float(intercept), float(coef), ref)


def fit_calibration_ambient(
    skin: FloatArray, amb: FloatArray, oral: FloatArray, ref: float
) -> LinearMap:
    """Calibration direction with ambient: skin = c*oral + e*(amb - ref) + d, inverted."""
    design = np.column_stack([oral, amb - ref, np.ones_like(skin)])
    (c, e, d), *_ = np.linalg.lstsq(design, skin, rcond=None)
    return LinearMap(float(1.0 / c), float(-d / c), float(-e / c), ref)


MODELS: dict[str, FitFn] = {
    "offset": fit_offset,
    "ols": fit_ols,
    "orthogonal": fit_orthogonal,
    "calibration": fit_calibration,
    "offset+ambient": fit_offset_ambient,
    "ols+ambient": fit_ols_ambient,
    "calibration+ambient": fit_calibration_ambient,
}


def fit_model(name: str, data: FdaData, oral_c: FloatArray | None = None) -> LinearMap:
    """Fit on all subjects, with the data's median ambient as the runtime default."""
    oral = data.oral_monitor_c if oral_c is None else oral_c
    ref = float(np.median(data.ambient_c))
    return MODELS[name](data.skin_mean_c, data.ambient_c, oral, ref)


def cross_val_predict(
    name: str,
    data: FdaData,
    skin_eval_c: FloatArray | None = None,
    folds: int = CV_FOLDS,
    seed: int = CV_SEED,
) -> FloatArray:
    """Out-of-fold estimates: fit on round means of k-1 folds, predict the held-out fold.

    `skin_eval_c` lets the held-out fold be scored on a different reading (e.g. one round,
    as a single gate pass would see) than the round mean the model was fitted on.
    """
    skin_fit = data.skin_mean_c
    skin_eval = skin_fit if skin_eval_c is None else skin_eval_c
    oral = data.oral_monitor_c
    n = skin_fit.shape[0]
    order = np.random.default_rng(seed).permutation(n)
    out = np.full(n, np.nan)
    for test in np.array_split(order, folds):
        train = np.setdiff1d(order, test)
        ref = float(np.median(data.ambient_c[train]))
        model = MODELS[name](skin_fit[train], data.ambient_c[train], oral[train], ref)
        out[test] = model.predict(skin_eval[test], data.ambient_c[test])
    return out


# --- scoring -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Screening:
    threshold_c: float
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def sensitivity(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def specificity(self) -> float:
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else float("nan")


def screening(
    est_c: FloatArray, oral_c: FloatArray, fever_c: float, alarm_c: float | None = None
) -> Screening:
    """Fever is oral >= fever_c; the gate alarms when its estimate >= alarm_c (default fever_c)."""
    alarm = fever_c if alarm_c is None else alarm_c
    ok = ~np.isnan(est_c)
    fever = oral_c[ok] >= fever_c
    alarm_on = est_c[ok] >= alarm
    return Screening(
        threshold_c=alarm,
        tp=int(np.sum(fever & alarm_on)),
        fp=int(np.sum(~fever & alarm_on)),
        fn=int(np.sum(fever & ~alarm_on)),
        tn=int(np.sum(~fever & ~alarm_on)),
    )


def alarm_for_sensitivity(
    est_c: FloatArray, oral_c: FloatArray, fever_c: float, target: float = 0.90
) -> float:
    """Highest alarm threshold on the estimate whose sensitivity is still >= target."""
    ok = ~np.isnan(est_c)
    febrile = np.sort(est_c[ok][oral_c[ok] >= fever_c])
    if febrile.size == 0:
        raise ValueError(f"no subject with oral >= {fever_c}")
    # Alarming at the k-th lowest febrile estimate catches all febrile subjects from k upward.
    allowed_misses = int(np.floor((1.0 - target) * febrile.size + 1e-9))
    return float(febrile[allowed_misses])


def mae_rmse(est_c: FloatArray, oral_c: FloatArray) -> tuple[float, float]:
    err = est_c - oral_c
    err = err[~np.isnan(err)]
    return float(np.mean(np.abs(err))), float(np.sqrt(np.mean(err**2)))


def roc_auc(est_c: FloatArray, oral_c: FloatArray, fever_c: float) -> float:
    """Area under the ROC curve of the estimate for fever = oral >= fever_c: how well the
    estimate ranks febrile above afebrile subjects, whatever the alarm setting."""
    ok = ~np.isnan(est_c)
    pos, neg = est_c[ok][oral_c[ok] >= fever_c], est_c[ok][oral_c[ok] < fever_c]
    greater = np.sum(pos[:, None] > neg[None, :]) + 0.5 * np.sum(pos[:, None] == neg[None, :])
    return float(greater / (pos.size * neg.size))


ROOM_BANDS_C: tuple[tuple[float, float], ...] = ((0.0, 23.0), (23.0, 25.0), (25.0, 26.0),
                                                 (26.0, 99.0))


def bias_by_room(
    est_c: FloatArray, data: FdaData, bands: Sequence[tuple[float, float]] = ROOM_BANDS_C
) -> list[tuple[float, float, int, float]]:
    """(low, high, subjects, mean estimate - oral) per room band [low, high) of T_atm."""
    out = []
    for lo, hi in bands:
        m = (data.ambient_c >= lo) & (data.ambient_c < hi)
        out.append((lo, hi, int(m.sum()), float(np.mean(est_c[m] - data.oral_monitor_c[m]))))
    return out


@dataclass(frozen=True, slots=True)
class RepeatedCv:
    """Means over CV seeds: MAE and (sensitivity, specificity) per FEVER_THRESHOLDS_C."""

    seeds: int
    mae_c: float
    sens_spec: tuple[tuple[float, float], ...]


def repeated_cv(name: str, data: FdaData, seeds: int = 20) -> RepeatedCv:
    """5-fold CV repeated over `seeds` fold splits: a model's scores without the luck of one
    split (one subject more or less is 0.009 of the 111 fevers >= 37.5)."""
    mae, scores = [], []
    for seed in range(seeds):
        est = cross_val_predict(name, data, seed=CV_SEED + seed)
        mae.append(mae_rmse(est, data.oral_monitor_c)[0])
        row = [screening(est, data.oral_monitor_c, t) for t in FEVER_THRESHOLDS_C]
        scores.append([(s.sensitivity, s.specificity) for s in row])
    mean = np.mean(np.asarray(scores), axis=0)
    return RepeatedCv(
        seeds, float(np.mean(mae)), tuple((float(a), float(b)) for a, b in mean)
    )
