"""The pass verifier (contract of issue 11): text -> `PassVerdict`, never an exception.

Steps, each with its `checks` entry (True / False / None = not reached): prefix, base45,
zlib, cose, claims (together: decode), signature, expiry, revocation, gate. A decode
failure is `unreadable`; after decoding, every check is evaluated and the verdict's reason is
the first failure in the order bad_signature, expired / not_yet_valid, revoked, wrong_gate.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from edge.identity.passes import claims as cl
from edge.identity.passes import codec, cose

__all__ = ["ALGS_BY_KIND", "COMPOUND_PREFIX", "DCC_PREFIX", "PassVerdict", "PassVerifier",
           "TrustSource"]

log = logging.getLogger(__name__)

COMPOUND_PREFIX = codec.COMPOUND_PREFIX
DCC_PREFIX = codec.DCC_PREFIX
DECODE_STEPS = ("prefix", "base45", "zlib", "cose", "claims")
CHECK_NAMES = (*DECODE_STEPS, "decode", "signature", "expiry", "revocation", "gate")
# Which signature algorithms each issuer may use: a DCC signed with EdDSA is not a DCC.
ALGS_BY_KIND = {"compound": (cose.ALG_EDDSA,), "dcc": (cose.ALG_ES256, cose.ALG_PS256)}


class TrustSource(Protocol):
    """Trusted signer keys by kid and revoked pass hashes (P2: the list store; StaticTrust in
    edge.identity.passes.keys for tests and `pass verify --trust`)."""

    def public_key(self, kid: bytes) -> Any | None: ...

    def is_revoked(self, kind: str, hashes: Sequence[bytes]) -> bool: ...


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class PassVerdict:
    valid: bool
    reason: str | None
    kind: str | None
    pass_id: str | None
    subject: str | None
    holder_kind: str | None
    kid: str | None
    not_before: datetime | None
    expires: datetime | None
    gates: tuple[str, ...] | None
    checks: dict[str, bool | None]
    digest: str
    detail: str | None = field(default=None, compare=False)  # why the first failure failed

    def to_json(self) -> dict[str, object]:
        """The `pass verify` output (DESIGN section 9)."""
        return {
            "valid": self.valid, "reason": self.reason, "kind": self.kind,
            "subject": self.subject, "kid": self.kid, "not_before": _iso(self.not_before),
            "expires": _iso(self.expires), "checks": dict(self.checks),
            "pass_id": self.pass_id, "holder_kind": self.holder_kind,
            "gates": list(self.gates) if self.gates is not None else None,
            "digest": self.digest, "detail": self.detail,
        }


@dataclass(slots=True)
class _Run:
    """One verification in progress: the checks so far and what has been decoded."""

    text: str
    checks: dict[str, bool | None] = field(
        default_factory=lambda: dict.fromkeys(CHECK_NAMES, None))
    kind: str | None = None
    sign1: cose.Sign1 | None = None
    claims: cl.Claims | None = None
    reason: str | None = None
    detail: str | None = None

    def fail(self, check: str, reason: str, detail: str) -> None:
        self.checks[check] = False
        if self.reason is None:
            self.reason, self.detail = reason, f"{check}: {detail}"


class PassVerifier:
    """Verifies passes of both issuers against one TrustSource, at one gate (or any gate when
    `gate` is None: the gate check is then not made, None in `checks`)."""

    def __init__(self, trust: TrustSource, *, gate: str | None = None,
                 compound_prefix: str = COMPOUND_PREFIX) -> None:
        if compound_prefix == DCC_PREFIX:
            raise ValueError(f"the compound's prefix cannot be the DCC's {DCC_PREFIX}")
        self.trust = trust
        self.gate = gate
        self.prefixes = {compound_prefix: "compound", DCC_PREFIX: "dcc"}

    def verify(self, text: str, at: datetime) -> PassVerdict:
        """The verdict on `text` at time `at` (naive = UTC). Never raises on bad input."""
        run = _Run(text)
        try:
            if self._decode(run):
                self._check_signature(run)
                self._check_expiry(run, at if at.tzinfo else at.replace(tzinfo=UTC))
                self._check_revocation(run)
                self._check_gate(run)
        except Exception as exc:  # a bug here must still give a verdict, and say so
            log.exception("pass verifier failed on input")
            run.fail("decode", "unreadable", f"verifier error: {exc!r}")
        return self._verdict(run)

    def _decode(self, run: _Run) -> bool:
        steps: list[tuple[str, Callable[[Any], Any]]] = [
            ("prefix", lambda text: codec.split_prefix(text, self.prefixes)),
            ("base45", lambda split: codec.b45decode(split[1])),
            ("zlib", codec.inflate),
            ("cose", cose.parse_sign1),
            ("claims", lambda payload: _parse_claims(run.kind, payload)),
        ]
        value: Any = run.text
        for name, step in steps:
            try:
                value = step(value)
            except Exception as exc:  # every layer: a named failure, never an exception
                run.fail(name, "unreadable", str(exc))
                run.checks["decode"] = False
                return False
            run.checks[name] = True
            if name == "prefix":
                run.kind = value[0]
            elif name == "cose":
                run.sign1 = value
                value = value.payload
        run.claims = value
        run.checks["decode"] = True
        return True

    def _check_signature(self, run: _Run) -> None:
        sign1 = run.sign1
        assert sign1 is not None and run.kind is not None
        kid = sign1.kid
        if sign1.alg not in ALGS_BY_KIND[run.kind]:
            run.fail("signature", "bad_signature",
                     f"alg {sign1.alg!r} is not allowed for {run.kind} passes")
            return
        if kid is None:
            run.fail("signature", "bad_signature", "no kid in either header")
            return
        try:
            key = self.trust.public_key(kid)
        except Exception as exc:  # a broken trust store denies, it does not crash the gate
            log.exception("trust lookup failed")
            run.fail("signature", "bad_signature", f"trust lookup failed: {exc!r}")
            return
        if key is None:
            run.fail("signature", "bad_signature", f"unknown kid {_b64(kid)}")
            return
        problem = cose.verify_signature(sign1, key)
        if problem is not None:
            run.fail("signature", "bad_signature", problem)
        else:
            run.checks["signature"] = True

    @staticmethod
    def _check_expiry(run: _Run, at: datetime) -> None:
        c = run.claims
        assert c is not None
        if c.not_before is not None and at < c.not_before:
            run.fail("expiry", "not_yet_valid", f"valid from {_iso(c.not_before)}")
        elif c.issued_at is not None and at < c.issued_at:
            run.fail("expiry", "not_yet_valid", f"issued at {_iso(c.issued_at)}")
        elif at >= c.expires:  # RFC 8392: exp is the time "on or after which" it is refused
            run.fail("expiry", "expired", f"expired at {_iso(c.expires)}")
        else:
            run.checks["expiry"] = True

    def _check_revocation(self, run: _Run) -> None:
        c, sign1 = run.claims, run.sign1
        assert c is not None and sign1 is not None and run.kind is not None
        if run.kind == "compound":
            hashes = [cl.compound_revocation_hash(c.pass_id)]
        else:
            hashes = list(cl.dcc_revocation_hashes(
                c.pass_id, c.issuer, sign1.alg == cose.ALG_ES256, sign1.signature))
        try:
            revoked = bool(self.trust.is_revoked(run.kind, hashes))
        except Exception as exc:  # fail closed: a pass we cannot check is not admitted
            log.exception("revocation lookup failed")
            run.fail("revocation", "revoked", f"revocation lookup failed: {exc!r}")
            return
        if revoked:
            run.fail("revocation", "revoked", f"pass {c.pass_id} is revoked")
        else:
            run.checks["revocation"] = True

    def _check_gate(self, run: _Run) -> None:
        gates = run.claims.gates if run.claims is not None else None
        if gates is None:
            run.checks["gate"] = True  # valid at every gate
        elif self.gate is None:
            run.checks["gate"] = None  # no gate to compare with: not checked
        elif self.gate in gates:
            run.checks["gate"] = True
        else:
            run.fail("gate", "wrong_gate", f"valid at {', '.join(gates)}, not {self.gate}")

    @staticmethod
    def _verdict(run: _Run) -> PassVerdict:
        c, sign1 = run.claims, run.sign1
        kid = sign1.kid if sign1 is not None else None
        return PassVerdict(
            valid=run.reason is None and run.checks["decode"] is True,
            reason=run.reason,
            kind=run.kind,
            pass_id=c.pass_id if c else None,
            subject=c.subject if c else None,
            holder_kind=c.holder_kind if c else None,
            kid=_b64(kid) if kid is not None else None,
            not_before=c.not_before if c else None,
            expires=c.expires if c else None,
            gates=c.gates if c else None,
            checks=run.checks,
            digest=hashlib.sha256(run.text.encode("utf-8", "surrogatepass")).hexdigest()
            if isinstance(run.text, str) else hashlib.sha256(b"").hexdigest(),
            detail=run.detail,
        )


def _b64(kid: bytes) -> str:
    return base64.b64encode(kid).decode("ascii")


def _parse_claims(kind: str | None, payload: bytes) -> cl.Claims:
    item = codec.cbor_item(payload, "CWT claims")
    return cl.parse_compound(item) if kind == "compound" else cl.parse_dcc(item)
