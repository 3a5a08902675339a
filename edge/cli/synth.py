"""`gate-edge synth` (docs/cli.md): thermal-only scenes, `--rgb` scenes, and identity scenes
(`--residents/--strangers/--quarantined`), whose list store this builds from the scene's
enroll.json when the embedder model is there (edge.app.enrollment), so that
`gate-edge replay OUT --lists OUT/lists` just works. Argument parsing and printing only.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.cli.util import add_command
from edge.errors import ConfigError, EdgeError

if TYPE_CHECKING:
    from edge.cli.util import SubParsers

DEFAULT_PEOPLE = 24
DEFAULT_PAIR_FRACTION = 0.34
DEFAULT_GATE = "gate1"  # GateConfig's default gate name
GATE_CONFIG = "gate.toml"  # written beside a --grant-by-face scene: the policy it assumes


class Progress:
    """synth's progress bar: frames written, on stderr with tqdm (the CLI owns it; edge.sim
    only calls `progress(done, total)`). Off with --quiet or when stderr is not a terminal,
    so logs and pipes get no bar."""

    def __init__(self, quiet: bool, what: str) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self._what = what
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self._what, unit="frame", file=sys.stderr,
                             mininterval=0.2)
        self._bar.update(done - self._bar.n)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


def cmd_synth(args: argparse.Namespace) -> int:
    cases: tuple[str, ...] = ()
    if args.passes is not None:
        from edge.sim.passes import parse_cases

        cases = parse_cases(args.passes)
        if not args.rgb:
            raise ConfigError("--passes needs --rgb (passes are read by the RGB camera)")
        if args.pair_fraction not in (None, 0.0):
            raise ConfigError("--passes: pass holders walk alone (give no --pair-fraction)")
        args.pair_fraction, args.grant_by_face = 0.0, True
    args.cases = cases
    if args.pair_fraction is None:
        args.pair_fraction = DEFAULT_PAIR_FRACTION
    if (args.pass_key is not None or args.gate != DEFAULT_GATE) and not cases:
        raise ConfigError("--pass-key and --gate need --passes")
    roles = args.residents + args.strangers + args.quarantined + len(cases)
    if roles and not args.rgb:
        raise ConfigError("--residents/--strangers/--quarantined need --rgb (faces to recognise)")
    if (args.grant_by_face or args.quarantine_until) and not roles:
        raise ConfigError("--grant-by-face and --quarantine-until need identity roles "
                          "(--residents/--strangers/--quarantined)")
    if roles and args.people is not None and args.people != roles:
        cases_text = " + --passes cases" if cases else ""
        raise ConfigError(f"--people {args.people} but --residents + --strangers + "
                          f"--quarantined{cases_text} = {roles}: give one or make them agree")
    _check_iso(args.quarantine_until)
    people = args.people if args.people is not None else roles or DEFAULT_PEOPLE
    if args.rgb:
        return _synth_rgb(args, people)
    from edge.sim.thermal import SceneSpec, synthesize

    spec = SceneSpec(
        people=people, passers=args.passers, fever_fraction=args.fever_fraction,
        pair_fraction=args.pair_fraction, width=args.width, height=args.height, fps=args.fps,
        seed=args.seed, rotate=args.rotate, encoding=args.encoding, noise_c=args.noise_c,
        drift_c=args.drift_c,
    )
    with Progress(args.quiet, f"synth {args.out}") as progress:
        summary = synthesize(args.out, spec, progress=progress)
    print(
        f"{args.out}: {summary.people} people ({summary.fevers} with fever, {summary.pairs} "
        f"pairs) + {summary.passers} passers, {summary.frames} frames, {summary.duration_s:.0f} s"
    )
    return 0


def _synth_rgb(args: argparse.Namespace, people: int) -> int:
    from edge.app.enrollment import MIN_EYE_DISTANCE_PX
    from edge.sim.rgb import synthesize_rgb
    from edge.sim.rgb_plan import QUARANTINE_UNTIL, RgbSceneSpec

    spec = RgbSceneSpec(
        people=people, fever_fraction=args.fever_fraction, pair_fraction=args.pair_fraction,
        seed=args.seed, faces_dir=args.faces, noise_c=args.noise_c, drift_c=args.drift_c,
        residents=args.residents, strangers=args.strangers, quarantined=args.quarantined,
        grant_by_face=args.grant_by_face,
        quarantine_until=args.quarantine_until or QUARANTINE_UNTIL,
        # The plan never picks a photo enrolment would refuse as too small.
        enroll_min_eye_px=MIN_EYE_DISTANCE_PX, passes=args.cases, gate=args.gate,
    )
    issuer = None
    if args.cases:
        from edge.cli.synth_passes import SceneIssuer, scene_key

        key, args.pass_pub = scene_key(args.out, args.pass_key)
        issuer = SceneIssuer(key, args.gate, args.seed)
    with Progress(args.quiet, f"synth --rgb {args.out}") as progress:
        summary = synthesize_rgb(args.out, spec, progress=progress, issue=issuer)
    print(
        f"{args.out}: {summary.people} people ({summary.fevers} with fever, {summary.pairs} pairs,"
        f" {len(set(summary.subjects))} identities), {summary.rgb_frames} RGB + "
        f"{summary.thermal_frames} thermal frames, {summary.duration_s:.0f} s"
    )
    if issuer is not None:
        from edge.cli.synth_passes import write_plan

        labels = [p["label"] for p in json.loads(
            (args.out / "labels.json").read_text(encoding="utf-8"))["people"]]
        data = write_plan(args.out, issuer, args.pass_pub, labels)
        args.pass_plan = data
        print(f"{args.out / 'passes.json'}: {len(data['passes'])} passes for "
              f"{len(args.cases)} cases (key {data['kid']}, gate {args.gate})")
    if summary.enroll_plan is not None:
        _identity_outputs(args, summary.enroll_plan, len(summary.enrolled))
    return 0


def _identity_outputs(args: argparse.Namespace, plan: Path, enrolled: int) -> None:
    """enroll.json -> OUT/lists (when the embedder is there), OUT/gate.toml for
    --grant-by-face, and the replay command line that uses them."""
    config = ""
    if args.grant_by_face:
        # identity.* is read only with enabled = true, which needs a lists_dir: the scene's.
        lists_dir = json.dumps(str((args.out / "lists").resolve()))  # a TOML basic string
        (args.out / GATE_CONFIG).write_text(
            "# Written by gate-edge synth --grant-by-face: the policy the scene's labels assume.\n"
            f"[identity]\nenabled = true\nlists_dir = {lists_dir}\n"
            "grant_residents_by_face = true\n" + _passes_config(args), encoding="utf-8")
        config = f" --config {args.out / GATE_CONFIG}"
    roles = json.loads((args.out / "labels.json").read_text(encoding="utf-8"))["identity"]["roles"]
    visitors = f", {roles['visitor']} visitors" if roles.get("visitor") else ""
    print(f"{plan}: {enrolled} subjects to enrol ({roles['resident']} residents, "
          f"{roles['quarantined']} quarantined{visitors}; {roles['stranger']} strangers never "
          "enrolled)")
    if args.no_lists:
        return
    lists = args.out / "lists"
    try:
        from edge.app.enrollment import build_lists

        built = build_lists(plan, lists)
    except EdgeError as exc:
        # A scene is still useful without recognition (temperatures); say how to finish.
        print(f"lists not built: {exc}\n  (gate-edge models fetch, then: gate-edge enroll ... "
              f"per subject of {plan})")
        return
    print(f"{lists}: {built.subjects} subjects, {built.templates} templates ({built.model_id})")
    if args.cases:
        from edge.cli.synth_passes import apply_to_lists

        print(f"{lists}: {apply_to_lists(lists, args.pass_plan)} (passes.json)")
    print(f"replay: gate-edge replay {args.out} --lists {lists}{config} --offline")


def _passes_config(args: argparse.Namespace) -> str:
    """gate.toml's [gate] and [passes] for a pass scene (the gate the passes name, the key)."""
    if not args.cases:
        return ""
    # The key is trusted through the list store (OUT/lists); without one, through the config.
    keys = json.dumps(str(args.pass_pub.resolve()))
    trusted = f"trusted_keys = [{keys}]\n" if args.no_lists else ""
    return (f"\n[gate]\ngate = {json.dumps(args.gate)}\n\n"
            f"[passes]\nenabled = true\n{trusted}")


def _check_iso(text: str | None) -> None:
    if text is None:
        return
    try:
        aware = datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        aware = False
    if not aware:
        raise ConfigError(f"--quarantine-until {text!r}: use ISO 8601 with a zone, e.g. "
                          "2026-12-15T00:00:00Z")


def add_synth_command(sub: SubParsers) -> None:
    p = add_command(
        sub,
        "synth",
        cmd_synth,
        "synthesise a labelled scene (recording v1): thermal-only, or --rgb for RGB + thermal, "
        "with identity roles and their list store",
        "gate-edge synth out/scene --people 24 --seed 1   (or: --rgb --faces DIR; identity: "
        "--rgb --faces ../shared/data/faces --residents 4 --strangers 2 --quarantined 1)",
    )
    p.add_argument("out", type=Path)
    p.add_argument("--people", type=int, default=None,
                   help=f"people in the scene (default {DEFAULT_PEOPLE}, or the roles' sum)")
    p.add_argument("--passers", type=int, default=2, help="people who stay too far to measure")
    p.add_argument("--fever-fraction", type=float, default=0.25)
    p.add_argument("--pair-fraction", type=float, default=None,
                   help=f"share of people arriving in pairs (default {DEFAULT_PAIR_FRACTION}; "
                   "0 with --passes)")
    p.add_argument("--width", type=int, default=160)
    p.add_argument("--height", type=int, default=120)
    p.add_argument("--fps", type=float, default=9.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rotate", type=int, default=0, choices=(0, 90, 180, 270))
    p.add_argument("--encoding", default="centikelvin", choices=("centikelvin", "p2pro", "linear"))
    p.add_argument("--noise-c", type=float, default=0.08)
    p.add_argument("--drift-c", type=float, default=0.4)
    p.add_argument("--rgb", action="store_true", help="RGB + thermal scene with real face photos")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (there is none anyway when stderr is not a terminal)")
    p.add_argument("--faces", type=Path, help="--rgb: folder of face photos (default: a "
                   "public-domain portrait from matplotlib's sample data)")
    g = p.add_argument_group("identity roles (--rgb; --faces with identities.csv)")
    g.add_argument("--residents", type=int, default=0, metavar="N",
                   help="enrolled residents (shown with a photo not used to enrol them)")
    g.add_argument("--strangers", type=int, default=0, metavar="N", help="never enrolled")
    g.add_argument("--quarantined", type=int, default=0, metavar="N",
                   help="enrolled residents with home quarantine in force")
    g.add_argument("--grant-by-face", action="store_true",
                   help="residents expect pass.granted; writes OUT/gate.toml with that policy")
    g.add_argument("--quarantine-until", metavar="ISO8601",
                   help="end of the quarantines (default 2099-12-31T23:59:59Z: in force by "
                   "the scene's clock and today's)")
    g.add_argument("--no-lists", action="store_true",
                   help="write enroll.json only; do not build OUT/lists")
    q = p.add_argument_group("QR passes (--rgb --faces; docs/cli.md)")
    q.add_argument("--passes", metavar="CASES",
                   help="people holding passes, one per case: all, or a comma list of valid, "
                   "expired, not_yet_valid, revoked, forged, tampered, wrong_gate, borrowed, "
                   "stranger_pass, health_code, quarantined, resident_face, unknown, altered, "
                   "small; implies --grant-by-face and no pairs")
    q.add_argument("--pass-key", type=Path, metavar="KEY.pem",
                   help="Ed25519 pass-signing key (default: a new pair in OUT/keys)")
    q.add_argument("--gate", default=DEFAULT_GATE,
                   help=f"the gate the passes are for (default {DEFAULT_GATE})")
