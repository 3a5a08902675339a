"""QR pass cases for RGB + thermal scenes (edge.sim.rgb): who presents which pass, what the
pass says, how it is held, and the access decision the gate must reach (labels' `pass` and
`expect`).

Each case is one person. Pass holders are enrolled (a face the gate can check the pass
against): visitors (kind visitor) or residents. A lent pass (`borrowed`, `stranger_pass`) is
one issued to another visitor of the scene (a lender: a visitor whose own pass is refused for
the pass alone or granted, so the lender's status never decides the lent pass).

The simulator never encodes or signs: the caller (the CLI) turns each `PassPlan` into a
`PassCode` (payload text, QR module matrix, and the verifier's verdict reason for the pass
alone, computed with the real verifier: a tampered payload may fail to decode or to verify).
Pure planning apart from the draws from the generator it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from edge.sim.cast import QUARANTINED, RESIDENT, STRANGER, VISITOR, Cast
from edge.sim.qr_card import Held

# Validity windows that hold under either clock the gate may judge by: the scene's (2023,
# edge.sim.spec.EPOCH_NS) and today's wall clock.
VALID_WINDOW = ("2023-01-01T00:00:00Z", "2099-12-31T23:59:59Z")
EXPIRED_WINDOW = ("2021-01-01T00:00:00Z", "2022-12-31T23:59:59Z")
FUTURE_WINDOW = ("2099-06-01T00:00:00Z", "2099-12-31T23:59:59Z")
OTHER_GATE = "gate-elsewhere"
PASS_ID_FORMAT = "P-{:04d}"
# Held passes: pixels per QR module at the face's width at the gate. zxing-cpp decodes this
# renderer's cards from about 2.0 px/module (tilted 25 deg and turned 30 deg, after MJPG):
# readable passes are drawn at 2.3-2.8, small ones at 1.2-1.5 (never decoded).
READABLE_PX_PER_MODULE = (2.3, 2.8)
SMALL_PX_PER_MODULE = (1.2, 1.5)
SIDE_CM = (5.0, 7.0)  # the printed / displayed symbol's side
SMALL_SIDE_CM = (4.0, 5.0)
ROLL_DEG, YAW_DEG, PITCH_DEG = 25.0, 30.0, 20.0
FACE_WIDTH_CM = 15.0  # edge.sim.optics.FACE_WIDTH_M: the scene's scale


@dataclass(frozen=True)
class Case:
    role: str  # the presenter's cast role
    holds: bool = True  # shows a pass
    lent: bool = False  # the pass is a lender's, not the presenter's
    window: tuple[str, str] = VALID_WINDOW
    trusted: bool = True  # signed with the key the gate trusts
    other_gate: bool = False
    revoked: bool = False
    tamper: bool = False  # one Base45 character of the text replaced
    alter: bool = False  # a claim edited after signing (the expiry pushed out), re-encoded
    health: str | None = None  # the presenter's health status (None: not set)
    person_reason: str | None = None  # the refusal due to the person, not the pass
    small: bool = False


CASES: dict[str, Case] = {
    "valid": Case(VISITOR),
    "expired": Case(VISITOR, window=EXPIRED_WINDOW),
    "not_yet_valid": Case(VISITOR, window=FUTURE_WINDOW),
    "revoked": Case(VISITOR, revoked=True),
    "forged": Case(VISITOR, trusted=False),
    "tampered": Case(VISITOR, tamper=True),
    "wrong_gate": Case(VISITOR, other_gate=True),
    "borrowed": Case(VISITOR, lent=True, person_reason="holder_mismatch"),
    "stranger_pass": Case(STRANGER, lent=True, person_reason="holder_mismatch"),
    "health_code": Case(VISITOR, health="red", person_reason="health_code"),
    "quarantined": Case(QUARANTINED, person_reason="quarantined"),
    "resident_face": Case(RESIDENT, holds=False),
    "unknown": Case(STRANGER, holds=False),
    # Not in `all` (the list; the shared photos have 13 identities):
    # an expired pass whose expiry was pushed out after signing (re-compressed, well formed);
    "altered": Case(VISITOR, window=EXPIRED_WINDOW, alter=True),
    # a resident's own valid pass held too small to read: granted by face either way.
    "small": Case(RESIDENT, small=True),
}
ALL = tuple(c for c in CASES if c not in ("altered", "small"))  # the list
LENDERS = ("valid", "expired", "not_yet_valid", "revoked", "forged", "tampered", "wrong_gate")
_NO_LENDER = ("--passes: borrowed and stranger_pass show another visitor's pass; add one of "
              f"{', '.join(LENDERS)} (a visitor to lend it)")


@dataclass(frozen=True)
class PassPlan:
    """One person's case; the pass fields are None / empty when the case shows no pass."""

    case: str
    person: int  # index in order of appearance
    pass_id: str | None = None
    holder: str | None = None  # the pass's subject (holder) id
    kind: str | None = None  # the pass's holder kind: visitor | resident
    valid_from: str | None = None
    valid_to: str | None = None
    gates: tuple[str, ...] = ()
    trusted: bool = True
    revoked: bool = False
    tamper: bool = False
    alter: bool = False
    small: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"case": self.case, "pass_id": self.pass_id, "holder": self.holder}
        if self.pass_id is None:
            return out
        out.update(kind=self.kind, valid_from=self.valid_from, valid_to=self.valid_to,
                   gates=list(self.gates), signer="trusted" if self.trusted else "untrusted",
                   revoked=self.revoked, tampered=self.tamper, altered=self.alter,
                   small=self.small)
        return out


@dataclass(frozen=True)
class PassCode:
    """What the caller made of a PassPlan: the payload text, its QR modules (True = dark,
    no quiet zone) and the verifier's reason for the pass alone (None: valid)."""

    text: str
    matrix: npt.NDArray[np.bool_]
    reason: str | None


PassIssuer = Callable[[PassPlan], PassCode]


def parse_cases(text: str) -> tuple[str, ...]:
    """`all`, or case names joined by commas (`all` may be among them); ConfigError if
    unknown or repeated."""
    out: list[str] = []
    for name in (t.strip() for t in text.split(",") if t.strip()):
        for case in ALL if name == "all" else (name,):
            if case not in CASES:
                raise ConfigError(f"--passes: unknown case {case!r}; one of all, "
                                  f"{', '.join(CASES)}")
            if case in out:
                raise ConfigError(f"--passes: case {case!r} given twice")
            out.append(case)
    if not out:
        raise ConfigError("--passes: no case given")
    if any(CASES[c].lent for c in out) and not any(c in LENDERS for c in out):
        raise ConfigError(_NO_LENDER)
    return tuple(out)


def role_counts(cases: tuple[str, ...]) -> dict[str, int]:
    counts = {RESIDENT: 0, QUARANTINED: 0, STRANGER: 0, VISITOR: 0}
    for name in cases:
        counts[CASES[name].role] += 1
    return counts


def assign(cases: tuple[str, ...], the_cast: Cast, gate: str,
           rng: np.random.Generator) -> dict[int, PassPlan]:
    """Person index -> PassPlan: each case given to a member of its role (at random); pass ids
    in order of appearance; lent passes name a lender's subject."""
    by_role: dict[str, list[str]] = {}
    for name in cases:
        by_role.setdefault(CASES[name].role, []).append(name)
    for role in by_role:
        by_role[role] = [by_role[role][int(i)] for i in rng.permutation(len(by_role[role]))]
    case_of: dict[int, str] = {}
    for n, member in enumerate(the_cast.members):
        queue = by_role.get(member.role, [])
        if queue:
            case_of[n] = queue.pop(0)
    lenders = [n for n, c in case_of.items() if c in LENDERS]
    if any(CASES[c].lent for c in case_of.values()) and not lenders:
        raise ConfigError(_NO_LENDER)
    plans: dict[int, PassPlan] = {}
    issued = 0
    for n in sorted(case_of):
        case = CASES[case_of[n]]
        if not case.holds:
            plans[n] = PassPlan(case_of[n], n)
            continue
        issued += 1
        owner = the_cast.members[lenders[int(rng.integers(len(lenders)))] if case.lent else n]
        plans[n] = PassPlan(
            case=case_of[n], person=n, pass_id=PASS_ID_FORMAT.format(issued),
            holder=owner.subject, kind=VISITOR if owner.role == VISITOR else RESIDENT,
            valid_from=case.window[0], valid_to=case.window[1],
            gates=(OTHER_GATE,) if case.other_gate else (gate,), trusted=case.trusted,
            revoked=case.revoked, tamper=case.tamper, alter=case.alter, small=case.small)
    return plans


def draw_held(small: bool, modules: int, near_px: float, rng: np.random.Generator
              ) -> tuple[Held, float]:
    """How a pass of `modules` modules a side is held by a person whose face is `near_px` wide
    at the gate, and the symbol's physical side in cm. Held up towards the camera: the
    symbol's apparent size over its physical size is how much nearer than the face it is."""
    ppm = float(rng.uniform(*(SMALL_PX_PER_MODULE if small else READABLE_PX_PER_MODULE)))
    side_cm = float(rng.uniform(*(SMALL_SIDE_CM if small else SIDE_CM)))
    held = Held(
        medium="phone" if rng.random() < 0.5 else "card", symbol_px=ppm * modules,
        side=1.0 if rng.random() < 0.5 else -1.0,
        roll_deg=float(rng.uniform(-ROLL_DEG, ROLL_DEG)),
        yaw_deg=float(rng.uniform(-YAW_DEG, YAW_DEG)),
        pitch_deg=float(rng.uniform(-PITCH_DEG, PITCH_DEG)),
        depth_ratio=float(rng.uniform(4.0, 6.0)))
    return held, side_cm


def expected(member_role: str, plan: PassPlan | None, code: PassCode | None,
             temperature: str, grant_by_face: bool) -> list[str]:
    """The events a person must cause: the temperature decision, a breach for a quarantined
    resident, and one access decision: the pass's own refusal if it has one (the verifier's
    reason), else the person's (holder_mismatch, health_code, quarantined), else granted;
    without a pass, a resident by face when the site admits residents by face."""
    events = [temperature]
    if member_role == QUARANTINED:
        events.append("quarantine.breach")
    case = CASES[plan.case] if plan is not None else None
    if case is not None and case.holds and not case.small:
        assert code is not None
        reason = code.reason or case.person_reason
        events.append(f"pass.denied:{reason}" if reason else "pass.granted")
    elif grant_by_face and member_role in (RESIDENT, QUARANTINED):
        events.append("pass.granted" if member_role == RESIDENT else "pass.denied:quarantined")
    return events
