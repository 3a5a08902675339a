"""eval scores identity (issue 10 item 7): per person the temperature decision's match against
the label's subject (right / wrong / missed / false accept), the identity events against
`expect` (exactly those, with pass.denied reasons), access events about the right subject, the
summary lines; all on hand-made decisions and labels."""

from __future__ import annotations

from typing import Any

import pytest

from edge.core.types import Decision, Match, StreamInfo, TemperatureReading
from edge.evaluation import identity_score as ids
from edge.evaluation.evaluate import EvalReport, format_report, match, summary_table

S = 1_000_000_000
META = StreamInfo(kind="recording-v1", thermal=None)
READING = TemperatureReading(body_c=36.6, skin_c=35.4, threshold_c=37.3, site="canthus",
                             samples=9, reference_ok=True, spread_c=0.2)


def _temp(t_s: float, track: int, who: str | None, *, kind: str = "screening",
          distance: float = 0.3, recognition: bool = True, x: int = 100) -> Decision:
    return Decision(kind, int(t_s * S), track, READING, (x, 100, 120, 140), "rgb",  # type: ignore[arg-type]
                    match=Match(who, distance) if who else None, recognition=recognition)


def _access(t_s: float, track: int, kind: str, subject: str | None, reason: str | None = None,
            x: int = 100) -> Decision:
    return Decision(kind, int(t_s * S), track, None, (x, 100, 120, 140), "rgb",  # type: ignore[arg-type]
                    match=Match(subject, 0.3) if subject else None, recognition=True,
                    subject=subject, reason=reason)


def _person(label: str, start_s: float, subject: str | None, role: str | None,
            expect: list[str], x: int = 100) -> dict[str, Any]:
    person: dict[str, Any] = {"label": label, "enter_ns": int(start_s * S),
                              "exit_ns": int((start_s + 5) * S), "temp_c": 36.6,
                              "subject": subject, "expect": expect,
                              "head_box_rgb": [x, 100, 120, 140]}
    if role is not None:
        person["role"] = role
    return person


def _scene() -> list[dict[str, Any]]:
    """A resident, a quarantined resident, a stranger, one after another (10 s apart)."""
    return [
        _person("p1", 0, "resident-0001", "resident", ["screening|fever"]),
        _person("p2", 10, "resident-0002", "quarantined", ["screening", "quarantine.breach"]),
        _person("p3", 20, None, "stranger", ["screening"]),
    ]


def _perfect() -> list[Decision]:
    return [
        _temp(3, 1, "resident-0001"),
        _temp(13, 2, "resident-0002"), _access(13.01, 2, "quarantine.breach", "resident-0002"),
        _temp(23, 3, None),
    ]


def _report(decisions: list[Decision], people: list[dict[str, Any]] | None = None) -> EvalReport:
    return match(decisions, people if people is not None else _scene(), META, 0)


def test_everyone_right_passes_with_the_summary_lines() -> None:
    report = _report(_perfect())
    assert [p.identity for p in report.people] == ["right", "right", "right"]
    assert report.all_ok
    s = report.identity
    assert (s.enrolled, s.right, s.strangers, s.false_accepts) == (2, 2, 1, 0)
    assert (s.breaches_expected, s.breaches_got, s.recognition) == (1, 1, True)
    table = summary_table(report)
    for row in ("| identification rate | 2 / 2 (100 %) |", "| false accepts (strangers "
                "matched) | 0 / 1 |", "| breaches expected / got | 1 / 1 |", "| verdict | PASS |"):
        assert row in table
    text = format_report(report)
    assert "resident-0002  resident-0002 0.30" in text and "identified 2/2" in text


@pytest.mark.parametrize(
    ("index", "decision", "outcome", "summary"),
    [
        (0, _temp(3, 1, "resident-0002"), "wrong", {"wrong": 1, "right": 1}),
        (0, _temp(3, 1, None), "missed", {"missed": 1, "right": 1}),
        (2, _temp(23, 3, "resident-0001", distance=0.45), "false accept", {"false_accepts": 1}),
    ],
)
def test_identity_outcomes(index: int, decision: Decision, outcome: str,
                           summary: dict[str, int]) -> None:
    decisions = _perfect()
    replaced = [i for i, d in enumerate(decisions)
                if d.track == decision.track and d.is_temperature]
    decisions[replaced[0]] = decision
    report = _report(decisions)
    assert report.people[index].identity == outcome
    assert not report.people[index].ok and not report.all_ok
    s = report.identity
    for key, value in summary.items():
        assert getattr(s, key) == value, key
    assert "MISMATCH" in format_report(report).splitlines()[index + 1]


def test_no_temperature_decision_is_a_miss() -> None:
    report = _report([d for d in _perfect() if d.track != 1])
    assert report.people[0].identity == "no decision" and report.identity.missed == 1


def test_a_missing_or_extra_identity_event_fails() -> None:
    missing = [d for d in _perfect() if d.type != "quarantine.breach"]
    report = _report(missing)
    assert not report.people[1].ok and report.identity.breaches_got == 0
    extra = [*_perfect(), _access(3.01, 1, "quarantine.breach", "resident-0001")]
    report = _report(extra)
    assert not report.people[0].ok and report.people[1].ok
    assert report.identity.breaches_got == 2


def test_a_breach_about_somebody_else_fails() -> None:
    decisions = _perfect()
    decisions[2] = _access(13.01, 2, "quarantine.breach", "resident-0009")
    report = _report(decisions)
    assert ids.expect_met(report.people[1].expect, report.people[1].events)
    assert not report.people[1].ok


def test_access_events_follow_their_track_not_the_nearest_head() -> None:
    """Two people side by side: the breach carries p2's track but a box nearer p1's head."""
    people = [_person("p1", 0, "resident-0001", "resident", ["screening"], x=100),
              _person("p2", 0, "resident-0002", "quarantined",
                      ["screening", "quarantine.breach"], x=400)]
    decisions = [_temp(3, 1, "resident-0001", x=100), _temp(3, 2, "resident-0002", x=400),
                 _access(3.1, 2, "quarantine.breach", "resident-0002", x=110)]
    report = match(decisions, people, META, 0)
    assert [len(p.events) for p in report.people] == [1, 2] and report.all_ok


def test_pass_denied_reasons_and_alternatives() -> None:
    denied = _access(1, 1, "pass.denied", "r1", reason="quarantined")
    fever = _temp(1, 1, "r1", kind="fever")
    assert ids.expect_met(["pass.denied:quarantined", "screening|fever"], [fever, denied])
    assert ids.expect_met(["pass.denied", "fever"], [denied, fever])
    assert not ids.expect_met(["pass.denied:health_code", "fever"], [denied, fever])
    assert not ids.expect_met(["fever"], [fever, denied])
    # Overlapping alternatives need a matching, not a greedy pass.
    screening = _temp(1, 1, "r1")
    assert ids.expect_met(["screening|fever", "fever"], [fever, screening])


def test_people_without_a_role_are_not_identity_scored() -> None:
    """Scenes without identity truth (subject is only the photo) keep their verdict."""
    people = [_person("p1", 0, "grace_hopper", None, ["screening"])]
    report = match([_temp(3, 1, None, recognition=False)], people, META, 0)
    assert report.people[0].identity is None and report.all_ok
    assert report.identity.scored == 0
    assert "identification" not in summary_table(report)
    assert "subject" not in format_report(report).splitlines()[0]


def test_recognition_off_is_said() -> None:
    decisions = [_temp(3, 1, None, recognition=False), _temp(13, 2, None, recognition=False),
                 _temp(23, 3, None, recognition=False)]
    report = _report(decisions)
    assert not report.identity.recognition and report.identity.missed == 2
    assert "OFF (no --lists" in summary_table(report)
