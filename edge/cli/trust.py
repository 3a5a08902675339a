"""Pass trust on a local list store (docs/lists.md, docs/cli.md): `trust add|remove|list` and
`revoke add|remove`. Argument parsing and printing; the work is edge.identity.store /
edge.identity.trust. Registered by edge.cli.lists.add_list_commands.

Compound pass keys (`pass-*.pub.pem` from `keygen --purpose pass`) and DCC signer
certificates are pass trust roots; command keys (`cmd-*.pub.pem`) are refused here, since a
gate must never accept a pass signed with the key that signs its commands. A synced
(backend) store refuses local edits like every other list edit.

`--increment FILE` writes the edit as `lists.update` arguments (from the version before it to
the version after it: every local edit raises the version by one), checked against the
gate's schema before anything is edited. A gate that holds every earlier change of this store
applies it; one that does not answers `version_gap` and needs `gate-edge push lists`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.cli.util import add_command
from edge.errors import ConfigError

if TYPE_CHECKING:
    from edge.cli.util import SubParsers
    from edge.identity.trustlists import Revocations

HASH_KINDS = ("compound", "dcc-uci", "dcc-country-uci", "dcc-signature")


def _kid(text: str) -> bytes:
    """A kid as the verifier prints it (base64, 12 characters) or as 16 hex digits."""
    try:
        kid = bytes.fromhex(text) if len(text) == 16 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        kid = b""
    if len(kid) != 8:
        raise ConfigError(f"kid {text!r:.40}: give 12 base64 characters (as `pass verify` "
                          "prints it) or 16 hex digits")
    return kid


def cmd_trust(args: argparse.Namespace) -> int:
    from edge.cli.lists import _open
    from edge.identity.trustlists import kid_to_wire, trusted_to_wire

    if args.action == "list":
        return _trust_list(args)
    if args.action == "remove":
        if args.what is None or len(args.what) != 1:
            raise ConfigError("trust remove takes one KID")
        kid = _kid(args.what[0])
        sections = _checked({"trust_remove": [kid_to_wire(kid)]}, args)
        with _open(args) as store:
            store.remove_trusted(kid)
            version = store.version
        print(f"kid {kid_to_wire(kid)} removed; list version {version}")
        return _increment(args, sections, version)
    keys = _key_files(args.what or [])
    sections = _checked({"trust_add": [trusted_to_wire(k) for k, _ in keys]}, args)
    with _open(args, create=True) as store:
        store.add_trusted([k for k, _ in keys])
        version = store.version
    for key, path in keys:
        print(f"{path}: {key.kind} signer, kid {kid_to_wire(key.kid)} ({key.kid.hex()})")
    print(f"{len(keys)} trusted; list version {version}")
    return _increment(args, sections, version)


def _checked(sections: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """With --increment: the sections as a gate's schema would check them (before any edit)."""
    from edge.commands.handlers import validate_args

    if args.increment is not None:
        try:
            validate_args("lists.update", {"base_version": 0, "version": 1, **sections})
        except ValueError as exc:
            raise ConfigError(f"--increment: {exc}; nothing edited (send a snapshot with "
                              "`gate-edge push lists` instead)") from None
    return sections


def _increment(args: argparse.Namespace, sections: dict[str, Any], version: int) -> int:
    if args.increment is None:
        return 0
    return write_increment(args.increment,
                           {"base_version": version - 1, "version": version, **sections})


def subject_increment(store: Any, subject_id: str) -> dict[str, Any]:
    """The last local edit of one subject's status (`health set`, `quarantine`) as
    `lists.update` arguments: the subject upserted with `templates` null (the gate keeps its
    templates), from the version before the edit to the store's."""
    from edge.identity.wire import SubjectEntry, subject_to_wire

    s = store.subject(subject_id)
    entry = SubjectEntry(s.id, s.kind, s.quarantine_until, s.health, s.health_at, None)
    version = store.version
    return {"base_version": version - 1, "version": version, "upsert": [subject_to_wire(entry)]}


def write_increment(path: Path | None, update: dict[str, Any] | None) -> int:
    """Write `update` (lists.update arguments) as JSON to `path`; exit code 0."""
    if path is None or update is None:
        return 0
    try:
        Path(path).write_text(json.dumps(update, separators=(",", ":")) + "\n")
    except OSError as exc:
        raise ConfigError(f"--increment {path}: {exc.strerror or exc} (the store is edited: "
                          f"version {update['version']}; push a snapshot)") from None
    print(f"increment {update['base_version']} -> {update['version']} written to {path}; send "
          f"it with gate-edge push lists.update --args \"$(cat {path})\" ...")
    return 0


def _key_files(paths: list[str]) -> list[tuple[Any, Path]]:
    from edge.identity.trust import trusted_keys_from_file

    if not paths:
        raise ConfigError("trust add needs FILE... (PEM public keys, PEM or DER certificates)")
    out: list[tuple[Any, Path]] = []
    for name in paths:
        path = Path(name)
        if path.name.startswith("cmd-"):
            raise ConfigError(f"{path}: a command key; passes need their own trust root "
                              "(`gate-edge keygen DIR --purpose pass`)")
        try:
            out.extend((key, path) for key in trusted_keys_from_file(path))
        except OSError as exc:
            raise ConfigError(f"{path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}; nothing trusted") from None
    return out


def _trust_list(args: argparse.Namespace) -> int:
    from cryptography import x509

    from edge.cli.lists import _open

    with _open(args) as store:
        keys = store.trusted()
    rows = []
    for k in keys:
        name = ("-" if k.kind == "compound"
                else x509.load_der_x509_certificate(k.der).subject.rfc4514_string())
        rows.append({"kid": base64.b64encode(k.kid).decode(), "kid_hex": k.kid.hex(),
                     "kind": k.kind, "subject": name,
                     "added": datetime.fromtimestamp(k.added_ns / 1e9, UTC)
                     .strftime("%Y-%m-%dT%H:%M:%SZ")})
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
    else:
        for r in rows:
            print(f"{r['kid']}  {r['kind']:<8}  added {r['added']}  {r['subject']}")
        print(f"{len(rows)} trusted pass signers")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from edge.cli.lists import _open
    from edge.identity.trustlists import Revocations, by_kind, revocations_to_wire

    revoked = _hashes(args)
    merged = [revocations_to_wire(Revocations(k, h.tobytes())) for k, h in by_kind(revoked).items()]
    sections = _checked({f"revoke_{args.action}": merged}, args)
    with _open(args) as store:
        n = store.revoke(revoked, undo=args.action == "remove")
        version = store.version
    total = sum(r.count for r in revoked)
    verb = "revoked" if args.action == "add" else "un-revoked"
    print(f"{n} of {total} hashes {verb} ({total - n} "
          f"{'already there' if args.action == 'add' else 'not there'}); list version {version}")
    return _increment(args, sections, version)


def _hashes(args: argparse.Namespace) -> list[Revocations]:
    from edge.identity.passes.claims import compound_revocation_hash
    from edge.identity.trustlists import Revocations

    out = [Revocations("compound", compound_revocation_hash(p)) for p in args.pass_ids]
    if args.country and not args.dcc_uci:
        raise ConfigError("--country goes with --dcc-uci")
    for uci in args.dcc_uci or ():
        out.append(Revocations("dcc-uci", compound_revocation_hash(uci)))  # sha256(text)[:16]
        if args.country:
            out.append(Revocations("dcc-country-uci",
                                   compound_revocation_hash(args.country + uci)))
    for item in args.hash or ():
        kind, _, value = item.partition(":")
        try:
            raw = (bytes.fromhex(value) if len(value) == 32
                   else base64.b64decode(value, validate=True))
        except (ValueError, binascii.Error):
            raw = b""
        if kind not in HASH_KINDS or len(raw) != 16:
            raise ConfigError(f"--hash {item!r:.60}: give KIND:HASH, KIND one of "
                              f"{', '.join(HASH_KINDS)}, HASH 32 hex digits or 24 base64 "
                              "characters (16 bytes)")
        out.append(Revocations(kind, raw))
    if not out:
        raise ConfigError("nothing to revoke: give PASS_ID..., --dcc-uci or --hash")
    return out


def add_trust_commands(sub: SubParsers) -> None:
    """Register `trust` and `revoke` on the subcommand parser."""
    from edge.cli.lists import _store_flags

    p = add_command(
        sub, "trust", cmd_trust,
        "trust pass signers in a list store: compound pass keys (PEM public keys from "
        "`keygen --purpose pass`) and DCC signer certificates (PEM or DER); remove by kid; list",
        "gate-edge trust add keys/pass-0123456789abcdef.pub.pem dsc-de.pem --lists lists/\n"
        "  gate-edge trust remove 7x2cIk3mWSw= --lists lists/   |   gate-edge trust list "
        "--lists lists/")
    p.add_argument("action", choices=("add", "remove", "list"))
    p.add_argument("what", nargs="*", metavar="FILE|KID")
    p.add_argument("--json", action="store_true", help="list: one JSON array")
    increment_flag(p)
    _store_flags(p)

    p = add_command(
        sub, "revoke", cmd_revoke,
        "revoke passes in a list store (or take a revocation back): compound pass ids, DCC "
        "certificate identifiers (UCI, optionally with the issuing country), or raw hashes",
        "gate-edge revoke add pass-7f3a91 --lists lists/\n"
        "  gate-edge revoke add --dcc-uci URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813 "
        "--country AT --lists lists/\n"
        "  gate-edge revoke add --hash dcc-signature:00112233445566778899aabbccddeeff "
        "--lists lists/")
    p.add_argument("action", choices=("add", "remove"))
    p.add_argument("pass_ids", nargs="*", metavar="PASS_ID", help="compound pass ids")
    p.add_argument("--dcc-uci", action="append", metavar="UCI",
                   help="a DCC's certificate identifier (its `ci`); repeatable")
    p.add_argument("--country", metavar="CC",
                   help="with --dcc-uci: the issuing country (CWT iss), adds the "
                        "country+UCI hash")
    p.add_argument("--hash", action="append", metavar="KIND:HASH",
                   help=f"a 16-byte hash as the revocation lists carry it; KIND one of "
                        f"{', '.join(HASH_KINDS)}; repeatable")
    increment_flag(p)
    _store_flags(p)


def increment_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--increment", type=Path, metavar="FILE",
                   help="also write this edit as lists.update arguments (JSON) for "
                        "`gate-edge push lists.update --args`")
