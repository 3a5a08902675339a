"""Skin-reading error of the pipeline on the physical simulator (issue 8, item 7 and its sweep).

For every hot-spot sigma x face width x mode x seed, a labelled scene is synthesised
(edge.sim.thermal for thermal-only, edge.sim.rgb for RGB + thermal; default optics: PSF sigma
0.5 px, 4x supersampling, NETD-like noise 0.08 degC, drift 0.4 degC corrected by the reference)
and replayed offline through the production pipeline (edge.app.replay.replay, publish=False).
Decisions are attributed to people with edge.evaluation.evaluate.match. The error is the
decision's skin reading (`temperature.skin_c`: reference-corrected, the robust statistic over
frames, before the skin -> body map) minus the true skin temperature of the person's hot spot
(labels' `skin_c`: the continuous peak the simulator renders; site face-max in thermal-only
mode, canthus in RGB + thermal). Body error is ~1.22 times this.

Face width: at the gate, in thermal pixels (thermal-only: the head; RGB + thermal: the face
box). Sensors: `auto` puts 12-30 px faces on a Lepton (160x120, 57 deg) and 60 px faces on a
256x192 P2 Pro (56 deg); `--sensor 640x512` or `all` runs the others too. Pairs are kept where
two faces of that size fit side by side, else the cell has singles only (column `pairs`).
The pipeline's size gates are lowered to 0.75 of the face width so that small faces are
measured at all (detect.min_face_px, rgb.min_face_px, screening.min_thermal_face_px); nothing
else is tuned.

    python bench/sweep_skin.py            # 4 sigmas x 4 widths x 2 modes x 3 seeds
    python bench/sweep_skin.py --quick    # 1 seed, fewer people
    python bench/sweep_skin.py --modes thermal --sigmas 0.5 1 --widths 12 18
    python bench/sweep_skin.py --quick --set screening.statistic='"local-mean"'
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tomllib  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.errors import ConfigError  # noqa: E402
from edge.sim.optics import SENSORS  # noqa: E402

SHARED_FACES = REPO.parent / "shared" / "data" / "faces"
SIGMAS = (0.5, 1.0, 1.5, 2.0)
WIDTHS = (12.0, 18.0, 30.0, 60.0)
MODES = ("thermal", "rgb")
GATE_SHARE = 0.75  # size gates at this share of the face width


@dataclass(frozen=True)
class Cell:
    mode: str
    sensor: str
    face_px: float
    sigma_px: float
    seed: int
    people: int
    faces_dir: str | None
    overrides: tuple[tuple[str, str, Any], ...] = ()  # (section, key, value) config overrides


@dataclass
class CellResult:
    cell: Cell
    pairs: bool = True
    errors: list[float] = field(default_factory=list)
    imaged_errors: list[float] = field(default_factory=list)  # vs the peak the optics leave
    expected: int = 0
    measured: int = 0
    unmatched: int = 0
    wrong: int = 0  # people whose events do not match what they should produce
    synth_s: float = 0.0
    replay_s: float = 0.0
    skipped: str = ""


def sensors_for(face_px: float, choice: str) -> list[str]:
    if choice == "all":
        return list(SENSORS)
    if choice != "auto":
        return [choice]
    return ["lepton"] if face_px <= 40 else ["p2pro"]


def _thermal_scene(cell: Cell, result: CellResult) -> Any:
    """The scene spec, with pairs if two heads fit; ConfigError if nothing fits."""
    from edge.sim.thermal import SceneSpec

    sensor = SENSORS[cell.sensor]
    kwargs: dict[str, Any] = dict(
        people=cell.people, passers=1, seed=cell.seed, width=sensor.width,
        height=sensor.height, hfov_deg=sensor.hfov_deg, face_px=cell.face_px,
        hotspot_sigma_px=cell.sigma_px)
    try:
        return SceneSpec(pair_fraction=0.34, **kwargs)
    except ConfigError:
        result.pairs = False
        return SceneSpec(pair_fraction=0.0, **kwargs)


def _rgb_scene(cell: Cell, result: CellResult) -> Any:
    from edge.sim.rgb_plan import RgbSceneSpec

    sensor = SENSORS[cell.sensor]
    kwargs: dict[str, Any] = dict(
        people=cell.people, seed=cell.seed, thermal_width=sensor.width,
        thermal_height=sensor.height, hfov_deg=sensor.hfov_deg, face_px=cell.face_px,
        hotspot_sigma_px=cell.sigma_px,
        faces_dir=Path(cell.faces_dir) if cell.faces_dir else None)
    try:
        return RgbSceneSpec(pair_fraction=0.5, **kwargs)
    except ConfigError:
        result.pairs = False
        return RgbSceneSpec(pair_fraction=0.0, **kwargs)


def _settings(cell: Cell) -> Any:
    from edge.config import validate
    from edge.sim.rgb_plan import RgbSceneSpec

    gate = max(4, math.floor(GATE_SHARE * cell.face_px))
    if cell.mode == "thermal":
        raw = tomllib.loads((REPO / "configs" / "thermal-synthetic.toml").read_text())
        raw.setdefault("detect", {})["min_face_px"] = gate
    else:
        sensor = SENSORS[cell.sensor]
        per_rgb = RgbSceneSpec(thermal_width=sensor.width,
                               thermal_height=sensor.height).thermal_per_rgb
        raw = {"rgb": {"min_face_px": max(8, math.floor(GATE_SHARE * cell.face_px / per_rgb))},
               "screening": {"min_thermal_face_px": float(max(2, gate))}}
    raw.setdefault("mqtt", {})["broker"] = "mqtt://127.0.0.1:1"
    for section, key, value in cell.overrides:
        raw.setdefault(section, {})[key] = value
    return validate(raw, "sweep_skin")


def override(text: str) -> tuple[str, str, Any]:
    """`section.key=value` (value in TOML syntax) -> (section, key, value)."""
    name, _, value = text.partition("=")
    section, _, key = name.partition(".")
    if not (section and key and value):
        raise argparse.ArgumentTypeError(f"{text!r}: expected section.key=value")
    return section, key, tomllib.loads(f"v = {value}")["v"]


def run_cell(cell: Cell) -> CellResult:
    """Synthesise one scene, replay it offline, score every person's skin reading."""
    import json

    from edge.app.replay import replay
    from edge.evaluation.evaluate import match
    from edge.sim.rgb import synthesize_rgb
    from edge.sim.thermal import synthesize

    result = CellResult(cell)
    try:  # only a face that does not fit this sensor skips the cell; other errors propagate
        spec = (_thermal_scene if cell.mode == "thermal" else _rgb_scene)(cell, result)
    except ConfigError as exc:
        result.skipped = str(exc)
        return result
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "scene"
        start = time.perf_counter()
        (synthesize if cell.mode == "thermal" else synthesize_rgb)(folder, spec)
        result.synth_s = time.perf_counter() - start
        start = time.perf_counter()
        replayed = replay(_settings(cell), folder, publish=False)
        result.replay_s = time.perf_counter() - start
        people = json.loads((folder / "labels.json").read_text())["people"]
    report = match(replayed.decisions, people, replayed.meta, 0)
    truth = {p["label"]: float(p["skin_c"]) for p in people}
    imaged = {p["label"]: _imaged_peak_c(p, spec.psf_sigma_px) for p in people}
    result.unmatched = len(report.unmatched)
    for person in report.people:
        if not person.expect:
            result.wrong += bool(person.events)
            continue
        result.expected += 1
        result.wrong += not person.ok
        if person.events:
            result.measured += 1
            result.errors.append(person.events[0].temperature.skin_c - truth[person.label])
            result.imaged_errors.append(
                person.events[0].temperature.skin_c - imaged[person.label]
            )
    return result


def _imaged_peak_c(person: dict[str, Any], psf_sigma_px: float) -> float:
    """What a perfect reader of this camera's pixels can see of the hot spot: the peak
    after the lens PSF and the pixel's area (a box of variance 1/12 px^2), both Gaussian to
    first order: the excess shrinks by s^2 / (s^2 + psf^2 + 1/12) (s at the nearest pose)."""
    s2 = float(person["hotspot_sigma_px"]) ** 2
    kept = s2 / (s2 + psf_sigma_px**2 + 1.0 / 12.0)
    return float(person["skin_c"]) - float(person["canthus_excess_c"]) * (1.0 - kept)


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def table(results: list[CellResult], mode: str) -> list[str]:
    title = "thermal-only (site face-max)" if mode == "thermal" else "RGB + thermal (canthus)"
    lines = [f"\n### {title}: skin reading - true hot-spot peak, degC\n",
             "| face px | sensor | pairs | hot-spot sigma px | measured / expected | "
             "median error | median abs | max abs | vs imaged peak: median / max abs "
             "| wrong / unmatched |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    cells: dict[tuple[str, float, float], list[CellResult]] = {}
    for r in results:
        if r.cell.mode == mode:
            cells.setdefault((r.cell.sensor, r.cell.face_px, r.cell.sigma_px), []).append(r)
    for (sensor, face, sigma), group in sorted(cells.items(), key=lambda kv: (kv[0][1],
                                                                              kv[0][0], kv[0][2])):
        done = [r for r in group if not r.skipped]
        if not done:
            lines.append(f"| {face:g} | {sensor} | | {sigma:g} | skipped: {group[0].skipped} "
                         "| | | | | |")
            continue
        errors = [e for r in done for e in r.errors]
        med = statistics.median(errors) if errors else None
        med_abs = statistics.median(abs(e) for e in errors) if errors else None
        worst = max((abs(e) for e in errors), default=None)
        pairs = "yes" if all(r.pairs for r in done) else "no"
        imaged = [e for r in done for e in r.imaged_errors]
        im_med = statistics.median(imaged) if imaged else None
        im_worst = max((abs(e) for e in imaged), default=None)
        lines.append(
            f"| {face:g} | {sensor} | {pairs} | {sigma:g} | "
            f"{sum(r.measured for r in done)} / {sum(r.expected for r in done)} | "
            f"{_fmt(med, True)} | {_fmt(med_abs)} | {_fmt(worst)} | "
            f"{_fmt(im_med, True)} / {_fmt(im_worst)} | "
            f"{sum(r.wrong for r in done)} / {sum(r.unmatched for r in done)} |")
    errors = [e for r in results if r.cell.mode == mode for e in r.errors]
    if errors:
        lines.append(f"\nall cells: {len(errors)} readings, median error "
                     f"{statistics.median(errors):+.2f}, median abs "
                     f"{statistics.median(abs(e) for e in errors):.2f}, max abs "
                     f"{max(abs(e) for e in errors):.2f} degC")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 4 people per scene")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--people", type=int, default=8, help="measured people per scene")
    parser.add_argument("--sigmas", type=float, nargs="+", default=list(SIGMAS))
    parser.add_argument("--widths", type=float, nargs="+", default=list(WIDTHS))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--sensor", choices=["auto", "all", *SENSORS], default="auto")
    parser.add_argument("--faces", type=Path, default=SHARED_FACES if SHARED_FACES.is_dir()
                        else None, help="face photos for RGB + thermal (default: "
                        "../shared/data/faces if present, else matplotlib's portrait)")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--set", type=override, action="append", default=[], metavar="S.K=V",
                        help="config override for the replay, e.g. screening.window_px=5")
    args = parser.parse_args(argv)
    seeds, people = (1, 4) if args.quick else (args.seeds, args.people)
    faces_dir = str(args.faces) if args.faces else None
    cells = [Cell(mode, sensor, face, sigma, seed, people, faces_dir, tuple(args.set))
             for mode in args.modes for face in args.widths
             for sensor in sensors_for(face, args.sensor)
             for sigma in args.sigmas for seed in range(seeds)]
    print(f"# Skin-reading sweep: {len(cells)} scenes ({seeds} seed(s), {people} people each, "
          f"faces from {faces_dir or 'matplotlib grace_hopper'}), {args.jobs} job(s)"
          + "".join(f", {s}.{k} = {v!r}" for s, k, v in args.set))
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(run_cell, cells))
    wall_s = time.perf_counter() - start
    for mode in args.modes:
        print("\n".join(table(results, mode)))
    for mode in args.modes:
        done = [r for r in results if r.cell.mode == mode and not r.skipped]
        if done:
            print(f"\n{mode}: synthesis {sum(r.synth_s for r in done):.0f} s, replay "
                  f"{sum(r.replay_s for r in done):.0f} s (CPU seconds over all scenes)")
    print(f"\nwall time {wall_s:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
