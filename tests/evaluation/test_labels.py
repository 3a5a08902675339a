"""labels.json is schema-checked before `eval` replays anything (issue 9 item 6): a clear
one-line error naming the file, the person and the key, exit 3, no traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge.cli.main import main
from edge.errors import RecordingError
from edge.evaluation.evaluate import load_labels


def _person(i: int, **changes: Any) -> dict[str, Any]:
    person: dict[str, Any] = {"label": f"p{i + 1}", "enter_ns": 1_000 * i,
                              "exit_ns": 1_000 * i + 500, "temp_c": 36.6,
                              "expect": ["screening"], "group": "g1"}
    person.update(changes)
    return {k: v for k, v in person.items() if v is not ...}


def _write(folder: Path, people: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "labels.json").write_text(json.dumps({"people": people}), encoding="utf-8")
    return folder


def test_valid_labels_load_with_extras_kept(tmp_path: Path) -> None:
    people = load_labels(_write(tmp_path, [_person(0), _person(1, head_box=[1, 2, 3, 4.5])]))
    assert [p["label"] for p in people] == ["p1", "p2"] and people[0]["group"] == "g1"


def test_identity_labels_load(tmp_path: Path) -> None:
    people = load_labels(_write(tmp_path, [
        _person(0, subject="resident-0001", role="resident",
                expect=["screening|fever", "pass.granted"]),
        _person(1, subject="resident-0002", role="quarantined",
                expect=["fever", "quarantine.breach", "pass.denied:quarantined"]),
        _person(2, subject=None, role="stranger"),
        _person(3, subject="grace_hopper"),  # no role: the subject is not identity truth
    ]))
    assert [p.get("role") for p in people] == ["resident", "quarantined", "stranger", None]


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"label": ...}, "person 2: required key label is missing"),
        ({"enter_ns": ...}, "person 2 ('p3'): required key enter_ns is missing"),
        ({"exit_ns": ...}, "person 2 ('p3'): required key exit_ns is missing"),
        ({"enter_ns": "0"}, "person 2 ('p3'): enter_ns = '0': Input should be a valid integer"),
        ({"exit_ns": 1.5e9}, "person 2 ('p3'): exit_ns = 1500000000.0: Input should be a valid "
                             "integer"),
        ({"exit_ns": 1}, "person 2 ('p3'): exit_ns 1 is before enter_ns 2000"),
        ({"temp_c": float("nan")}, "person 2 ('p3'): temp_c = nan: Input should be a finite"),
        ({"temp_c": 98.6}, "person 2 ('p3'): temp_c = 98.6: Input should be less than or equal"),
        ({"expect": "fever"}, "person 2 ('p3'): expect = 'fever': Input should be a valid list"),
        ({"head_box": [1, 2, 3]}, "person 2 ('p3'): head_box = [1, 2, 3]: List should have at "
                                  "least 4 items"),
        # Identity keys (issue 10): subject, role, the identity events in expect.
        ({"subject": 7}, "person 2 ('p3'): subject = 7: Input should be a valid string"),
        ({"subject": ""}, "person 2 ('p3'): subject = '': String should have at least 1"),
        ({"role": "visitr", "subject": "v1"}, "person 2 ('p3'): role = 'visitr': Input should "
                                              "be 'resident', 'quarantined', 'stranger'"),
        ({"role": "stranger", "subject": "r1"}, "person 2 ('p3'): role stranger with subject "
                                                "'r1': a stranger is never enrolled"),
        ({"role": "quarantined", "subject": None}, "person 2 ('p3'): role quarantined needs the "
                                                   "subject it must be recognised as"),
        ({"expect": ["screening", "quarantine.breech"]},
         "person 2 ('p3'): expect = ['screening', 'quarantine.breech']: entry 1 "
         "'quarantine.breech': unknown event type 'quarantine.breech'; one of screening"),
        ({"expect": ["pass.denied:holder"]}, "entry 0 'pass.denied:holder': 'pass.denied:holder':"
                                             " unknown denial reason; one of expired"),
        ({"expect": ["quarantine.breach:quarantined"]}, "only pass.denied takes a :reason"),
        ({"role": "stranger", "subject": None, "expect": ["screening", "pass.granted"]},
         "person 2 ('p3'): expect 'pass.granted' names a subject, but subject is null"),
    ],
)
def test_a_bad_person_names_file_index_and_key(
    tmp_path: Path, bad: dict[str, Any], needle: str
) -> None:
    folder = _write(tmp_path, [_person(0), _person(1), _person(2, **bad)])
    with pytest.raises(RecordingError) as caught:
        load_labels(folder)
    message = str(caught.value)
    assert message.startswith(f"{folder / 'labels.json'}: ")
    assert needle in message and "\n" not in message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{}", "required key people is missing"),
        ('{"people": {}}', "people: Input should be a valid list"),
        ('{"people": [1]}', "person 0: Input should be a valid dictionary"),
        ("[", "unreadable labels"),
    ],
)
def test_a_bad_file_is_one_line(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "labels.json").write_text(text, encoding="utf-8")
    with pytest.raises(RecordingError, match=r"labels\.json: ") as caught:
        load_labels(tmp_path)
    assert needle in str(caught.value)


def test_eval_exits_3_with_the_message_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _write(tmp_path / "scene", [_person(0), _person(1, exit_ns=...)])
    assert main(["eval", str(folder), "--offline"]) == 3
    err = capsys.readouterr().err
    assert err.strip() == (f"gate-edge eval: error: {folder / 'labels.json'}: person 1 ('p2'): "
                           "required key exit_ns is missing")
    assert "Traceback" not in err
