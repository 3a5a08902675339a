"""Fit and cross-validate skin->body temperature maps on the FDA facial-IR data.

    python bench/fda_fit.py [path/to/FLIR_groups1and2.csv]

Default path: <repo>/../shared/data/fda/FLIR_groups1and2.csv. Prints the fitted constants,
5-fold cross-validated MAE/RMSE against both oral modes, and screening counts at 37.3 and
37.5 degC. The fitting code lives in edge/bodytemp_fit.py so the tests use the same code.
Results are summarised in docs/fever-threshold.md; rerun this after changing a model.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Run as a plain script (sys.path[0] is bench/), so make the `edge` package importable.
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from edge import bodytemp  # noqa: E402
from edge.bodytemp_fit import (  # noqa: E402
    FEVER_THRESHOLDS_C,
    MODELS,
    ORAL_REFERENCE,
    ORAL_SECONDARY,
    SKIN_FEATURE,
    FdaData,
    alarm_for_sensitivity,
    cross_val_predict,
    fit_model,
    load_fda,
    mae_rmse,
    screening,
)

DEFAULT_CSV = REPO.parent / "shared" / "data" / "fda" / "FLIR_groups1and2.csv"
SENSITIVITY_TARGET = 0.90
ALARM_SETTINGS_C = (37.0, 37.1, 37.2, 37.3, 37.4, 37.5)
# canthus max (ours), mean of its 4 hottest pixels, right-canthus 13-px circle, whole-face max
FEATURES = ("canthiMax", "canthi4Max", "Max1R13_", "T_Max")


def _screening_rows(label: str, est_c: np.ndarray, data: FdaData) -> None:
    oral = data.oral_monitor_c
    cells = []
    for fever_c in FEVER_THRESHOLDS_C:
        s = screening(est_c, oral, fever_c)
        cells.append(
            f"{s.sensitivity:5.3f} {s.specificity:5.3f} {s.tp:4d} {s.fp:4d} {s.fn:4d} {s.tn:4d}"
        )
    print(f"{label:<22} " + " | ".join(cells))


def _alarm_rows(label: str, est_c: np.ndarray, data: FdaData) -> None:
    oral = data.oral_monitor_c
    cells = []
    for fever_c in FEVER_THRESHOLDS_C:
        alarm_c = alarm_for_sensitivity(est_c, oral, fever_c, SENSITIVITY_TARGET)
        s = screening(est_c, oral, fever_c, alarm_c)
        cells.append(f"{alarm_c:6.2f} {s.sensitivity:5.3f} {s.specificity:5.3f} {s.fp:4d}")
    print(f"{label:<22} " + " | ".join(cells))


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_CSV
    if not path.is_file():
        print(f"fda_fit: no such file: {path}", file=sys.stderr)
        return 2
    data = load_fda(path)
    n = data.skin_mean_c.size
    print(f"data: {path}")
    print(
        f"subjects: {n}; reading = mean of {SKIN_FEATURE}1..4 (rounds present); "
        f"reference = {ORAL_REFERENCE} (monitor mode)"
    )
    for fever_c in FEVER_THRESHOLDS_C:
        print(
            f"  oral >= {fever_c}: {int(np.sum(data.oral_monitor_c >= fever_c))} "
            f"({ORAL_REFERENCE}), {int(np.sum(data.oral_fast_c >= fever_c))} ({ORAL_SECONDARY})"
        )
    amb = data.ambient_c
    print(f"  ambient degC: min {amb.min():.1f} median {np.median(amb):.1f} max {amb.max():.1f}")

    print("\nfitted on all subjects: body = slope*skin + intercept + amb_coef*(ambient - ref)")
    print(f"{'model':<22} {'slope':>7} {'intercept':>9} {'amb_coef':>8} {'ref':>5}")
    for name in MODELS:
        m = fit_model(name, data)
        print(
            f"{name:<22} {m.slope:7.4f} {m.intercept_c:9.4f} {m.ambient_coef:8.4f} "
            f"{m.ambient_ref_c:5.1f}"
        )
    print(
        f"{'edge.bodytemp':<22} {bodytemp.SLOPE:7.4f} {bodytemp.INTERCEPT_C:9.4f} "
        f"{bodytemp.AMBIENT_COEF:8.4f} {bodytemp.AMBIENT_REF_C:5.1f}  (committed)"
    )

    oof = {name: cross_val_predict(name, data) for name in MODELS}
    print("\n5-fold CV, estimate vs oral (degC)")
    print(f"{'model':<22} {'MAE_M':>6} {'RMSE_M':>6} {'MAE_F':>6} {'RMSE_F':>6} {'bias_M':>6}")
    for name, est in oof.items():
        mae_m, rmse_m = mae_rmse(est, data.oral_monitor_c)
        mae_f, rmse_f = mae_rmse(est, data.oral_fast_c)
        bias = float(np.mean(est - data.oral_monitor_c))
        print(f"{name:<22} {mae_m:6.3f} {rmse_m:6.3f} {mae_f:6.3f} {rmse_f:6.3f} {bias:+6.3f}")

    screen_head = " | ".join(f"@{t}: sens  spec   TP   FP   FN   TN" for t in FEVER_THRESHOLDS_C)
    print(f"\n5-fold CV screening, fever = {ORAL_REFERENCE} >= T, alarm = estimate >= T")
    print(f"{'model':<22} {screen_head}")
    for name, est in oof.items():
        _screening_rows(name, est, data)

    # One gate pass is one capture, not a 4-round mean: score held-out folds on round 1 only.
    round1 = data.skin_rounds_c[:, 0]
    print(
        f"\nsame, held-out folds scored on a single round ({SKIN_FEATURE}1, "
        f"{int(np.sum(~np.isnan(round1)))} subjects)"
    )
    print(f"{'model':<22} {screen_head}")
    for name in MODELS:
        _screening_rows(name, cross_val_predict(name, data, skin_eval_c=round1), data)

    alarm_head = " | ".join(f"@{t}: alarm  sens  spec   FP" for t in FEVER_THRESHOLDS_C)
    print(
        f"\nalarm threshold on the CV estimate for >= {SENSITIVITY_TARGET:.0%} sensitivity "
        "(chosen on the pooled out-of-fold estimates)"
    )
    print(f"{'model':<22} {alarm_head}")
    for name, est in oof.items():
        _alarm_rows(name, est, data)

    chosen = bodytemp.MODEL_NAME
    est = oof[chosen]
    print(f"\nalarm setting vs fever definition, model {chosen!r}, 5-fold CV: sens/spec")
    print(f"{'alarm at':<10}" + "".join(f"  fever>={t}" for t in FEVER_THRESHOLDS_C))
    for alarm_c in ALARM_SETTINGS_C:
        cells = []
        for fever_c in FEVER_THRESHOLDS_C:
            s = screening(est, data.oral_monitor_c, fever_c, alarm_c)
            cells.append(f"{s.sensitivity:5.3f}/{s.specificity:5.3f}")
        print(f"{alarm_c:<10.1f}" + "".join(f"  {c:>11}" for c in cells))

    committed = bodytemp.body_from_skin_c(data.skin_mean_c)
    print("\ncommitted edge.bodytemp constants on all subjects (in-sample; the test's bound)")
    print(f"{'model':<22} {screen_head}")
    _screening_rows("edge.bodytemp", committed, data)

    _feature_check(path, data)
    return 0


def _feature_check(path: Path, data: FdaData) -> None:
    """How much the choice of facial feature matters, for the committed model type.

    The thermal-only mode takes the hottest 3x3 patch of the face, which can land off the
    canthus; T_Max (face maximum) bounds how much hotter such a reading gets.
    """
    chosen = bodytemp.MODEL_NAME
    canthus = fit_model(chosen, data)
    print(
        f"\nfeature check, model {chosen!r}: own fit (5-fold CV) and the canthiMax-fitted map "
        "applied to the feature; fever = aveOralM >= 37.5"
    )
    print(
        f"{'feature':<12} {'n':>5} {'r_oral':>6} {'d_med':>6} {'own: sens  spec':>16} "
        f"{'canthus map: sens  spec':>24}"
    )
    ids = {sid: i for i, sid in enumerate(data.subject_ids)}
    for feature in FEATURES:
        other = load_fda(path, feature)
        rows = np.array([ids[s] for s in other.subject_ids if s in ids])
        other_rows = np.array([i for i, s in enumerate(other.subject_ids) if s in ids])
        skin = other.skin_mean_c[other_rows]
        r = float(np.corrcoef(skin, other.oral_monitor_c[other_rows])[0, 1])
        d_med = float(np.median(skin - data.skin_mean_c[rows]))
        own = screening(cross_val_predict(chosen, other), other.oral_monitor_c, 37.5)
        mapped = screening(canthus.predict(skin), other.oral_monitor_c[other_rows], 37.5)
        print(
            f"{feature:<12} {skin.size:5d} {r:6.3f} {d_med:+6.2f} "
            f"{own.sensitivity:10.3f} {own.specificity:5.3f} "
            f"{mapped.sensitivity:18.3f} {mapped.specificity:5.3f}"
        )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
