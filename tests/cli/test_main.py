"""The CLI's error contract: one line naming the file, the dotted key, the bad value and what
is allowed; exit code 2 for config, 3 for recordings; no traceback; help with examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.config_cases import BAD_VALUES, write_toml
from tests.shared import REPO_ROOT as REPO

GOOD_CONFIGS = ["thermal-kiosk.toml", "thermal-synthetic.toml"]
SUBCOMMANDS = ["replay", "synth", "eval", "tail", "check", "demo"]


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str):
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert proc.stderr.endswith("\n")
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.mark.parametrize(
    "case", ["rotate-deg", "site-slash", "broker-scheme", "threshold-too-high"]
)
def test_cli_check_bad_config(tmp_path: Path, case: str) -> None:
    text, key, value, _allowed = BAD_VALUES[case]
    path = write_toml(tmp_path, text, name=f"{case}.toml")
    proc = _run("check", "--config", path, "--no-broker")
    line = _assert_one_line_error(proc, 2, str(path), f"{key} = {value}")
    assert line.startswith("gate-edge check: error: ")
    assert "config: ok" not in proc.stdout


def test_cli_check_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    bad = write_toml(tmp_path, "rotate_deg = = 90\n")
    _assert_one_line_error(_run("check", "--config", bad, "--no-broker"), 2, str(bad), "TOML")
    missing = tmp_path / "missing.toml"
    _assert_one_line_error(
        _run("check", "--config", missing, "--no-broker"), 2, str(missing), "not found"
    )


@pytest.mark.parametrize("name", GOOD_CONFIGS)
def test_cli_check_good_config(name: str) -> None:
    proc = _run("check", "--config", f"configs/{name}", "--no-broker")
    assert proc.returncode == 0, proc.stderr
    assert "config: ok" in proc.stdout
    assert name in proc.stdout
    assert "Traceback" not in proc.stderr


def test_cli_broker_override_names_command_line() -> None:
    proc = _run(
        "check", "--config", "configs/thermal-kiosk.toml", "--broker", "http://x", "--no-broker"
    )
    _assert_one_line_error(proc, 2, "command line", "mqtt.broker = 'http://x'", "mqtt://")


def test_cli_replay_corrupt_meta(tmp_path: Path) -> None:
    recording = tmp_path / "rec"
    recording.mkdir()
    (recording / "meta.json").write_text("{not json", encoding="utf-8")
    proc = _run("replay", "--offline", recording)
    _assert_one_line_error(proc, 3, "meta.json", str(recording))


def test_cli_replay_missing_recording(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-recording"
    proc = _run("replay", "--offline", missing)
    _assert_one_line_error(proc, 3, str(missing), "not found")


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_cli_help_has_example(command: str) -> None:
    proc = _run(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "example:" in proc.stdout
    assert f"gate-edge {command}" in proc.stdout


def test_cli_top_level_help_lists_commands() -> None:
    proc = _run("--help")
    assert proc.returncode == 0
    assert "example:" in proc.stdout
    for command in SUBCOMMANDS:
        assert command in proc.stdout
