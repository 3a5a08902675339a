"""The installer's temperature calibration: `calibrate-temp` (docs/cli.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from edge.cli.util import add_command
from edge.config import load_config

if TYPE_CHECKING:
    from edge.cli.util import SubParsers


def cmd_calibrate_temp(args: argparse.Namespace) -> int:
    from edge.evaluation import calibrate_temp as ct

    settings = load_config(args.config)
    rows = ct.read_rows(args.readings)
    events = ct.load_events(args.events) if args.events is not None else None
    pairs = ct.resolve(
        rows, events, ct.MODE_SITES.get(settings.mode), events_origin=str(args.events)
    )
    used_c = settings.screening.skin_offset_c if args.offset_used is None else args.offset_used
    cal = ct.fit(pairs, used_c)
    print("\n".join(ct.table(cal)))
    ct.check(cal)
    if args.dry_run:
        print("dry run: config not changed")
        return 0
    value = ct.write_offset(args.config, cal)
    print(f"written to {args.config}: [screening] skin_offset_c = {value:.2f}")
    return 0


def add_calibration_commands(sub: SubParsers) -> None:
    p = add_command(
        sub,
        "calibrate-temp",
        cmd_calibrate_temp,
        "fit screening.skin_offset_c from clinical thermometer readings and write it into the "
        "config",
        "gate-edge calibrate-temp readings.csv --events events.jsonl "
        "--config /etc/gate-edge/config.toml",
    )
    p.add_argument(
        "readings",
        type=Path,
        help="CSV with a header: thermometer_c and id, or track + t_ns, or skin_c [site, "
        "ambient_c]; optional note",
    )
    p.add_argument("--config", type=Path, required=True, help="TOML config to update")
    p.add_argument(
        "--events",
        type=Path,
        help="the events as `gate-edge tail --json` printed them (JSON lines)",
    )
    p.add_argument(
        "--offset-used",
        type=float,
        metavar="C",
        help="screening.skin_offset_c in force when the events were measured (default: the "
        "config's)",
    )
    p.add_argument("--dry-run", action="store_true", help="print, do not write")
