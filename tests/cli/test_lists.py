"""The installer's list-store commands (DESIGN section 9): enroll, quarantine add|remove,
health set, lists show (table and --json); usage problems are one line, exit 2; --help with an
example; and synth's identity flags."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from edge.cli.main import main
from edge.identity.store import ListStore
from tests.shared import REPO_ROOT, shared_data_dir

MODEL = "test-model:0123"


def _store(tmp_path: Path, *ids: str) -> Path:
    lists = tmp_path / "lists"
    rng = np.random.default_rng(0)
    with ListStore.open(lists) as store:
        for subject in ids:
            store.enroll(subject, "resident", rng.standard_normal((2, 128)).astype(np.float32),
                         MODEL)
    return lists


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code: int, err: str, command: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"gate-edge {command}: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.parametrize("command", ["enroll", "quarantine", "health", "lists"])
def test_help_has_an_example(command: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "edge", command, "--help"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and "example:\n  gate-edge " + command in proc.stdout
    assert "--lists DIR" in proc.stdout


def test_quarantine_add_remove_and_show(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    lists = _store(tmp_path, "resident-0001", "resident-0002")
    before = datetime.now(UTC)
    code, out, _ = _run(["quarantine", "add", "resident-0001", "--lists", str(lists)], capsys)
    assert code == 0 and "resident-0001: home quarantine until " in out
    with ListStore.open(lists, create=False) as store:
        until = store.subject("resident-0001").quarantine_until  # type: ignore[union-attr]
        assert until is not None
        assert timedelta(days=13.9) < until - before < timedelta(days=14.1)
    code, out, _ = _run(["quarantine", "add", "resident-0002", "--until",
                         "2099-01-02T03:04:05+01:00", "--lists", str(lists)], capsys)
    assert code == 0 and "until 2099-01-02T02:04:05Z" in out
    code, out, _ = _run(["lists", "show", "--lists", str(lists)], capsys)
    assert code == 0
    assert "version 4 (local)" in out and "2 subjects, 4 templates, 2 in quarantine" in out
    row = next(line for line in out.splitlines() if line.startswith("resident-0002"))
    assert "2 test-model:0123" in row and "until 2099-01-02T02:04:05Z" in row
    code, out, _ = _run(["quarantine", "remove", "resident-0002", "--lists", str(lists)], capsys)
    assert code == 0 and "lifted" in out
    code, out, _ = _run(["lists", "show", "--json", "--lists", str(lists)], capsys)
    data = json.loads(out)
    assert data["version"] == 5 and data["counts"]["quarantined"] == 1
    by_id = {s["id"]: s for s in data["subjects"]}
    assert by_id["resident-0002"]["quarantine_until"] is None
    assert by_id["resident-0001"]["quarantined"] is True
    assert by_id["resident-0001"]["templates"] == {MODEL: 2}  # counts, never the templates


def test_health_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lists = _store(tmp_path, "resident-0001")
    code, out, _ = _run(["health", "set", "resident-0001", "yellow", "--at",
                         "2026-12-01T08:00:00Z", "--lists", str(lists)], capsys)
    assert code == 0 and "health yellow at 2026-12-01T08:00:00Z" in out
    data = json.loads(_run(["lists", "show", "--json", "--lists", str(lists)], capsys)[1])
    (subject,) = data["subjects"]
    assert (subject["health"], subject["health_at"]) == ("yellow", "2026-12-01T08:00:00Z")
    assert data["counts"]["health_yellow"] == 1


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["quarantine", "add", "nobody"], ("no subject 'nobody'", "lists show")),
        (["quarantine", "add", "resident-0001", "--until", "2026-12-15"],
         ("--until '2026-12-15': no time zone", "2026-12-15T00:00:00Z")),
        (["quarantine", "add", "resident-0001", "--until", "next week"], ("not ISO 8601",)),
        (["quarantine", "add", "resident-0001", "--until", "2020-01-01T00:00:00Z"],
         ("is in the past",)),
        (["quarantine", "remove", "resident-0001", "--until", "2099-01-01T00:00:00Z"],
         ("quarantine remove takes no --until",)),
        (["health", "set", "nobody", "green"], ("no subject 'nobody'",)),
    ],
)
def test_usage_problems_are_one_line_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
        needles: tuple[str, ...]) -> None:
    lists = _store(tmp_path, "resident-0001")
    code, _, err = _run([*argv, "--lists", str(lists)], capsys)
    _one_line_error(code, err, argv[0], *needles)
    with ListStore.open(lists, create=False) as store:
        assert store.version == 1, "nothing changed"


def test_a_store_is_needed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["lists", "show"], capsys)
    _one_line_error(code, err, "lists", "give --lists DIR")
    missing = tmp_path / "nowhere"
    code, _, err = _run(["lists", "show", "--lists", str(missing)], capsys)
    _one_line_error(code, err, "lists", f"--lists {missing}: no such folder")
    assert not missing.exists(), "show never creates a store"


def test_lists_dir_from_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lists = _store(tmp_path, "resident-0001")
    config = tmp_path / "gate.toml"
    config.write_text(f'[identity]\nlists_dir = "{lists}"\n')
    code, out, _ = _run(["lists", "show", "--config", str(config)], capsys)
    assert code == 0 and "1 subjects" in out


def test_enroll_and_refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            models_ready: None) -> None:
    faces = shared_data_dir("faces")
    lists = tmp_path / "lists"
    code, out, _ = _run(["enroll", "--lists", str(lists), "--subject", "resident-0007",
                         str(faces / "img5.jpg"), str(faces / "img6.jpg")], capsys)
    assert code == 0, out
    assert "resident-0007 (resident): 2 templates added, 2 in all (dlib_resnet:" in out
    assert f"{faces / 'img5.jpg'}: one face, eyes " in out
    code, _, err = _run(["enroll", "--lists", str(lists), "--subject", "resident-0008",
                         "--kind", "worker", str(faces / "couple.jpg")], capsys)
    _one_line_error(code, err, "enroll", f"{faces / 'couple.jpg'}: 2 faces found",
                    "nothing enrolled")
    data = json.loads(_run(["lists", "show", "--json", "--lists", str(lists)], capsys)[1])
    assert [s["id"] for s in data["subjects"]] == ["resident-0007"]


def test_synth_identity_flag_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "scene")
    for argv, needle in [
        (["--residents", "2"], "need --rgb"),
        (["--rgb", "--grant-by-face"], "need identity roles"),
        (["--rgb", "--residents", "2", "--strangers", "1", "--people", "4"],
         "--people 4 but --residents + --strangers + --quarantined = 3"),
        (["--rgb", "--residents", "1", "--quarantine-until", "soon"], "--quarantine-until"),
    ]:
        code, _, err = _run(["synth", out, *argv], capsys)
        _one_line_error(code, err, "synth", needle)
    assert not Path(out).exists()
