"""The installer's list-store commands (docs/cli.md, DESIGN section 9): `enroll`,
`quarantine add|remove`, `health set`, `lists show`. Argument parsing and printing only; the
work is in edge.app.enrollment and edge.identity.store. Registered by edge.cli.main through
`add_list_commands(sub)`.

Usage problems (a bad time, an unknown subject, a refused photo) are one line, exit 2; a store
that cannot be used is the store's IdentityError (exit 6).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.cli.trust import (
    add_trust_commands,
    increment_flag,
    subject_increment,
    write_increment,
)
from edge.cli.util import add_command
from edge.errors import ConfigError

if TYPE_CHECKING:
    from edge.cli.util import SubParsers
    from edge.identity.store import ListStore, Subject

QUARANTINE_DAYS = 14  # `quarantine add` without --until: the home quarantine of the field


def _when(text: str | None, flag: str) -> datetime | None:
    """ISO 8601 with a zone (Z or +HH:MM) as an aware UTC datetime; ConfigError (one line,
    exit 2) otherwise."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: not ISO 8601; e.g. 2026-12-15T08:00:00Z") from None
    if value.tzinfo is None:
        example = f"{text}Z" if "T" in text else f"{text}T00:00:00Z"
        raise ConfigError(f"{flag} {text!r}: no time zone; add Z (UTC) or +HH:MM, e.g. "
                          f"{example}")
    return value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _lists_dir(args: argparse.Namespace) -> Path:
    """--lists, else the config's identity.lists_dir (or state.dir/lists)."""
    if args.lists is not None:
        return Path(args.lists)
    if args.config is not None:
        from edge.config import load_config

        found = load_config(args.config).lists_dir
        if found is not None:
            return Path(found)
        raise ConfigError(f"{args.config}: neither identity.lists_dir nor state.dir is set; "
                          "give --lists DIR")
    raise ConfigError("which list store? give --lists DIR (or --config FILE)")


def _open(args: argparse.Namespace, *, create: bool = False) -> ListStore:
    from edge.identity.store import ListStore

    directory = _lists_dir(args)
    if not create and not directory.is_dir():
        raise ConfigError(f"--lists {directory}: no such folder (gate-edge enroll creates it)")
    return ListStore.open(directory, create=create)


def _require(store: ListStore, subject_id: str) -> Subject:
    subject = store.subject(subject_id)
    if subject is None:
        raise ConfigError(f"{store.directory}: no subject {subject_id!r}; "
                          f"`gate-edge lists show --lists {store.directory}` lists them")
    return subject


def _stamp(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cmd_enroll(args: argparse.Namespace) -> int:
    from edge.app.enrollment import enroll_photos
    from edge.vision.embedder import FaceEmbedder
    from edge.vision.landmarks import FaceAnalyzer

    missing = [p for p in args.photos if not p.is_file()]
    if missing:
        raise ConfigError(f"{missing[0]}: no such file; nothing enrolled")
    embedder = FaceEmbedder(threads=1)  # before the store: a missing model changes nothing
    analyzer = FaceAnalyzer(threads=1)
    with _open(args, create=True) as store:
        result = enroll_photos(store, args.subject, args.kind, args.photos,
                               analyzer=analyzer, embedder=embedder)
    for face in result.faces:
        print(f"{face.photo}: one face, eyes {face.eye_px:.0f} px apart")
    print(f"{result.subject_id} ({result.kind}): {len(result.faces)} templates added, "
          f"{result.templates} in all ({result.model_id}); list version {result.list_version}")
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    now = _now()
    if args.action == "remove" and args.until is not None:
        raise ConfigError("quarantine remove takes no --until")
    until = _when(args.until, "--until")
    if args.action == "add":
        until = until if until is not None else now + timedelta(days=QUARANTINE_DAYS)
        if until <= now:
            raise ConfigError(f"--until {_stamp(until)} is in the past: nothing would be in "
                              "force")
    with _open(args) as store:
        _require(store, args.subject)
        store.set_quarantine(args.subject, until if args.action == "add" else None)
        version = store.version
        increment = subject_increment(store, args.subject) if args.increment else None
    what = f"home quarantine until {_stamp(until)}" if args.action == "add" else \
        "home quarantine lifted"
    print(f"{args.subject}: {what}; list version {version}")
    return write_increment(args.increment, increment)


def cmd_health(args: argparse.Namespace) -> int:
    at = _when(args.at, "--at") or _now()
    with _open(args) as store:
        _require(store, args.subject)
        store.set_health(args.subject, args.status, at)
        version = store.version
        increment = subject_increment(store, args.subject) if args.increment else None
    print(f"{args.subject}: health {args.status} at {_stamp(at)}; list version {version}")
    return write_increment(args.increment, increment)


def _subject_row(store: ListStore, s: Subject, now: datetime) -> dict[str, Any]:
    templates = {model: len(m) for model, m in store.templates(s.id).items()}
    return {"id": s.id, "kind": s.kind, "templates": templates,
            "quarantine_until": None if s.quarantine_until is None else _stamp(s.quarantine_until),
            "quarantined": s.quarantined_at(now), "health": s.health,
            "health_at": None if s.health_at is None else _stamp(s.health_at)}


def show_data(store: ListStore, now: datetime) -> dict[str, Any]:
    """What `lists show --json` prints: the store's state and its subjects (never templates,
    only how many of each model)."""
    return {
        "lists": str(store.directory), "version": store.version, "origin": store.origin,
        "updated": _stamp(datetime.fromtimestamp(store.updated_ns / 1e9, UTC))
        if store.updated_ns else None,
        "snapshot_needed": store.snapshot_needed, "counts": store.counts(now),
        "subjects": [_subject_row(store, s, now) for s in store.subjects()],
    }


def show_table(data: dict[str, Any]) -> str:
    """The readable form of show_data."""
    c = data["counts"]
    head = (f"{data['lists']}: version {data['version']} ({data['origin']}), updated "
            f"{data['updated'] or 'never'}; {c['subjects']} subjects, {c['templates']} templates, "
            f"{c['quarantined']} in quarantine")
    dcc_revoked = sum(c.get(f"revoked_dcc_{k}", 0) for k in ("uci", "country_uci", "signature"))
    head += (f"\npass trust: {c.get('trusted_compound', 0)} compound keys, "
             f"{c.get('trusted_dcc', 0)} DCC signer certificates; revoked: "
             f"{c.get('revoked_compound', 0)} compound pass ids, {dcc_revoked} DCC hashes")
    rows = [("subject", "kind", "templates", "quarantine", "health")]
    for s in data["subjects"]:
        quarantine = "-" if s["quarantine_until"] is None else (
            f"until {s['quarantine_until']}" if s["quarantined"] else
            f"ended {s['quarantine_until']}")
        health = "-" if s["health"] is None else f"{s['health']} ({s['health_at']})"
        templates = ", ".join(f"{n} {m}" for m, n in s["templates"].items()) or "none"
        rows.append((s["id"], s["kind"], templates, quarantine, health))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join([*(r[i].ljust(widths[i]) for i in range(4)), r[4]]).rstrip()
             for r in rows]
    if len(rows) == 1:
        lines.append("(no subjects)")
    return "\n".join([head, "", *lines])


def cmd_lists_show(args: argparse.Namespace) -> int:
    with _open(args) as store:
        data = show_data(store, _now())
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        print()
    else:
        print(show_table(data))
    return 0


def _store_flags(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("--lists", type=Path, metavar="DIR", required=required,
                   help="the list store folder" + ("" if required else
                                                    " (default: the config's)"))
    if not required:
        p.add_argument("--config", type=Path,
                       help="TOML config: its identity.lists_dir (or state.dir/lists)")


def add_list_commands(sub: SubParsers) -> None:
    """Register `enroll`, `quarantine`, `health` and `lists` on the subcommand parser."""
    p = add_command(
        sub, "enroll", cmd_enroll,
        "face templates from photos into a list store (one face per photo, eyes at least "
        "54 px apart: the embedder's chip); nothing is written if any photo is refused",
        "gate-edge enroll --lists /var/lib/gate-edge/lists --subject resident-0007 "
        "--kind resident photos/0007-a.jpg photos/0007-b.jpg")
    _store_flags(p, required=True)
    p.add_argument("--subject", required=True, help="subject id (A-Z a-z 0-9 _ . : @ + -)")
    p.add_argument("--kind", default="resident", choices=("resident", "worker", "visitor"))
    p.add_argument("photos", type=Path, nargs="+", metavar="PHOTO")

    p = add_command(
        sub, "quarantine", cmd_quarantine,
        f"put an enrolled subject under home quarantine (default {QUARANTINE_DAYS} days) or "
        "lift it; the gate reports quarantine.breach when it sees them",
        "gate-edge quarantine add resident-0007 --until 2026-12-15T00:00:00Z --lists lists/")
    p.add_argument("action", choices=("add", "remove"))
    p.add_argument("subject")
    p.add_argument("--until", metavar="ISO8601",
                   help=f"add: in force until then (default: now + {QUARANTINE_DAYS} days)")
    increment_flag(p)
    _store_flags(p)

    p = add_command(
        sub, "health", cmd_health,
        "set an enrolled subject's health code (green, yellow, red)",
        "gate-edge health set resident-0007 yellow --lists lists/")
    p.add_argument("action", choices=("set",))
    p.add_argument("subject")
    p.add_argument("status", choices=("green", "yellow", "red"))
    p.add_argument("--at", metavar="ISO8601", help="when it was issued (now)")
    increment_flag(p)
    _store_flags(p)

    p = add_command(
        sub, "lists", cmd_lists_show,
        "show a list store: version, counts, and per subject kind, templates (how many, "
        "never the templates), quarantine and health",
        "gate-edge lists show --lists lists/   (--json for one JSON object)")
    p.add_argument("action", choices=("show",))
    p.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    _store_flags(p)
    add_trust_commands(sub)  # pass trust roots and revocations
