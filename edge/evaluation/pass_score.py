"""Scoring pass decisions (docs/recording-format.md, `eval`): per person, the one access
decision about admission (`pass.granted` or `pass.denied:<reason>`) the label expects against
the ones the gate sent; the summary counts them right and wrong, and the refusals by reason.

Outcomes of one person:

- `right`: exactly one pass decision, the expected one (type and, for a refusal, reason);
- `wrong reason`: one refusal, for another reason than expected;
- `wrong`: granted where a refusal was expected, or refused where a grant was;
- `missed`: a pass decision was expected, none came;
- `extra`: none was expected and one came, or more than one came;
- `none`: none expected, none came (not counted as a pass decision).

Which subject a pass decision names: the pass holder's when the label's `pass` has a
holder (a lent pass names its holder, not the person showing it), else the person's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from edge.core.types import Decision

PASS_EVENTS = ("pass.granted", "pass.denied")
RIGHT, WRONG_REASON, WRONG, MISSED, EXTRA, NONE = (
    "right", "wrong reason", "wrong", "missed", "extra", "none")


def expected_pass(expect: Sequence[str]) -> str | None:
    """The label's pass decision entry (`pass.granted`, `pass.denied:reason`), if any."""
    return next((e for e in expect
                 if any(a.partition(":")[0] in PASS_EVENTS for a in e.split("|"))), None)


def pass_decisions(decisions: Sequence[Decision]) -> list[Decision]:
    return [d for d in decisions if d.type in PASS_EVENTS]


def _text(d: Decision) -> str:
    return f"{d.type}:{d.reason}" if d.reason else d.type


def outcome(expect: Sequence[str], decisions: Sequence[Decision]) -> str:
    """The person's pass outcome (module docstring)."""
    want = expected_pass(expect)
    got = pass_decisions(decisions)
    if want is None:
        return EXTRA if got else NONE
    if not got:
        return MISSED
    if len(got) > 1:
        return EXTRA
    alts = [a.partition(":") for a in want.split("|")]
    d = got[0]
    if any(kind == d.type and (not reason or reason == d.reason) for kind, _, reason in alts):
        return RIGHT
    same_type = any(kind == d.type for kind, _, _ in alts)
    return WRONG_REASON if same_type else WRONG


def subjects_ok(subject: str | None, holder: str | None,
                decisions: Sequence[Decision]) -> bool:
    """Every access decision names the right subject: a pass decision the pass holder (when
    the label has one) or the person; a breach the person."""
    for d in decisions:
        if d.is_temperature:
            continue
        want = holder if d.type in PASS_EVENTS and holder is not None else subject
        if d.subject != want:
            return False
    return True


@dataclass(frozen=True)
class PassSummary:
    expected: int  # people whose label expects a pass decision
    outcomes: dict[str, int] = field(default_factory=dict)  # outcome -> people
    denied_expected: dict[str, int] = field(default_factory=dict)  # reason -> people
    denied_right: dict[str, int] = field(default_factory=dict)  # reason -> people right
    unmatched: int = 0  # pass decisions attributed to nobody

    @property
    def right(self) -> int:
        return self.outcomes.get(RIGHT, 0)

    @property
    def wrong(self) -> int:
        """Pass decisions that should not have been: wrong outcome, wrong reason, extra."""
        return (self.outcomes.get(WRONG, 0) + self.outcomes.get(WRONG_REASON, 0)
                + self.outcomes.get(EXTRA, 0) + self.unmatched)


def summarise(people: Sequence[tuple[Sequence[str], Sequence[Decision]]],
              unmatched: Sequence[Decision]) -> PassSummary:
    """From (expect, decisions) per person and the decisions attributed to nobody."""
    outcomes: Counter[str] = Counter()
    denied: Counter[str] = Counter()
    denied_right: Counter[str] = Counter()
    expected = 0
    for expect, decisions in people:
        result = outcome(expect, decisions)
        outcomes[result] += 1
        want = expected_pass(expect)
        if want is None:
            continue
        expected += 1
        kind, _, reason = want.partition(":")
        if kind == "pass.denied" and reason and "|" not in want:
            denied[reason] += 1
            denied_right[reason] += result == RIGHT
    return PassSummary(expected, dict(outcomes), dict(denied), dict(denied_right),
                       sum(d.type in PASS_EVENTS for d in unmatched))


def summary_rows(s: PassSummary) -> list[tuple[str, str]]:
    """Rows for eval's summary table (none when no label expects or got a pass decision)."""
    if not s.expected and not s.wrong:
        return []
    rows = [
        ("pass decisions right / expected", f"{s.right} / {s.expected}"),
        ("pass decisions wrong (outcome / reason / extra / unmatched)",
         f"{s.outcomes.get(WRONG, 0)} / {s.outcomes.get(WRONG_REASON, 0)} / "
         f"{s.outcomes.get(EXTRA, 0)} / {s.unmatched}"),
        ("pass decisions missed", str(s.outcomes.get(MISSED, 0))),
    ]
    if s.denied_expected:
        rows.append(("pass.denied right by reason", ", ".join(
            f"{r} {s.denied_right.get(r, 0)}/{n}" for r, n in sorted(s.denied_expected.items()))))
    return rows
