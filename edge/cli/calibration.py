"""Calibrations from measurements: the installer's temperature offset (`calibrate-temp`) and
the recognition threshold's ROC on labelled photos (`eval-faces`), docs/cli.md."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from edge.cli.util import add_command
from edge.config import IdentityConfig, load_config
from edge.errors import ConfigError

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


def cmd_eval_faces(args: argparse.Namespace) -> int:
    from edge.evaluation import face_roc as fr
    from edge.vision.embedder import FaceEmbedder
    from edge.vision.landmarks import FaceAnalyzer

    if not (args.faces / fr.IDENTITIES_CSV).is_file():
        raise ConfigError(f"{args.faces}: no {fr.IDENTITIES_CSV} (file,identity_group per photo)")
    faces = fr.embed_faces(args.faces, FaceAnalyzer(threads=1), FaceEmbedder(threads=1))
    if len(set(faces.identities)) < 2:
        raise ConfigError(f"{args.faces}: fewer than 2 identities with a one-face photo")
    pairs = fr.all_pairs(faces)
    listed = [fr.listed_pairs(faces, args.faces / name) for name in fr.PAIR_LISTS
              if (args.faces / name).is_file()]
    thresholds = sorted({*args.threshold, fr.DLIB_THRESHOLD})
    print("\n".join(fr.summary_lines(faces, pairs, listed, thresholds)))
    print()
    print("\n".join(fr.model_lines(pairs, thresholds)))
    if args.plot is not None:
        fr.plot_roc(pairs, args.plot, args.threshold[0],
                    f"{len(faces.files)} photos of {len(set(faces.identities))} people "
                    f"({args.faces.name}), all pairs")
        print(f"figure: {args.plot}")
    return 0


def add_calibration_commands(sub: SubParsers) -> None:
    _add_eval_faces(sub)
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


def _add_eval_faces(sub: SubParsers) -> None:
    p = add_command(
        sub,
        "eval-faces",
        cmd_eval_faces,
        "ROC of the face descriptor on labelled photos (identities.csv): genuine and impostor "
        "distances over all pairs, EER, TAR at FAR <= 0.001, rates at given thresholds",
        "gate-edge eval-faces ../shared/data/faces --threshold 0.5 0.55 --plot roc.png",
    )
    p.add_argument("faces", type=Path, help="folder with identities.csv (file, identity_group) "
                   "and the photos; master.csv / face-recognition-pivot.csv scored if present")
    p.add_argument("--threshold", type=float, nargs="+", metavar="D",
                   default=[IdentityConfig().threshold],
                   help="thresholds to report (the first is marked in the figure; default: "
                   "identity.threshold's default); dlib's 0.6 is always added")
    p.add_argument("--plot", type=Path, metavar="PNG", help="write the figure here")
