"""Pass decision scoring (edge.evaluation.pass_score) and its place in eval's report: outcomes
per person, the subject a pass decision must name (the holder of a lent pass), the summary
rows, and labels.json's `pass` checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge.core.types import Decision, Match
from edge.errors import RecordingError
from edge.evaluation import pass_score as ps
from edge.evaluation.evaluate import EvalReport, PersonResult, summary_table
from edge.evaluation.labels import load_labels


def access(kind: str, reason: str | None = None, subject: str | None = "visitor-0001"
           ) -> Decision:
    return Decision(kind, 10, 1, None, (0, 0, 10, 10), "rgb",  # type: ignore[arg-type]
                    match=None, recognition=True, subject=subject, reason=reason)


def screening() -> Decision:
    return Decision("screening", 5, 1, None, (0, 0, 10, 10), "rgb",
                    match=Match("visitor-0002", 0.3), recognition=True)


@pytest.mark.parametrize(("expect", "got", "outcome"), [
    (["screening", "pass.granted"], [access("pass.granted")], ps.RIGHT),
    (["screening", "pass.denied:expired"], [access("pass.denied", "expired")], ps.RIGHT),
    (["screening", "pass.denied:expired"], [access("pass.denied", "revoked")], ps.WRONG_REASON),
    (["screening", "pass.denied:expired"], [access("pass.granted")], ps.WRONG),
    (["screening", "pass.granted"], [access("pass.denied", "holder_mismatch")], ps.WRONG),
    (["screening", "pass.granted"], [], ps.MISSED),
    (["screening"], [access("pass.granted")], ps.EXTRA),
    (["screening", "pass.granted"], [access("pass.granted"), access("pass.granted")], ps.EXTRA),
    (["screening"], [], ps.NONE),
    (["screening", "pass.denied:bad_signature|pass.denied:unreadable"],
     [access("pass.denied", "unreadable")], ps.RIGHT),
])
def test_outcome(expect: list[str], got: list[Decision], outcome: str) -> None:
    assert ps.outcome(expect, [screening(), *got]) == outcome


def test_a_lent_pass_names_its_holder_a_breach_the_person() -> None:
    lent = [screening(), access("pass.denied", "holder_mismatch", subject="visitor-0007")]
    assert ps.subjects_ok("visitor-0008", "visitor-0007", lent)
    assert not ps.subjects_ok("visitor-0008", None, lent)
    assert ps.subjects_ok(None, "visitor-0007", lent)  # a stranger showing it
    breach = [access("quarantine.breach", subject="resident-0002"),
              access("pass.denied", "quarantined", subject="resident-0002")]
    assert ps.subjects_ok("resident-0002", "resident-0002", breach)
    assert not ps.subjects_ok("resident-0003", "resident-0002", breach)


def test_summary_counts_right_and_wrong_and_reasons() -> None:
    people = [
        (["screening", "pass.granted"], [access("pass.granted")]),
        (["fever", "pass.denied:expired"], [access("pass.denied", "expired")]),
        (["screening", "pass.denied:revoked"], [access("pass.granted")]),
        (["screening", "pass.denied:holder_mismatch"], []),
        (["screening"], [access("pass.granted")]),
        (["screening"], []),
    ]
    s = ps.summarise(people, [access("pass.denied", "unreadable"), screening()])
    assert (s.expected, s.right, s.wrong, s.unmatched) == (4, 2, 3, 1)
    assert s.denied_expected == {"expired": 1, "revoked": 1, "holder_mismatch": 1}
    assert s.denied_right == {"expired": 1, "revoked": 0, "holder_mismatch": 0}
    rows = dict(ps.summary_rows(s))
    assert rows["pass decisions right / expected"] == "2 / 4"
    assert rows["pass decisions wrong (outcome / reason / extra / unmatched)"] == "1 / 0 / 1 / 1"
    assert rows["pass decisions missed"] == "1"
    assert rows["pass.denied right by reason"] == "expired 1/1, holder_mismatch 0/1, revoked 0/1"
    assert ps.summary_rows(ps.summarise([(["screening"], [screening()])], [])) == []


def test_report_scores_a_lent_pass_against_its_holder() -> None:
    person = PersonResult("p6", ["screening", "pass.denied:holder_mismatch"], 36.6,
                          [screening(), access("pass.denied", "holder_mismatch", "visitor-0007")],
                          subject="visitor-0002", scored=True, holder="visitor-0007")
    assert person.ok
    person.holder = None  # without the label's holder it names the wrong subject
    assert not person.ok
    table = summary_table(EvalReport([person], []))
    assert "| pass decisions right / expected | 1 / 1 |" in table


def _labels(tmp_path: Path, person: dict[str, Any]) -> Path:
    base = {"label": "p1", "enter_ns": 0, "exit_ns": 1, "role": "stranger", "subject": None}
    (tmp_path / "labels.json").write_text(json.dumps({"people": [{**base, **person}]}))
    return tmp_path


def test_labels_pass_holder_lets_a_stranger_expect_a_pass_decision(tmp_path: Path) -> None:
    expect = ["screening", "pass.denied:holder_mismatch"]
    ok = _labels(tmp_path, {"expect": expect,
                            "pass": {"case": "stranger_pass", "holder": "visitor-0007"}})
    assert load_labels(ok)[0]["pass"]["holder"] == "visitor-0007"
    with pytest.raises(RecordingError, match="names a subject, but subject is null"):
        load_labels(_labels(tmp_path, {"expect": expect, "pass": None}))
    with pytest.raises(RecordingError, match="pass must be null or an object"):
        load_labels(_labels(tmp_path, {"expect": ["screening"], "pass": "P-0001"}))
    with pytest.raises(RecordingError, match="names a subject"):
        load_labels(_labels(tmp_path, {"expect": ["screening", "quarantine.breach"],
                                       "pass": {"case": "x", "holder": "visitor-0007"}}))
