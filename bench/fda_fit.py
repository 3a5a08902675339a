"""Fit and cross-validate skin->body temperature maps on the FDA facial-IR data.

    python bench/fda_fit.py [path/to/FLIR_groups1and2.csv]

Default path: <repo>/../shared/data/fda/FLIR_groups1and2.csv. For every measurement site in
edge.core.bodytemp.SITES ("canthus" on canthiMax, "face-max" on T_Max) it prints the fitted
constants, 5-fold cross-validated MAE/RMSE against both oral modes and screening counts at 37.3
and 37.5 degC; then a per-site summary of the committed model and a feature check. The fitting
code lives in edge/evaluation/fda_fit.py so the tests use the same code.
Results are summarised in docs/fever-threshold.md; rerun this after changing a model.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Run as a plain script (sys.path[0] is bench/), so make the `edge` package importable.
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from edge.core import bodytemp  # noqa: E402
from edge.evaluation.fda_fit import (  # noqa: E402
    FEVER_THRESHOLDS_C,
    MODELS,
    ORAL_REFERENCE,
    ORAL_SECONDARY,
    FdaData,
    alarm_for_sensitivity,
    bias_by_room,
    cross_val_predict,
    fit_model,
    load_fda,
    load_site,
    mae_rmse,
    repeated_cv,
    roc_auc,
    screening,
)

DEFAULT_CSV = REPO.parent / "shared" / "data" / "fda" / "FLIR_groups1and2.csv"
SENSITIVITY_TARGET = 0.90
ALARM_SETTINGS_C = (37.0, 37.1, 37.2, 37.3, 37.4, 37.5)
# canthus max ("canthus"), mean of its 4 hottest pixels, right-canthus 13-px circle,
# whole-face max ("face-max")
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
    print(f"data: {path}")
    sites = {site: load_site(path, site) for site in bodytemp.SITES}
    for site, data in sites.items():
        _site_report(site, data)
    _summary(sites)
    _room_check(sites)
    _feature_check(path, sites[bodytemp.DEFAULT_SITE])
    return 0


def _site_report(site: str, data: FdaData) -> None:
    """Every candidate model fitted and cross-validated on one measurement site's feature."""
    feature = bodytemp.site_map(site).feature
    n = data.skin_mean_c.size
    print(f"\n{'=' * 24} site {site!r}: FDA feature {feature} {'=' * 24}")
    print(
        f"subjects: {n}; reading = mean of {feature}1..4 (rounds present); "
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
    committed = bodytemp.site_map(site)
    print(
        f"{'edge.core.bodytemp':<22} {committed.slope:7.4f} {committed.intercept_c:9.4f} "
        f"{committed.ambient_coef:8.4f} {bodytemp.AMBIENT_REF_C:5.1f}  (committed, {site!r})"
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
        f"\nsame, held-out folds scored on a single round ({feature}1, "
        f"{int(np.sum(~np.isnan(round1)))} subjects)"
    )
    print(f"{'model':<22} {screen_head}")
    for name in MODELS:
        _screening_rows(name, cross_val_predict(name, data, skin_eval_c=round1), data)
    # A round that reads systematically off the others shifts the mean the map is fitted on.
    rounds = data.skin_rounds_c
    shifts = "  ".join(
        f"{feature}{k + 1} {float(np.nanmedian(rounds[:, k] - data.skin_mean_c)):+.2f}"
        for k in range(rounds.shape[1])
    )
    print(f"median of round - round mean (degC): {shifts}")

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

    in_sample = committed_estimate(data.skin_mean_c, data.ambient_c, site)
    print(
        f"\ncommitted edge.core.bodytemp constants, site {site!r}, on all subjects "
        "(in-sample; the test's bound)"
    )
    print(f"{'model':<22} {screen_head}")
    _screening_rows("edge.core.bodytemp", in_sample, data)


def _summary(sites: dict[str, FdaData]) -> None:
    """The committed constants of every site and their cross-validated screening table."""
    chosen = bodytemp.MODEL_NAME
    head = " | ".join(f"@{t}: sens  spec   TP   FP   FN   TN" for t in FEVER_THRESHOLDS_C)
    print(f"\n{'=' * 24} summary: model {chosen!r} per site {'=' * 24}")
    print(
        f"{'site':<10} {'feature':<10} {'slope':>9} {'intercept':>10} {'amb_coef':>9}  "
        "(fitted on all subjects)"
    )
    for site, data in sites.items():
        m = fit_model(chosen, data)
        feature = bodytemp.site_map(site).feature
        print(
            f"{site:<10} {feature:<10} {m.slope:9.6f} {m.intercept_c:10.6f} "
            f"{m.ambient_coef:9.6f}"
        )
    print(f"5-fold CV, fever = {ORAL_REFERENCE} >= T, alarm = estimate >= T")
    print(f"{'site':<22} {head}")
    for site, data in sites.items():
        _screening_rows(site, cross_val_predict(chosen, data), data)


def committed_estimate(skin_c: np.ndarray, room_c: np.ndarray, site: str) -> np.ndarray:
    """The committed map of `site` on every subject, each at the room of their session."""
    return np.array([
        bodytemp.body_from_skin_c(float(s), float(a), site=site)
        for s, a in zip(skin_c, room_c, strict=True)
    ])


def _room_check(sites: dict[str, FdaData]) -> None:
    """Room-blind vs room-aware calibration: the table behind the choice of the room term."""
    models = ("calibration", "calibration+ambient")
    seeds = 20
    print(f"\n{'=' * 24} room term: {' vs '.join(models)} {'=' * 24}")
    head = " | ".join(f"@{t}: sens  spec  AUC" for t in FEVER_THRESHOLDS_C)
    print(f"5-fold CV (seed as above); repeated: mean over {seeds} fold splits")
    print(f"{'site / model':<32} {'MAE':>6} {head} | rep. MAE  @37.3 s/s     @37.5 s/s")
    for site, data in sites.items():
        for name in models:
            est = cross_val_predict(name, data)
            cells = []
            for t in FEVER_THRESHOLDS_C:
                s = screening(est, data.oral_monitor_c, t)
                auc = roc_auc(est, data.oral_monitor_c, t)
                cells.append(f"{s.sensitivity:5.3f} {s.specificity:5.3f} {auc:5.3f}")
            rep = repeated_cv(name, data, seeds)
            rs = "  ".join(f"{a:5.3f}/{b:5.3f}" for a, b in rep.sens_spec)
            mae = mae_rmse(est, data.oral_monitor_c)[0]
            print(
                f"{site + ': ' + name:<32} {mae:6.3f} {' | '.join(cells)} | "
                f"{rep.mae_c:6.3f}  {rs}"
            )
    print("\nmean estimate - oral by room (T_atm), 5-fold CV; n = subjects, fevers >= 37.5")
    for site, data in sites.items():
        for name in models:
            rows = bias_by_room(cross_val_predict(name, data), data)
            cells = "  ".join(f"[{lo:g},{hi:g}) n={n:<3d} {b:+.3f}" for lo, hi, n, b in rows)
            print(f"{site + ': ' + name:<32} {cells}")
    for site in sites:
        m = bodytemp.site_map(site)
        over = [m.ambient_coef * (bodytemp.AMBIENT_MAX_C - r) for r in (30.0, 31.0)]
        print(
            f"{site}: room clamped to {bodytemp.AMBIENT_MIN_C:g}-{bodytemp.AMBIENT_MAX_C:g} C; "
            f"over-read at 30 / 31 C: {over[0]:+.3f} / {over[1]:+.3f} C body"
        )


def _feature_check(path: Path, data: FdaData) -> None:
    """How much the choice of facial feature matters, for the committed model type.

    `data` is the canthus site's data (the subjects every feature is matched against). Each
    feature gets its own fit (5-fold CV) and every committed site map applied to it: a map
    used on a feature other than its own shows what a reading at the wrong spot costs.
    """
    chosen = bodytemp.MODEL_NAME
    print(
        f"\nfeature check, model {chosen!r}: own fit (5-fold CV) and each committed site map "
        f"applied to the feature; fever = {ORAL_REFERENCE} >= 37.5"
    )
    map_head = "".join(f" {site + ' map: sens  spec':>24}" for site in bodytemp.SITES)
    print(f"{'feature':<12} {'n':>5} {'r_oral':>6} {'d_med':>6} {'own: sens  spec':>16}{map_head}")
    ids = {sid: i for i, sid in enumerate(data.subject_ids)}
    for feature in FEATURES:
        other = load_fda(path, feature)
        rows = np.array([ids[s] for s in other.subject_ids if s in ids])
        other_rows = np.array([i for i, s in enumerate(other.subject_ids) if s in ids])
        skin = other.skin_mean_c[other_rows]
        oral = other.oral_monitor_c[other_rows]
        room = other.ambient_c[other_rows]
        r = float(np.corrcoef(skin, oral)[0, 1])
        d_med = float(np.median(skin - data.skin_mean_c[rows]))
        own = screening(cross_val_predict(chosen, other), other.oral_monitor_c, 37.5)
        cells = ""
        for site in bodytemp.SITES:
            mapped = screening(committed_estimate(skin, room, site), oral, 37.5)
            cells += f" {mapped.sensitivity:18.3f} {mapped.specificity:5.3f}"
        print(
            f"{feature:<12} {skin.size:5d} {r:6.3f} {d_med:+6.2f} "
            f"{own.sensitivity:10.3f} {own.specificity:5.3f}{cells}"
        )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
