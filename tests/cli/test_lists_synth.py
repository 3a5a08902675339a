"""`gate-edge synth --rgb --residents/--strangers/--quarantined` end to end, offline: the scene,
enroll.json and OUT/lists (built by enrolment from photos the scene never shows), then `eval`
on it recognises every resident, matches no stranger, and gives each quarantined resident
exactly one breach; with --grant-by-face, pass.granted / pass.denied:quarantined as labelled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.cli.main import main
from edge.identity.store import ListStore
from tests.shared import shared_data_dir


def _synth(out: Path, *extra: str) -> None:
    faces = shared_data_dir("faces")
    assert main(["synth", str(out), "--rgb", "--faces", str(faces), "--quiet", *extra]) == 0


@pytest.mark.shared
def test_identity_scene_lists_and_eval(tmp_path: Path, models_ready: None,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scene"
    _synth(out, "--residents", "3", "--strangers", "2", "--quarantined", "1", "--seed", "4")
    printed = capsys.readouterr().out
    assert f"replay: gate-edge replay {out} --lists {out / 'lists'}" in printed
    plan = json.loads((out / "enroll.json").read_text())
    labels = json.loads((out / "labels.json").read_text())
    with ListStore.open(out / "lists", create=False) as store:
        subjects = {s.id: s for s in store.subjects()}
        assert set(subjects) == {s["id"] for s in plan["subjects"]}
        for s in plan["subjects"]:
            assert len(next(iter(store.templates(s["id"]).values()))) == len(s["photos"])
            assert (subjects[s["id"]].quarantine_until is not None) == (s["role"] == "quarantined")
    assert main(["eval", str(out), "--offline"]) == 0  # OUT/lists is eval's default
    report = capsys.readouterr().out
    assert "| identification rate | 4 / 4 (100 %) |" in report
    assert "| false accepts (strangers matched) | 0 / 2 |" in report
    assert "| breaches expected / got | 1 / 1 |" in report
    assert len(labels["people"]) == 6


@pytest.mark.shared
def test_grant_by_face_scene(tmp_path: Path, models_ready: None,
                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scene"
    _synth(out, "--residents", "2", "--strangers", "1", "--quarantined", "1", "--seed", "9",
           "--grant-by-face", "--pair-fraction", "0")
    capsys.readouterr()
    assert "grant_residents_by_face = true" in (out / "gate.toml").read_text()
    assert main(["eval", str(out), "--offline", "--config", str(out / "gate.toml")]) == 0
    report = capsys.readouterr().out
    assert report.count("pass.granted") >= 2 * 2  # expected and got, per resident
    assert "quarantine.breach,pass.denied:quarantined" in report
    assert "| verdict | PASS |" in report


@pytest.mark.shared
def test_no_lists_writes_the_plan_only(tmp_path: Path, models_ready: None,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scene"
    _synth(out, "--residents", "1", "--strangers", "1", "--seed", "1", "--no-lists")
    assert (out / "enroll.json").is_file() and not (out / "lists").exists()
    printed = capsys.readouterr().out
    assert printed.splitlines()[-1].endswith("enroll.json: 1 subjects to enrol (1 residents, 0 "
                                             "quarantined; 1 strangers never enrolled)")
    assert "replay:" not in printed
