"""`gate-edge push lists`: a list store sent to gates as a signed `lists.snapshot` in parts
(docs/cli.md, docs/lists.md): its subjects and templates, and its pass trust (trusted keys,
revocation hashes), which a snapshot replaces on the gate as well.

The store keeps no change log, so only full snapshots are sent: an increment from an older
version cannot be rebuilt honestly from the current content (a removed subject leaves no
trace). `lists.update` increments can still be sent one at a time with
`gate-edge push lists.update --args '{...}'`.

With `--wait` the results are read from the gate's `cmd_result` topic, subscribed before the
first part is published; each part is reported as applied, rejected (with the gate's reason)
or unanswered. Exit codes: 0 every part published (and, with --wait, applied), 1 a part was
rejected or unanswered, 2 usage, 4 broker, 6 list store.
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.errors import BrokerError, ConfigError
from edge.identity.sync import ARGS_BUDGET_BYTES

__all__ = ["PushedPart", "cmd_push_lists", "collect_results", "signed_parts", "store_snapshot"]

# Flags that only `push lists` takes, and the flag of `push NAME` it does not.
LISTS_ONLY = ("lists", "version", "part_bytes", "wait", "timeout")
MIN_PART_BYTES = 1024  # smaller parts would not hold one subject with a 128-D template
DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class PushedPart:
    """One signed part: the envelope's id and bytes, and what it carries."""

    id: str
    payload: bytes
    part: int
    parts: int
    subjects: int
    trusted: int = 0  # pass signer keys
    revoked: int = 0  # revocation hashes


def store_snapshot(directory: Path, version: int | None,
                   budget_bytes: int) -> tuple[int, list[dict[str, Any]]]:
    """The `lists.snapshot` arguments of the whole store at `directory`: every subject with
    its templates, and the trusted pass keys and revocation hashes (a snapshot replaces those
    on the gate too: left out, they would be wiped). At `version` (default: the store's own),
    in parts of at most `budget_bytes` of JSON. IdentityError when the store cannot be
    opened; ConfigError when the version is not usable or an entry does not fit one part."""
    from edge.identity.store import ListStore
    from edge.identity.sync import snapshot_args
    from edge.identity.trustlists import REVOCATION_KINDS, Revocations
    from edge.identity.wire import SubjectEntry, Template

    with ListStore.open(directory, create=False) as store:
        stored = store.version
        entries = [
            SubjectEntry(s.id, s.kind, s.quarantine_until, s.health, s.health_at,
                         tuple(Template(model, row) for model, rows
                               in store.templates(s.id).items() for row in rows))
            for s in store.subjects()]
        trust = store.trusted()
        revoked = [Revocations(kind, hashes) for kind in REVOCATION_KINDS
                   if (hashes := store.revoked(kind))]
    chosen = stored if version is None else version
    if chosen < 1:
        raise ConfigError(f"{directory}: the list store is at version {stored} (never edited); "
                          "give --version N (N >= 1) to send it")
    try:
        return chosen, snapshot_args(entries, chosen, budget_bytes, trust=trust,
                                     revoked=revoked)
    except ValueError as exc:
        raise ConfigError(f"{directory}: {exc}") from None


def signed_parts(key: Any, parts: Sequence[dict[str, Any]], site: str, gate: str,
                 ttl_s: float) -> list[PushedPart]:
    """Every part checked against the gate's schema and signed, before anything is sent:
    a part the gate would refuse stops the push with one line (ConfigError)."""
    from edge.commands.handlers import validate_args
    from edge.commands.verify import sign_command
    from edge.identity.sync import SNAPSHOT
    from edge.identity.trustlists import HASH_BYTES

    out = []
    for args in parts:
        try:
            validate_args(SNAPSHOT, args)
        except ValueError as exc:
            raise ConfigError(f"part {args['part']} of {args['parts']}: {exc}") from None
        payload = sign_command(key, SNAPSHOT, args, site, gate, ttl_s)
        out.append(PushedPart(json.loads(payload)["id"], payload, args["part"], args["parts"],
                              len(args["subjects"]), len(args.get("trust", ())),
                              sum(len(base64.b64decode(r["hashes"])) // HASH_BYTES
                                  for r in args.get("revoked", ()))))
    return out


def collect_results(sub: Any, ids: set[str], timeout_s: float,
                    clock: Any = time.monotonic) -> dict[str, dict[str, Any]]:
    """`cmd_result` bodies for `ids` from subscriber `sub` (`get(timeout)` -> (topic,
    payload) or None), until each has one or `timeout_s` has passed. Other results (other
    senders' commands) and unparseable messages are skipped."""
    found: dict[str, dict[str, Any]] = {}
    deadline = clock() + timeout_s
    while len(found) < len(ids) and (left := deadline - clock()) > 0:
        message = sub.get(min(left, 0.5))
        if message is None:
            continue
        try:
            body = json.loads(message[1])
        except ValueError:
            continue
        if isinstance(body, dict) and body.get("id") in ids and body["id"] not in found:
            found[body["id"]] = body
    return found


def _check_flags(args: argparse.Namespace) -> None:
    if args.lists is None:
        raise ConfigError("push lists needs --lists DIR (the list store to send)")
    if args.args:
        raise ConfigError("push lists takes no --args: the arguments are built from --lists")
    if args.wait and args.all_gates:
        raise ConfigError("--wait needs --gate: with --all-gates the number of gates that "
                          "answer is not known")
    if args.version is not None and not 1 <= args.version <= 2**53 - 1:
        raise ConfigError(f"--version {args.version}: must be from 1 to 2**53 - 1")
    if args.timeout is not None and not args.timeout > 0:
        raise ConfigError(f"--timeout {args.timeout:g}: must be > 0 seconds")
    if args.part_bytes is not None and not (MIN_PART_BYTES <= args.part_bytes
                                            <= ARGS_BUDGET_BYTES):
        raise ConfigError(f"--part-bytes {args.part_bytes}: must be from {MIN_PART_BYTES} to "
                          f"{ARGS_BUDGET_BYTES} (what fits a gate's 16 KiB envelope)")


def _content(parts: Sequence[PushedPart]) -> str:
    """'12 subjects[, 2 trusted keys][, 40 revocation hashes] in 3 parts'."""
    text = f"{sum(p.subjects for p in parts)} subjects"
    if trusted := sum(p.trusted for p in parts):
        text += f", {trusted} trusted keys"
    if revoked := sum(p.revoked for p in parts):
        text += f", {revoked} revocation hashes"
    return text + f" in {len(parts)} part{'s' if len(parts) != 1 else ''}"


def _report(parts: Sequence[PushedPart], results: dict[str, dict[str, Any]],
            timeout_s: float) -> int:
    failed = 0
    for p in parts:
        body = results.get(p.id)
        if body is None:
            state = f"no result within {timeout_s:g} s"
        elif body.get("status") == "applied":
            state = "applied"
        else:
            state = f"rejected: {body.get('reason')}"
        failed += state != "applied"
        print(f"part {p.part}/{p.parts} id {p.id}: {state}")
    return 1 if failed else 0


def cmd_push_lists(args: argparse.Namespace) -> int:
    """`push lists`: the store's full content as signed snapshot parts, then (with --wait)
    each part's result."""
    from edge.app.wiring import broker_options
    from edge.cli.backend import push_target
    from edge.commands.envelope import command_topic
    from edge.commands.keys import load_private_key
    from edge.identity.sync import SNAPSHOT
    from edge.transport.events import gate_topic
    from edge.transport.mqtt import Subscriber, publish_once

    _check_flags(args)
    settings, prefix, gate = push_target(args)
    timeout_s = args.timeout or DEFAULT_TIMEOUT_S
    version, part_args = store_snapshot(Path(args.lists), args.version,
                                        args.part_bytes or ARGS_BUDGET_BYTES)
    parts = signed_parts(load_private_key(args.key), part_args, args.site, gate, args.ttl)
    options = broker_options(settings)
    topic = command_topic(prefix, args.site, gate, SNAPSHOT)
    sub = None
    if args.wait:  # subscribed before the first part goes out, so no result is missed
        sub = Subscriber(options, [gate_topic(prefix, args.site, gate, "cmd_result")]).start()
        if not sub.subscribed.wait(settings.mqtt.connect_timeout_s + 5):
            sub.close()
            raise BrokerError(f"cannot subscribe to {gate}'s cmd_result on {options.url}")
    try:
        for sent, p in enumerate(parts):
            try:
                publish_once(options, topic, p.payload,
                             timeout_s=settings.mqtt.connect_timeout_s)
            except BrokerError as exc:  # the gate keeps the parts it has staged: push again
                raise BrokerError(f"{exc} (after {sent} of {len(parts)} parts)") from None
        target = "every gate of the site" if gate == "*" else f"gate {gate}"
        print(f"lists.snapshot version {version}: {_content(parts)} -> {topic} ({target}; "
              f"acknowledged by {settings.mqtt.broker}, expires in {args.ttl:g} s)")
        if sub is None:
            for p in parts:
                print(f"part {p.part}/{p.parts} id {p.id}: published")
            return 0
        results = collect_results(sub, {p.id for p in parts}, timeout_s)
    finally:
        if sub is not None:
            sub.close()
    return _report(parts, results, timeout_s)
