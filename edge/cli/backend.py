"""Backend-side helpers on the command line (docs/cli.md): `keygen` and `push`.

Argument parsing and printing only; the work is in edge.commands.verify and
edge.transport.mqtt. Registered
by edge.cli.main.build_parser through `add_backend_commands(sub)`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.cli.lists_push import DEFAULT_TIMEOUT_S, MIN_PART_BYTES
from edge.cli.util import add_command
from edge.errors import ConfigError
from edge.identity.sync import ARGS_BUDGET_BYTES

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def cmd_keygen(args: argparse.Namespace) -> int:
    from edge.commands.keys import generate_keypair, load_public_keys

    if args.purpose == "pass":  # a separate trust root: pass-*.pem (edge.cli.passes)
        from edge.cli.passes import keygen_pass

        return keygen_pass(args.dir)

    private_path, public_path = generate_keypair(args.dir)
    (kid,) = load_public_keys([public_path])  # read back: what a gate will load
    print(f"kid {kid}")
    print(f"public key:  {public_path}   (copy to every gate that must obey this key)")
    print(f"private key: {private_path}   (mode 600; keep it on the backend, never on a gate)")
    return 0


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('must be a JSON object, e.g. \'{"mode": "strict"}\'')
    return value


def _target(args: argparse.Namespace) -> str:
    """The envelope's `gate`: --gate NAME, or "*" for --all-gates; one of them is required."""
    from edge.transport.events import check_topic_level

    if args.all_gates:
        return "*"
    if args.gate is None:
        raise ConfigError("push needs a target: --gate NAME or --all-gates")
    if args.gate == "*":
        raise ConfigError("--gate '*': use --all-gates to target every gate of the site")
    try:
        check_topic_level(args.gate, "--gate")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return str(args.gate)


def push_target(args: argparse.Namespace) -> tuple[Any, str, str]:
    """(settings, topic prefix, envelope `gate`) of a push, every topic level checked.

    --config only supplies the broker (URL, credentials, TLS) and the topic prefix; the
    target always comes from --site/--gate so a gate's config cannot redirect a push."""
    from edge.config import load_config, with_overrides
    from edge.transport.events import check_topic_level

    settings = with_overrides(load_config(args.config), broker=args.broker)
    prefix = args.prefix or settings.mqtt.prefix
    for value, what in ((args.site, "--site"), (prefix, "--prefix")):
        try:
            check_topic_level(value, what)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return settings, prefix, _target(args)


def cmd_push(args: argparse.Namespace) -> int:
    from edge.app.wiring import broker_options
    from edge.cli.lists_push import LISTS_ONLY, cmd_push_lists
    from edge.commands.envelope import command_topic
    from edge.commands.handlers import validate_args
    from edge.commands.keys import load_private_key
    from edge.commands.verify import sign_command
    from edge.transport.mqtt import publish_once

    if args.name == "lists":
        return cmd_push_lists(args)
    for dest in LISTS_ONLY:
        if getattr(args, dest) not in (None, False):
            flag = "--" + dest.replace("_", "-")
            raise ConfigError(f"{flag} is only for `push lists` (push {args.name} sends --args)")
    settings, prefix, gate = push_target(args)
    cfg = settings.mqtt
    try:
        validate_args(args.name, args.args)  # the gate's own schema: refuse before signing
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    key = load_private_key(args.key)
    payload = sign_command(key, args.name, args.args, args.site, gate, args.ttl)
    topic = command_topic(prefix, args.site, gate, args.name)
    publish_once(broker_options(settings), topic, payload, timeout_s=cfg.connect_timeout_s)
    command_id = json.loads(payload)["id"]
    target = "every gate of the site" if gate == "*" else f"gate {gate}"
    print(
        f"{args.name} id {command_id} -> {topic} ({target}; acknowledged by {cfg.broker}, "
        f"expires in {args.ttl:g} s)"
    )
    return 0


def _ttl(text: str) -> float:
    from edge.commands.envelope import MAX_TTL_S

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: seconds, e.g. 300") from None
    if not 0 < value <= MAX_TTL_S:
        raise argparse.ArgumentTypeError(f"{text!r}: must be > 0 and <= {MAX_TTL_S}")
    return value


def add_backend_commands(sub: SubParsers) -> None:
    """Register `keygen` and `push` on the gate-edge subcommand parser."""
    p = add_command(
        sub,
        "keygen",
        cmd_keygen,
        "write a new Ed25519 key pair: command signing (cmd-KID.key.pem, cmd-KID.pub.pem) or, "
        "with --purpose pass, pass signing (pass-KID.key.pem, pass-KID.pub.pem)",
        "gate-edge keygen /etc/gate-edge/keys\n  gate-edge keygen backend/keys --purpose pass",
    )
    p.add_argument("dir", type=Path, help="directory for the two PEM files (created, mode 700)")
    p.add_argument("--purpose", choices=("command", "pass"), default="command",
                   help="command (default) or pass keys: separate trust roots")

    p = add_command(
        sub,
        "push",
        cmd_push,
        "check a command's args against the gate's schema, sign it and publish it to one gate "
        "(--gate) or a whole site (--all-gates), QoS 1, waiting for PUBACK; `push lists` "
        "sends a list store as a signed lists.snapshot in parts",
        "gate-edge push screening.set --key keys/cmd-0123456789abcdef.key.pem --site s1 "
        "--gate north --args '{\"threshold_c\": 37.5}' --broker mqtt://127.0.0.1:1883\n"
        "  gate-edge push lists --lists backend/lists --key keys/cmd-0123456789abcdef.key.pem "
        "--site s1 --gate north --wait",
    )
    p.add_argument("name", help="command name, e.g. screening.set (one a gate implements), "
                                "or `lists` to send the store given with --lists")
    p.add_argument("--key", type=Path, required=True, help="private key from `gate-edge keygen`")
    p.add_argument("--site", required=True, help="site name (topic level)")
    target = p.add_mutually_exclusive_group()  # one is required (checked in cmd_push)
    target.add_argument("--gate", help="target gate name")
    target.add_argument("--all-gates", action="store_true",
                        help="target every gate of the site (site topic)")
    p.add_argument("--args", type=_json_object, default={}, help="JSON object (default {})")
    p.add_argument("--ttl", type=_ttl, default=300.0, help="seconds until it expires (300)")
    p.add_argument("--config", type=Path, help="TOML config: broker, credentials, TLS, prefix")
    p.add_argument("--broker", help="mqtt://host:port or mqtts://host:port")
    p.add_argument("--prefix", help="topic prefix (default: the config's, else 'gate')")
    lists = p.add_argument_group("push lists")
    lists.add_argument("--lists", type=Path, help="the list store to send (push lists only)")
    lists.add_argument("--version", type=int,
                       help="list version of the snapshot (default: the store's)")
    lists.add_argument("--part-bytes", type=int,
                       help=f"largest part, bytes of JSON args ({ARGS_BUDGET_BYTES}, the most "
                            f"a gate accepts; at least {MIN_PART_BYTES})")
    lists.add_argument("--wait", action="store_true",
                       help="wait for each part's cmd_result (--gate only); exit 1 if one is "
                            "rejected or unanswered")
    lists.add_argument("--timeout", type=float,
                       help=f"seconds --wait waits for the results ({DEFAULT_TIMEOUT_S:g})")
