"""Config validation: one line naming the file, the dotted key, the bad value and what is
allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import Settings, load_config, with_overrides
from edge.errors import ConfigError
from tests.config_cases import BAD_VALUES, write_toml
from tests.shared import REPO_ROOT as REPO


def _config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message, f"not one line: {message!r}"
    assert str(path) in message, f"file path missing: {message!r}"
    return message


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_value_names_file_key_value_and_allowed(tmp_path: Path, case: str) -> None:
    text, key, value, allowed = BAD_VALUES[case]
    message = _config_error(write_toml(tmp_path, text))
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
    message = _config_error(write_toml(tmp_path, text))
    assert f"{key}: unknown key" in message, message


def test_unknown_key_lists_allowed_keys(tmp_path: Path) -> None:
    message = _config_error(write_toml(tmp_path, "[thermal]\nrotate = 90\n"))
    assert "rotate_deg" in message and "reference" in message, message


def test_short_roi_names_value_and_allowed(tmp_path: Path) -> None:
    message = _config_error(write_toml(tmp_path, "[thermal.reference]\nroi = [1, 2, 3]\n"))
    assert "thermal.reference.roi = [1, 2, 3]" in message, message


def test_reference_mode_roi_requires_roi(tmp_path: Path) -> None:
    _config_error(write_toml(tmp_path, '[thermal.reference]\nmode = "roi"\n'))


def test_several_errors_report_the_first_and_count_the_rest(tmp_path: Path) -> None:
    text = "[thermal]\nrotate_deg = 45\n[screening]\nthreshold_c = 99.0\nwindow_px = 0\n"
    message = _config_error(write_toml(tmp_path, text))
    assert "thermal.rotate_deg = 45" in message
    assert "(and 2 more)" in message


def test_invalid_toml_syntax(tmp_path: Path) -> None:
    message = _config_error(write_toml(tmp_path, "[screening\nthreshold_c = 37.3\n"))
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


def test_broker_url_is_checked_when_the_config_loads_and_secrets_stay_out(tmp_path: Path) -> None:
    message = _config_error(write_toml(tmp_path, '[mqtt]\nbroker = "mqtt://h:notaport"\n'))
    assert "mqtt.broker" in message and "notaport" in message
    message = _config_error(write_toml(tmp_path, '[mqtt]\nbroker = "mqtt://gate:hunter2@h:1883"\n'))
    assert "hunter2" not in message and "mqtt.broker" in message
