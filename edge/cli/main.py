"""Command line: argument parsing only, one function per command (docs/cli.md)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from edge import __version__
from edge.cli.backend import add_backend_commands
from edge.cli.calibration import add_calibration_commands
from edge.cli.check_cameras import add_camera_arguments, check_cameras
from edge.cli.lists import add_list_commands
from edge.cli.models import add_model_commands
from edge.cli.passes import add_pass_commands
from edge.cli.record import add_record_command
from edge.cli.synth import add_synth_command
from edge.cli.util import add_command
from edge.config import Settings, load_config, with_overrides
from edge.core.types import Decision
from edge.errors import EdgeError

if TYPE_CHECKING:
    from edge.cli.util import SubParsers

log = logging.getLogger("edge")


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_config(args.config)
    return with_overrides(settings, broker=args.broker, site=args.site, gate=args.gate)


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    if text == "realtime":
        return 1.0
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use max, realtime or a factor") from None
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r}: the factor must be in (0, 1000]")
    return value


def _decision_line(d: Decision) -> str:
    t = d.temperature
    who = "" if not d.recognition else f", {d.match.subject if d.match else 'not recognised'}"
    if t is None:
        why = f" ({d.reason})" if d.reason else ""
        return f"{d.type}{why} track {d.track:<4}{who}"
    mark = "FEVER    " if d.type == "fever" else "screening"
    return (
        f"{mark} track {d.track:<4} {t.body_c:5.2f} C (skin {t.skin_c:.2f}, {t.samples} samples,"
        f" ref {'ok' if t.reference_ok else 'NOT ok'}{who})"
    )


def cmd_replay(args: argparse.Namespace) -> int:
    from edge.app.replay import replay

    settings = _settings(args)
    result = replay(
        settings,
        args.recording,
        speed=args.speed,
        publish=not args.offline,
        on_decision=(lambda d: print(_decision_line(d), flush=True)) if args.verbose else None,
        lists_dir=args.lists,
    )
    rate = result.thermal_frames / result.wall_s if result.wall_s > 0 else float("inf")
    realtime = result.footage_s / result.wall_s if result.wall_s > 0 else float("inf")
    where = "offline" if args.offline else f"acknowledged by {settings.mqtt.broker}"
    print(
        f"{args.recording}: {result.thermal_frames} thermal frames, {len(result.decisions)} "
        f"events ({where}); {rate:.0f} frames/s, {realtime:.1f}x real time"
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from edge.app.replay import replay
    from edge.evaluation.evaluate import format_report, load_labels, match, summary_table

    settings = _settings(args)
    people = load_labels(args.recording)
    lists = args.lists
    if lists is None and (args.recording / "lists" / "lists.sqlite").is_file():
        lists = args.recording / "lists"  # what `synth` enrolled for this scene
    result = replay(settings, args.recording, publish=not args.offline, lists_dir=lists)
    report = match(result.decisions, people, result.meta, settings.thermal.rotate_deg)
    print(format_report(report))
    print()
    print(summary_table(report))
    if args.plot is not None:
        from edge.evaluation.plot import plot_report

        plot_report(report, args.plot, settings.screening.threshold_c, args.recording.name)
        print(f"plot: {args.plot}")
    return 0 if report.all_ok else 1


def cmd_tail(args: argparse.Namespace) -> int:
    from edge.app.wiring import broker_options
    from edge.cli.tail import run_tail

    settings = _settings(args)
    return run_tail(
        settings.mqtt.broker,
        settings.mqtt.prefix,
        args.site,
        args.gate,
        args.type or None,
        args.json,
        sys.stdout,
        args.count,
        args.timeout,
        options=broker_options(settings),
    )


def cmd_check(args: argparse.Namespace) -> int:
    from edge.app.wiring import broker_options, config_hash
    from edge.errors import ConfigError
    from edge.models import check_models
    from edge.transport.mqtt import check_broker

    if args.reference_image is not None and args.reference is None:
        raise ConfigError("--reference-image needs --reference RECORDING")
    settings = _settings(args)
    print(f"config: ok ({args.config or 'defaults'}, hash {config_hash(settings)})")
    problems = check_models() if settings.mode != "thermal" else []
    for problem in problems:
        print(f"models: {problem}", file=sys.stderr)
    if not problems:
        print("models: ok" if settings.mode != "thermal" else "models: not needed (thermal)")
    found = _check_reference(settings, args) if args.reference is not None else True
    cameras_ok = check_cameras(settings, args.snapshot)
    state_ok = _check_state(settings) and _check_lists(settings)
    if not args.no_broker:
        # Connects without a will and publishes nothing: a running gate's status must not flap.
        check_broker(broker_options(settings))
        gate = f"{settings.gate.site}/{settings.gate.gate}"
        print(f"broker: ok ({settings.mqtt.broker} accepted us as {gate})")
    return 5 if problems else 7 if not cameras_ok else 2 if not state_ok else 0 if found else 1


def _check_state(settings: Settings) -> bool:
    """Whether this user could write state.dir. `run` would still start (degraded, decisions
    held in memory), but an installer should fix it before leaving the gate."""
    from edge.transport.state_dir import free_bytes, state_dir_problem

    folder = settings.state.dir
    if folder is None:
        print("state: no state.dir (unsent events and the checkpoint are lost on restart)")
        return True
    problem = state_dir_problem(folder)
    if problem is not None:
        print(f"state: {problem} (run would start degraded: decisions held in memory until "
              "it is writable)", file=sys.stderr)
        return False
    print(f"state: ok ({folder} writable, {free_bytes(folder) / 1e6:.0f} MB free)")
    return True


def _check_lists(settings: Settings) -> bool:
    """Recognition on: the list store opens (read-only look) and what it holds."""
    from edge.errors import IdentityError
    from edge.identity.store import ListStore

    where = settings.lists_dir
    if not settings.identity.enabled or where is None:
        print("lists: recognition off (identity.enabled = false)")
        return True
    if not (where / "lists.sqlite").is_file():
        print(f"lists: {where} has no list store yet: recognition starts empty until the "
              "backend pushes a snapshot (or: gate-edge enroll --lists ...)")
        return True
    try:
        with ListStore.open(where, create=False) as store:
            counts, version, origin = store.counts(), store.version, store.origin
    except IdentityError as exc:
        print(f"lists: {exc}", file=sys.stderr)
        return False
    print(f"lists: ok ({where}, {origin} version {version}: {counts.get('subjects', 0)} "
          f"subjects, {counts.get('templates', 0)} templates)")
    return True


def _check_reference(settings: Settings, args: argparse.Namespace) -> bool:
    """`check --reference`: the front end over a recording's first frames; where the
    reference is, and whether it is ok (or none is configured)."""
    from edge.app.wiring import pipeline_params
    from edge.errors import ConfigError, RecordingError
    from edge.sources import open_recording
    from edge.thermal import disc_view
    from edge.thermal.front import ThermalFrontEnd

    meta = (source := open_recording(args.reference)).meta
    if meta.thermal is None:
        raise RecordingError(f"{args.reference}: no thermal stream to find a reference in")
    front = ThermalFrontEnd(pipeline_params(settings).front, meta.thermal, meta.reference)
    survey = disc_view.survey_reference(front, source.frames())
    print("\n".join(disc_view.describe(survey)))
    if (image := args.reference_image) is not None and survey.temp_c is not None:
        try:
            image.write_bytes(disc_view.reference_png(survey))
        except OSError as exc:
            raise ConfigError(f"--reference-image {image}: {exc.strerror}") from exc
        print(f"reference image: {image}")
    return survey.passed


def cmd_run(args: argparse.Namespace) -> int:
    from edge.app.live import LiveGate

    return LiveGate(_settings(args)).run()


def cmd_calibrate(args: argparse.Namespace) -> int:
    from edge.evaluation.calibrate import fit, read_pairs, write_into_config

    rgb, thermal = read_pairs(args.pairs)
    cal = fit(rgb, thermal)
    print(
        f"homography from {cal.pairs} pairs ({cal.inliers} inliers): reprojection error "
        f"rms {cal.rms_px:.2f} px, max {cal.max_px:.2f} px (thermal pixels)"
    )
    for row in cal.homography.tolist():
        print("  [" + ", ".join(f"{v: .6g}" for v in row) + "]")
    if args.config is not None and not args.dry_run:
        write_into_config(args.config, cal.homography)
        print(f"written to {args.config} [registration] rgb_to_thermal")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from edge.cli.demo import run_demo

    return run_demo(
        args.out, people=args.people, seed=args.seed, speed=args.speed,
        rgb=not args.thermal_only, faces=args.faces,
    )


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML config file (see configs/)")
    p.add_argument("--broker", help="mqtt://host:port or mqtts://host:port")
    p.add_argument("--site", help="site name (topic level)")
    p.add_argument("--gate", help="gate name (topic level)")


def _add_pipeline_commands(sub: SubParsers) -> None:
    p = add_command(
        sub,
        "replay",
        cmd_replay,
        "replay a recording (folder or .cptv) through the pipeline",
        "gate-edge replay ../shared/data/thermal/cptv/20210325-091249.cptv "
        "--config configs/thermal-kiosk.toml --broker mqtt://127.0.0.1:1883",
    )
    _common(p)
    p.add_argument("recording", type=Path)
    p.add_argument("--speed", type=_speed, default=None, help="max (default), realtime or a factor")
    p.add_argument("--offline", action="store_true", help="no broker: decide and print only")
    p.add_argument("--lists", type=Path, metavar="DIR",
                   help="recognise faces against this list store (gate-edge enroll)")

    p = add_command(
        sub,
        "eval",
        cmd_eval,
        "replay a labelled recording and score it per person",
        "gate-edge eval out/scene --offline",
    )
    _common(p)
    p.add_argument("recording", type=Path)
    p.add_argument("--offline", action="store_true", help="no broker: score decisions only")
    p.add_argument("--plot", type=Path, help="write a PNG of measured vs true temperature")
    p.add_argument("--lists", type=Path, metavar="DIR",
                   help="list store to recognise against (default: RECORDING/lists if present)")


def _add_gate_commands(sub: SubParsers) -> None:
    p = add_command(
        sub,
        "tail",
        cmd_tail,
        "print one readable line per event (operators)",
        "gate-edge tail --broker mqtt://127.0.0.1:1883 --type fever",
    )
    _common(p)
    p.add_argument("--json", action="store_true", help="raw JSON payloads, one per line")
    p.add_argument("--type", action="append", help="only this event type (repeatable)")
    p.add_argument("--count", type=int, help="stop after this many events")
    p.add_argument("--timeout", type=float, help="stop after this many seconds")

    p = add_command(
        sub,
        "check",
        cmd_check,
        "validate the config and reach the broker",
        "gate-edge check --config configs/thermal-kiosk.toml",
    )
    _common(p)
    p.add_argument("--no-broker", action="store_true", help="check the config only")
    p.add_argument("--reference", type=Path, metavar="RECORDING",
                   help="print where the reference is found in this recording's first frames")
    p.add_argument("--reference-image", type=Path, metavar="PNG",
                   help="with --reference: write the frame with the reference marked")
    add_camera_arguments(p)

    p = add_command(
        sub,
        "run",
        cmd_run,
        "run the gate until SIGTERM (systemd: Type=notify, watchdog); frames from [source]",
        "gate-edge run --config /etc/gate-edge/config.toml",
    )
    _common(p)

    p = add_command(
        sub,
        "calibrate",
        cmd_calibrate,
        "compute the RGB -> thermal homography from point pairs and write it into the config",
        "gate-edge calibrate pairs.csv --config /etc/gate-edge/config.toml",
    )
    p.add_argument("pairs", type=Path, help="CSV: rgb_x,rgb_y,thermal_x,thermal_y per line")
    p.add_argument("--config", type=Path, help="TOML config to update (comments are kept)")
    p.add_argument("--dry-run", action="store_true", help="print, do not write")
    _add_demo_command(sub)


def _add_demo_command(sub: SubParsers) -> None:
    p = add_command(
        sub,
        "demo",
        cmd_demo,
        "synthesise a scene, start a private Mosquitto, replay into it, show the events",
        "gate-edge demo --people 12",
    )
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    p.add_argument("--people", type=int, default=12)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--speed", type=_speed, default=4.0, help="replay speed (default 4x)")
    p.add_argument("--thermal-only", action="store_true", help="the thermal-only kiosk scene")
    p.add_argument("--faces", type=Path, metavar="DIR",
                   help="photos grouped by person (identities.csv): the residents' scene with "
                   "recognition (default: ../shared/data/faces when present)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gate-edge",
        description="Gate-screening edge process: thermal fever screening, events over MQTT.",
        epilog="example:\n  gate-edge demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gate-edge {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_pipeline_commands(sub)
    add_synth_command(sub)
    _add_gate_commands(sub)
    add_record_command(sub)
    add_backend_commands(sub)
    add_model_commands(sub)
    add_calibration_commands(sub)
    add_list_commands(sub)
    add_pass_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code = int(args.func(args))
    except EdgeError as exc:
        print(f"gate-edge {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code
