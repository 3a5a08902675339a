"""Scoring who was recognised (docs/recording-format.md, `eval`): per person, the `match` of
the temperature decision against the label's `subject`, and the person's events against
`expect` with pass.denied reasons; the identity summary (identification rate, false accepts,
breaches).

Outcomes of one person whose label carries a `role` (the subject is ground truth):

- `right`: recognised as the labelled subject, or a stranger left unmatched;
- `wrong`: recognised as another enrolled subject (a misidentification);
- `missed`: an enrolled subject not recognised (match null);
- `false accept`: a stranger recognised as somebody enrolled;
- `no decision`: no temperature decision, so nothing to read a match from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge.core.types import Decision

RIGHT, WRONG, MISSED, FALSE_ACCEPT, NO_DECISION = (
    "right", "wrong", "missed", "false accept", "no decision")


def accepts(entry: str, decision: Decision) -> bool:
    """Whether `expect` entry (`a|b`, `pass.denied:reason`) is satisfied by `decision`."""
    for alt in entry.split("|"):
        kind, _, reason = alt.partition(":")
        if kind == decision.type and (not reason or reason == decision.reason):
            return True
    return False


def expect_met(expect: Sequence[str], decisions: Sequence[Decision]) -> bool:
    """Exactly the expected events: one decision per entry, nothing else (a matching of
    entries to decisions, since `a|b` entries can overlap)."""
    if len(expect) != len(decisions):
        return False
    owner: dict[int, int] = {}  # decision index -> expect index

    def assign(e: int, seen: set[int]) -> bool:  # Kuhn's augmenting path
        for d, decision in enumerate(decisions):
            if d in seen or not accepts(expect[e], decision):
                continue
            seen.add(d)
            if d not in owner or assign(owner[d], seen):
                owner[d] = e
                return True
        return False

    return all(assign(e, set()) for e in range(len(expect)))


def temperature_decision(decisions: Sequence[Decision]) -> Decision | None:
    return next((d for d in decisions if d.is_temperature), None)


def outcome(subject: str | None, decisions: Sequence[Decision]) -> str:
    """The person's identity outcome (module docstring) from their decisions."""
    first = temperature_decision(decisions)
    if first is None:
        return NO_DECISION
    got = first.match.subject if first.match is not None else None
    if subject is None:
        return RIGHT if got is None else FALSE_ACCEPT
    if got is None:
        return MISSED
    return RIGHT if got == subject else WRONG


def access_subjects_ok(subject: str | None, decisions: Sequence[Decision]) -> bool:
    """Every access decision names the labelled subject (a breach for somebody else is wrong
    even when a breach was expected)."""
    return all(d.subject == subject for d in decisions if not d.is_temperature)


@dataclass(frozen=True)
class IdentitySummary:
    scored: int  # people whose label has a role
    enrolled: int  # ... with a subject
    right: int  # enrolled and recognised as themselves
    wrong: int  # enrolled, recognised as somebody else
    missed: int  # enrolled, not recognised (or no decision)
    strangers: int
    false_accepts: int  # strangers recognised as somebody
    breaches_expected: int
    breaches_got: int  # quarantine.breach events, matched to a person or not
    recognition: bool  # any decision was made with recognition on

    @property
    def identification_rate(self) -> float | None:
        return self.right / self.enrolled if self.enrolled else None


def summarise(people: Sequence[tuple[str | None, bool, Sequence[str], Sequence[Decision]]],
              unmatched: Sequence[Decision]) -> IdentitySummary:
    """From (subject, scored, expect, decisions) per person and the unmatched decisions."""
    outcomes = [(s, outcome(s, ds)) for s, scored, _, ds in people if scored]
    enrolled = [o for s, o in outcomes if s is not None]
    strangers = [o for s, o in outcomes if s is None]
    everything = [d for *_, ds in people for d in ds] + list(unmatched)
    return IdentitySummary(
        scored=len(outcomes), enrolled=len(enrolled), right=enrolled.count(RIGHT),
        wrong=enrolled.count(WRONG), missed=enrolled.count(MISSED) + enrolled.count(NO_DECISION),
        strangers=len(strangers), false_accepts=strangers.count(FALSE_ACCEPT),
        breaches_expected=sum(e.split("|").count("quarantine.breach") > 0
                              for _, _, expect, _ in people for e in expect),
        breaches_got=sum(d.type == "quarantine.breach" for d in everything),
        recognition=any(d.recognition for d in everything))


def summary_rows(s: IdentitySummary) -> list[tuple[str, str]]:
    """Rows for eval's summary table (none when no label carries identity truth)."""
    if not s.scored:
        return []
    rate = s.identification_rate
    return [
        ("recognition", "on" if s.recognition else "OFF (no --lists: every resident missed)"),
        ("identification rate", f"{s.right} / {s.enrolled}" + (
            f" ({100 * rate:.0f} %)" if rate is not None else "")),
        ("wrong subject / missed", f"{s.wrong} / {s.missed}"),
        ("false accepts (strangers matched)", f"{s.false_accepts} / {s.strangers}"),
        ("breaches expected / got", f"{s.breaches_expected} / {s.breaches_got}"),
    ]
