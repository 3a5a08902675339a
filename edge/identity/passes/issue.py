"""Issuing a compound pass: CWT claims -> COSE_Sign1 (EdDSA) -> zlib -> Base45 -> prefix,
and its QR image.

QR: alphanumeric mode (the Base45 alphabet and the prefix are all in the QR alphanumeric set,
so the text packs 5.5 bits a character), error correction M (15 % of codewords recoverable:
a crease or a phone's glare), PNG at QR_SCALE pixels a module, 4-module quiet zone, and a
DPI so that printing it at 100 % gives MODULE_MM millimetre modules. Why 2 mm: a 640x480
camera with a ~60 degree horizontal field sees ~0.58 m across at an arm's length of 0.5 m,
1.1 px/mm; zxing-cpp reads an issued pass in a 640x480 frame from 2 px a module, not at
1.75 (bench/bench_passes.py, slight blur), so a module needs >= ~1.8 mm. A
~270-character pass (gates, 24-digit pass id) is a version 10 code: 57 modules + quiet zone =
65, 130 mm printed. Held closer (0.3 m) half that size reads.
On a phone, show it full width at full brightness.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import cbor2
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.identity.passes import claims as cl
from edge.identity.passes.codec import COMPOUND_PREFIX, encode_text
from edge.identity.passes.cose import sign_ed25519
from edge.identity.passes.keys import kid_of_public_key

__all__ = ["MODULE_MM", "QR_SCALE", "issue_pass", "new_pass_id", "write_qr_png"]

QR_SCALE = 10  # pixels per module in the PNG
MODULE_MM = 2.0
QR_ERROR = "M"
QR_BORDER = 4  # modules of quiet zone (ISO/IEC 18004)


def new_pass_id() -> str:
    """24 hex digits (96 random bits): unguessable, short in the QR."""
    return os.urandom(12).hex()


def _seconds(value: datetime, what: str) -> int:
    if value.tzinfo is None:
        raise ValueError(f"{what} needs a time zone (e.g. 2026-12-01T08:00:00Z)")
    return int(value.timestamp())


def issue_pass(private_key: Ed25519PrivateKey, *, subject: str, kind: str,
               valid_from: datetime, valid_to: datetime, gates: Sequence[str] | None = None,
               pass_id: str | None = None, issuer: str | None = None,
               issued_at: datetime | None = None, prefix: str = COMPOUND_PREFIX) -> str:
    """The payload text of a signed compound pass (what the QR carries). Raises ValueError on
    claims the verifier would refuse, so an issued pass always decodes."""
    if kind not in cl.HOLDER_KINDS:
        raise ValueError(f"kind {kind!r}: one of {', '.join(cl.HOLDER_KINDS)}")
    nbf, exp = _seconds(valid_from, "valid_from"), _seconds(valid_to, "valid_to")
    if exp <= nbf:
        raise ValueError("valid_to must be after valid_from")
    pass_id = pass_id or new_pass_id()
    # The verifier refuses a pass before its iat; one issued in advance of its window gets
    # iat = nbf so it is valid from nbf on.
    iat = min(_seconds(issued_at or datetime.now(UTC), "issued_at"), nbf)
    claims: dict[int | str, object] = {
        cl.CLAIM_SUB: subject, cl.CLAIM_EXP: exp, cl.CLAIM_NBF: nbf,
        cl.CLAIM_IAT: iat,
        cl.CLAIM_CTI: pass_id.encode("utf-8"), cl.CLAIM_KIND: kind,
    }
    if issuer is not None:
        claims[cl.CLAIM_ISS] = issuer
    if gates is not None:
        claims[cl.CLAIM_GATES] = list(gates)
    cl.parse_compound(claims)  # the verifier's own rules: refuse what it would refuse
    payload = cbor2.dumps(claims)
    cose = sign_ed25519(private_key, payload, kid_of_public_key(private_key.public_key()))
    return encode_text(prefix, cose)


def write_qr_png(text: str, path: Path, *, scale: int = QR_SCALE) -> int:
    """Write `text` as an alphanumeric-mode, level-M QR PNG; returns the QR version."""
    qr = segno.make_qr(text, error=QR_ERROR, mode="alphanumeric", boost_error=False)
    dpi = round(scale * 25.4 / MODULE_MM)
    qr.save(str(path), kind="png", scale=scale, border=QR_BORDER, dpi=dpi)
    return int(qr.version)
