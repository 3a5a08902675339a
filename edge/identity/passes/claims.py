"""CWT claims (RFC 8392) of the two issuers, read strictly, and their revocation hashes.

Compound pass: iss (1, optional text), sub (2) = the holder's subject id, exp (4), nbf (5),
iat (6, optional), cti (7) = the pass id as UTF-8 bytes, and the private claims "kind"
(visitor | worker | resident) and "gates" (list of gate names; absent = every gate).
DCC (eHealth network hcert spec): iss (1, the issuing country), exp (4), iat (6; tolerated
when absent) and hcert (-260) = {1: the certificate}; the UCI is `ci` of its single v, t or
r entry.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edge.identity.passes.codec import DecodeError

__all__ = ["HOLDER_KINDS", "Claims", "compound_revocation_hash", "dcc_revocation_hashes",
           "parse_compound", "parse_dcc"]

CLAIM_ISS, CLAIM_SUB, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI = 1, 2, 4, 5, 6, 7
CLAIM_KIND, CLAIM_GATES = "kind", "gates"
CLAIM_HCERT = -260
HCERT_V1 = 1
HOLDER_KINDS = ("visitor", "worker", "resident")
DCC_ENTRY_KEYS = ("v", "t", "r")  # vaccination, test, recovery
REVOCATION_HASH_BYTES = 16  # DCC revocation: SHA-256 truncated to 128 bits
MAX_TEXT = 256  # subject ids, pass ids, gate names, UCIs (a UCI is at most 72 characters)
MAX_GATES = 64


@dataclass(frozen=True, slots=True)
class Claims:
    pass_id: str
    subject: str | None
    holder_kind: str | None
    issuer: str | None
    not_before: datetime | None  # compound: nbf; DCC: iat (a DCC is not valid before issue)
    expires: datetime
    issued_at: datetime | None
    gates: tuple[str, ...] | None


def _map(value: object, what: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise DecodeError(f"{what} is {type(value).__name__}, not a map")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise DecodeError(f"{what} must be text of 1..{MAX_TEXT} characters")
    return value


def _date(value: object, what: str) -> datetime:
    """NumericDate (RFC 8392 section 2): seconds since the epoch, integer or float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(f"{what} is {type(value).__name__}, not a NumericDate")
    if not math.isfinite(value):
        raise DecodeError(f"{what} is not finite")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, ValueError, OSError):
        raise DecodeError(f"{what} {value} is out of range") from None


def _optional_date(claims: Mapping[Any, Any], key: int, what: str) -> datetime | None:
    return _date(claims[key], what) if key in claims else None


def _gates(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not 0 < len(value) <= MAX_GATES:
        raise DecodeError(f"gates must be a list of 1..{MAX_GATES} gate names")
    return tuple(_text(g, "a gate name") for g in value)


def parse_compound(payload: object) -> Claims:
    claims = _map(payload, "CWT claims")
    missing = [name for key, name in ((CLAIM_SUB, "sub"), (CLAIM_EXP, "exp"),
                                      (CLAIM_NBF, "nbf"), (CLAIM_CTI, "cti"),
                                      (CLAIM_KIND, "kind")) if key not in claims]
    if missing:
        raise DecodeError("claims missing: " + ", ".join(missing))
    cti = claims[CLAIM_CTI]
    if not isinstance(cti, bytes):
        raise DecodeError("cti is not a byte string")
    try:
        pass_id = _text(cti.decode("utf-8"), "cti")
    except UnicodeDecodeError:
        raise DecodeError("cti is not UTF-8") from None
    kind = claims[CLAIM_KIND]
    if kind not in HOLDER_KINDS:
        raise DecodeError(f"kind must be one of {', '.join(HOLDER_KINDS)}")
    return Claims(
        pass_id=pass_id,
        subject=_text(claims[CLAIM_SUB], "sub"),
        holder_kind=str(kind),
        issuer=_text(claims[CLAIM_ISS], "iss") if CLAIM_ISS in claims else None,
        not_before=_date(claims[CLAIM_NBF], "nbf"),
        expires=_date(claims[CLAIM_EXP], "exp"),
        issued_at=_optional_date(claims, CLAIM_IAT, "iat"),
        gates=_gates(claims[CLAIM_GATES]) if CLAIM_GATES in claims else None,
    )


def dcc_uci(hcert: Mapping[Any, Any]) -> str:
    """`ci` of the certificate's entry: the first of v, t, r that is a non-empty list (the
    schema allows exactly one; judging "exactly one" is schema validation, not decoding)."""
    for key in DCC_ENTRY_KEYS:
        entries = hcert.get(key)
        if isinstance(entries, list | tuple) and entries:
            entry = _map(entries[0], f"hcert {key}[0]")
            return _text(entry.get("ci"), f"hcert {key}[0].ci")
    raise DecodeError("hcert has no v, t or r entry")


def parse_dcc(payload: object) -> Claims:
    claims = _map(payload, "CWT claims")
    # iat "SHALL" be present too, but it only narrows the window: tolerated when absent.
    missing = [name for key, name in ((CLAIM_EXP, "exp"), (CLAIM_HCERT, "hcert"))
               if key not in claims]
    if missing:
        raise DecodeError("claims missing: " + ", ".join(missing))
    hcert = _map(_map(claims[CLAIM_HCERT], "hcert (-260)").get(HCERT_V1), "hcert v1 (1)")
    issued_at = _optional_date(claims, CLAIM_IAT, "iat")
    return Claims(
        pass_id=dcc_uci(hcert),
        subject=None,
        holder_kind=None,
        issuer=_text(claims[CLAIM_ISS], "iss") if CLAIM_ISS in claims else None,
        not_before=issued_at,
        expires=_date(claims[CLAIM_EXP], "exp"),
        issued_at=issued_at,
        gates=None,
    )


def _hash16(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()[:REVOCATION_HASH_BYTES]


def compound_revocation_hash(pass_id: str) -> bytes:
    """sha256(pass id, UTF-8)[:16]."""
    return _hash16(pass_id.encode("utf-8"))


def dcc_revocation_hashes(uci: str, issuer: str | None, es256: bool,
                          signature: bytes) -> Sequence[bytes]:
    """The three hashes of the DCC revocation framework, each SHA-256 truncated to 16
    bytes: UCI; issuing country (the CWT iss) + UCI; the signature (ES256: its r half only,
    which a re-encoded (r, n - s) signature of the same certificate shares; PS256: all of
    it)."""
    signed_part = signature[: len(signature) // 2] if es256 else signature
    hashes = [_hash16(uci.encode("utf-8")), _hash16(signed_part)]
    if issuer is not None:
        hashes.insert(1, _hash16((issuer + uci).encode("utf-8")))
    return hashes
