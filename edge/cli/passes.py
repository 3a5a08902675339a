"""`gate-edge pass issue` / `pass verify`, and `keygen --purpose pass` (docs/passes.md).

Argument parsing, file reading and printing; the work is in edge.identity.passes. Registered
by edge.cli.main.build_parser through `add_pass_commands(sub)`.

`pass verify --image`: the whole image goes to zxing-cpp through edge.vision.qr (the
camera's QR reader: full QR codes only, any angle, inverted codes tried). Several codes:
each is verified and the verdict printed is the first valid one, else the first with a known
pass prefix, else the first code; a note on stderr says how many codes were found. No code:
an `unreadable` verdict with `checks.qr` false.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.cli.util import add_command
from edge.errors import ConfigError

if TYPE_CHECKING:
    from edge.cli.util import SubParsers
    from edge.identity.passes.verify import PassVerdict

__all__ = ["add_pass_commands", "decode_qr_image", "keygen_pass", "verify_image"]


def _when(text: str) -> datetime:
    """ISO 8601; a time without a zone is UTC; a bare date is its midnight UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: ISO 8601, e.g. 2026-12-01T08:00:00Z") \
            from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def keygen_pass(directory: Path) -> int:
    """`gate-edge keygen DIR --purpose pass`."""
    from edge.identity.passes.keys import generate_pass_keypair

    private_path, public_path, kid = generate_pass_keypair(directory)
    print(f"kid {kid.hex()} (in passes: {base64.b64encode(kid).decode()})")
    print(f"public key:  {public_path}   (pass trust root: give it to every gate that must "
          "accept these passes; never mix with command keys)")
    print(f"private key: {private_path}   (mode 600; keep it with the pass issuer)")
    return 0


def cmd_pass_issue(args: argparse.Namespace) -> int:
    from edge.identity.passes.issue import issue_pass, write_qr_png
    from edge.identity.passes.keys import load_pass_private_key

    key = load_pass_private_key(args.key)
    gates = [g.strip() for g in args.gates.split(",") if g.strip()] if args.gates else None
    try:
        text = issue_pass(key, subject=args.subject, kind=args.kind, valid_from=args.valid_from,
                          valid_to=args.valid_to, gates=gates, pass_id=args.pass_id,
                          issuer=args.issuer)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if args.out is not None:
        try:
            version = write_qr_png(text, args.out)
        except OSError as exc:
            raise ConfigError(f"{args.out}: cannot write the QR image: {exc}") from None
        print(f"{args.out}: QR version {version}, {len(text)} characters", file=sys.stderr)
    print(text)
    return 0


def decode_qr_image(path: Path) -> list[str]:
    """Texts of every QR code found in the image file (edge.vision.qr: the camera's reader,
    on the whole image, inverted codes too; transparency over white), in reading order."""
    from edge.vision.qr import QrReader, read_image_file

    try:
        image = read_image_file(path)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return list(QrReader(try_invert=True).read(image).decoded().texts)


def _no_code_verdict(path: Path) -> dict[str, Any]:
    checks: dict[str, bool | None] = {"qr": False}
    checks.update(dict.fromkeys(("prefix", "base45", "zlib", "cose", "claims", "decode",
                                 "signature", "expiry", "revocation", "gate")))
    return {"valid": False, "reason": "unreadable", "kind": None, "subject": None, "kid": None,
            "not_before": None, "expires": None, "checks": checks, "pass_id": None,
            "holder_kind": None, "gates": None,
            "digest": hashlib.sha256(b"").hexdigest(), "detail": f"qr: no QR code in {path}"}


def verify_image(verifier: Any, path: Path, at: datetime) -> dict[str, Any]:
    """The `pass verify --image` JSON object (see the module docstring for several codes)."""
    texts = decode_qr_image(path)
    if not texts:
        return _no_code_verdict(path)
    if len(texts) > 1:
        print(f"{path}: {len(texts)} QR codes; printing the first valid (else first pass) one",
              file=sys.stderr)
    verdicts: list[PassVerdict] = [verifier.verify(t, at) for t in texts]
    chosen = next((v for v in verdicts if v.valid), None) or next(
        (v for v in verdicts if v.checks["prefix"]), verdicts[0])
    out = chosen.to_json()
    out["checks"] = {"qr": True, **chosen.checks}
    return out


def _trust(args: argparse.Namespace) -> Any:
    from edge.identity.passes.keys import StaticTrust

    trust = StaticTrust.from_files(args.trust or [])
    if args.lists is None:
        return trust
    try:  # P2's list-store trust source (edge/identity/trust.py), when it is there
        store_trust = importlib.import_module("edge.identity.trust")
    except ImportError:
        raise ConfigError("--lists: this gate-edge has no trust store yet; use --trust FILE") \
            from None
    return store_trust.combined(trust, args.lists)


def cmd_pass_verify(args: argparse.Namespace) -> int:
    from edge.identity.passes.verify import PassVerifier

    if (args.payload is None) == (args.image is None):
        raise ConfigError("give the payload text or --image FILE (one of them)")
    verifier = PassVerifier(_trust(args), gate=args.gate)
    at = args.at or datetime.now(UTC)
    if args.image is not None:
        out = verify_image(verifier, args.image, at)
    else:
        out = verifier.verify(args.payload, at).to_json()
    print(json.dumps(out, indent=2 if args.pretty else None))
    return 0 if out["valid"] else 1


def add_pass_commands(sub: SubParsers) -> None:
    """Register `pass issue` and `pass verify` on the gate-edge subcommand parser."""
    group = add_command(
        sub, "pass", _usage, "issue and verify signed QR passes",
        "gate-edge pass verify 'GE1:...' --trust keys/pass-0123456789abcdef.pub.pem")
    passes = group.add_subparsers(dest="pass_command", metavar="ACTION", required=True)
    p = add_command(
        passes, "issue", cmd_pass_issue,
        "sign a compound pass with an Ed25519 pass key; prints the payload text, --out writes "
        "the QR PNG (alphanumeric, level M, 2 mm modules printed at 100 %%)",
        "gate-edge pass issue --key keys/pass-0123456789abcdef.key.pem --subject v-0042 "
        "--kind visitor --from 2026-12-01T08:00Z --to 2026-12-01T18:00Z --gates north "
        "--out pass.png")
    p.add_argument("--key", type=Path, required=True, help="pass-*.key.pem (keygen --purpose pass)")
    p.add_argument("--subject", required=True, help="the holder's subject id (list store)")
    p.add_argument("--kind", required=True, choices=("visitor", "worker", "resident"))
    p.add_argument("--from", dest="valid_from", type=_when, required=True, help="ISO 8601")
    p.add_argument("--to", dest="valid_to", type=_when, required=True, help="ISO 8601")
    p.add_argument("--gates", help="comma-separated gate names (default: every gate)")
    p.add_argument("--pass-id", help="pass id (default: 24 random hex digits)")
    p.add_argument("--issuer", help="iss claim (optional)")
    p.add_argument("--out", type=Path, help="write the QR code as PNG here")
    _add_verify(passes)


def _add_verify(passes: SubParsers) -> None:
    p = add_command(
        passes, "verify", cmd_pass_verify,
        "verify a pass (compound GE1: or EU DCC HC1:) from its text or a QR image; prints one "
        "JSON verdict; exit 0 valid, 1 not valid, 2 usage",
        "gate-edge pass verify --image pass.png --trust keys/pass-0123456789abcdef.pub.pem "
        "--at 2026-12-01T12:00Z")
    p.add_argument("payload", nargs="?", help="the payload text (quote it)")
    p.add_argument("--image", type=Path, help="PNG/JPEG holding the QR code")
    p.add_argument("--trust", type=Path, action="append", metavar="FILE",
                   help="PEM public key(s) / PEM or DER X.509 certificate (repeatable)")
    p.add_argument("--lists", type=Path, metavar="DIR",
                   help="list store: its trusted keys and revocations (in addition to --trust)")
    p.add_argument("--at", type=_when, help="verification time, ISO 8601 (default: now)")
    p.add_argument("--gate", help="this gate's name, for passes limited to some gates")
    p.add_argument("--pretty", action="store_true", help="indented JSON")


def _usage(args: argparse.Namespace) -> int:  # unreachable: argparse requires an ACTION
    raise ConfigError("pass: give an action, issue or verify")
