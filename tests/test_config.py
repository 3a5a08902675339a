"""Config validation and the CLI's error contract: one line naming the file, the dotted key,
the bad value and what is allowed; exit code 2 for config, 3 for recordings; no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import Settings, load_config, with_overrides
from edge.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
GOOD_CONFIGS = ["thermal-kiosk.toml", "thermal-synthetic.toml"]
SUBCOMMANDS = ["replay", "synth", "eval", "tail", "check", "demo"]


def _write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message, f"not one line: {message!r}"
    assert str(path) in message, f"file path missing: {message!r}"
    return message


# (TOML text, dotted key, the bad value as printed, what is allowed)
BAD_VALUES = {
    "wrong-type": (
        '[screening]\nmin_samples = "five"\n',
        "screening.min_samples",
        "'five'",
        "valid integer",
    ),
    "wrong-type-float": (
        '[screening]\nthreshold_c = "hot"\n',
        "screening.threshold_c",
        "'hot'",
        "valid number",
    ),
    "threshold-too-high": (
        "[screening]\nthreshold_c = 41.5\n",
        "screening.threshold_c",
        "41.5",
        "less than or equal to 40",
    ),
    "threshold-too-low": (
        "[screening]\nthreshold_c = 34.0\n",
        "screening.threshold_c",
        "34.0",
        "greater than or equal to 35",
    ),
    "threshold-nan": (
        "[screening]\nthreshold_c = nan\n",
        "screening.threshold_c",
        "nan",
        "40",
    ),
    "rotate-deg": (
        "[thermal]\nrotate_deg = 45\n",
        "thermal.rotate_deg",
        "45",
        "0, 90, 180 or 270",
    ),
    "rotate-deg-string": (
        '[thermal]\nrotate_deg = "90"\n',
        "thermal.rotate_deg",
        "'90'",
        "0, 90, 180 or 270",
    ),
    "site-slash": (
        '[gate]\nsite = "north/east"\n',
        "gate.site",
        "'north/east'",
        "letters, digits",
    ),
    "gate-wildcard": (
        '[gate]\ngate = "g+1"\n',
        "gate.gate",
        "'g+1'",
        "letters, digits",
    ),
    "broker-scheme": (
        '[mqtt]\nbroker = "http://127.0.0.1:1883"\n',
        "mqtt.broker",
        "'http://127.0.0.1:1883'",
        "mqtt://",
    ),
    "window-too-big": (
        "[screening]\nwindow_px = 11\n",
        "screening.window_px",
        "11",
        "less than or equal to 9",
    ),
    "reference-temp-range": (
        "[thermal.reference]\ntemp_c = 80.0\n",
        "thermal.reference.temp_c",
        "80.0",
        "less than or equal to 60",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_value_names_file_key_value_and_allowed(tmp_path: Path, case: str) -> None:
    text, key, value, allowed = BAD_VALUES[case]
    message = _config_error(_write(tmp_path, text))
    assert f"{key} = {value}" in message, message
    assert allowed in message, message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[thermal]\nrotate = 90\n", "thermal.rotate"),
        ("[thermal.reference]\ntemperature = 35.0\n", "thermal.reference.temperature"),
        ("[detetc]\nperson_delta_c = 2.5\n", "detetc"),
        ("threshold_c = 37.3\n", "threshold_c"),
    ],
)
def test_unknown_key_names_file_and_dotted_key(tmp_path: Path, text: str, key: str) -> None:
    message = _config_error(_write(tmp_path, text))
    assert f"{key}: unknown key" in message, message


def test_unknown_key_lists_allowed_keys(tmp_path: Path) -> None:
    message = _config_error(_write(tmp_path, "[thermal]\nrotate = 90\n"))
    assert "rotate_deg" in message and "reference" in message, message


def test_short_roi_names_value_and_allowed(tmp_path: Path) -> None:
    message = _config_error(_write(tmp_path, "[thermal.reference]\nroi = [1, 2, 3]\n"))
    assert "thermal.reference.roi = [1, 2, 3]" in message, message


def test_reference_mode_roi_requires_roi(tmp_path: Path) -> None:
    _config_error(_write(tmp_path, '[thermal.reference]\nmode = "roi"\n'))


def test_several_errors_report_the_first_and_count_the_rest(tmp_path: Path) -> None:
    text = "[thermal]\nrotate_deg = 45\n[screening]\nthreshold_c = 99.0\nwindow_px = 0\n"
    message = _config_error(_write(tmp_path, text))
    assert "thermal.rotate_deg = 45" in message
    assert "(and 2 more)" in message


def test_invalid_toml_syntax(tmp_path: Path) -> None:
    message = _config_error(_write(tmp_path, "[screening\nthreshold_c = 37.3\n"))
    assert "not valid TOML" in message
    assert "line 1" in message


def test_missing_file(tmp_path: Path) -> None:
    message = _config_error(tmp_path / "nowhere.toml")
    assert "not found" in message


def test_good_configs_load() -> None:
    kiosk = load_config(REPO / "configs" / "thermal-kiosk.toml")
    assert kiosk.thermal.rotate_deg == 90
    assert kiosk.screening.skin_offset_c == pytest.approx(1.5)
    synthetic = load_config(REPO / "configs" / "thermal-synthetic.toml")
    assert synthetic.gate.site == "lab"
    assert load_config(None) == Settings()


@pytest.mark.parametrize(
    ("flags", "key", "value"),
    [
        ({"broker": "http://x"}, "mqtt.broker", "'http://x'"),
        ({"site": "a/b"}, "gate.site", "'a/b'"),
        ({"gate": "#"}, "gate.gate", "'#'"),
    ],
)
def test_override_errors_name_command_line(flags: dict[str, str], key: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        with_overrides(Settings(), **flags)
    message = str(info.value)
    assert message.startswith("command line: ")
    assert f"{key} = {value}" in message
    assert "\n" not in message


def test_overrides_apply() -> None:
    settings = with_overrides(Settings(), broker="mqtts://h:8883", site="s1", gate=None)
    assert settings.mqtt.broker == "mqtts://h:8883"
    assert settings.gate.site == "s1"
    assert settings.gate.gate == Settings().gate.gate


# --- the command line ------------------------------------------------------------------


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
    path = _write(tmp_path, text, name=f"{case}.toml")
    proc = _run("check", "--config", path, "--no-broker")
    line = _assert_one_line_error(proc, 2, str(path), f"{key} = {value}")
    assert line.startswith("gate-edge check: error: ")
    assert "config: ok" not in proc.stdout


def test_cli_check_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    bad = _write(tmp_path, "rotate_deg = = 90\n")
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


def test_broker_url_is_checked_when_the_config_loads_and_secrets_stay_out(tmp_path: Path) -> None:
    message = _config_error(_write(tmp_path, '[mqtt]\nbroker = "mqtt://h:notaport"\n'))
    assert "mqtt.broker" in message and "notaport" in message
    message = _config_error(_write(tmp_path, '[mqtt]\nbroker = "mqtt://gate:hunter2@h:1883"\n'))
    assert "hunter2" not in message and "mqtt.broker" in message
