"""Config validation: one line naming the file, the dotted key, the bad value and what is
allowed."""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest
from pydantic import BaseModel

from edge.config import Settings, load_config, validate, with_overrides
from edge.errors import ConfigError
from tests.config_cases import BAD_VALUES, H_GOOD, UNUSABLE, write_toml
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
    assert kiosk.screening.skin_offset_c == pytest.approx(1.6)
    assert kiosk.thermal.reference.temp_c == pytest.approx(35.8)  # TKO8's disc (data README)
    tko11 = load_config(REPO / "configs" / "thermal-kiosk-tko11.toml")
    assert tko11.thermal.reference.temp_c == pytest.approx(37.0)
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


# ---- issue 9 item 5: what `check` passes, the gate can use --------------------------------

@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_unusable_config_fails_at_load_naming_the_key(tmp_path: Path, case: str) -> None:
    text, key, value, allowed = UNUSABLE[case]
    path = write_toml(tmp_path, text)
    message = _config_error(path)
    assert message.startswith(f"{path}: {key} = {value}: "), message
    assert allowed in message, message


@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_check_exits_2_with_one_line_naming_the_key(tmp_path: Path, case: str) -> None:
    text, key, value, allowed = UNUSABLE[case]
    path = write_toml(tmp_path, text, name=f"{case}.toml")
    proc = subprocess.run(
        [sys.executable, "-m", "edge", "check", "--config", str(path), "--no-broker"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "config: ok" not in proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"gate-edge check: error: {path}: {key} = {value}: "), lines[0]
    assert allowed in lines[0], lines[0]


def _h(scale: float = 1.0) -> list[list[float]]:
    return [[v * scale for v in row] for row in ast.literal_eval(H_GOOD)]


def _mapped(h: list[list[float]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    pts = np.array([[0, 0, 1], [639, 0, 1], [0, 479, 1], [639, 479, 1], [320, 240, 1]], float)
    out = pts @ np.asarray(h, dtype=np.float64).T
    return np.asarray(out[:, :2] / out[:, 2:], dtype=np.float64)


@pytest.mark.parametrize("scale", [1.0, 1e-5, -1e-5, 1e5, -1.0, 1e-12])
def test_scaled_homography_is_accepted_unchanged(tmp_path: Path, scale: float) -> None:
    rows = ", ".join("[" + ", ".join(repr(v) for v in row) + "]" for row in _h(scale))
    settings = load_config(write_toml(tmp_path, f"[registration]\nrgb_to_thermal = [{rows}]\n"))
    h = settings.registration.rgb_to_thermal
    assert h == _h(scale)  # as written: the same mapping at any scale
    np.testing.assert_allclose(_mapped(h or []), _mapped(_h()), rtol=1e-9)


def test_simulated_and_example_homographies_are_accepted() -> None:
    from edge.sim.rgb import RgbSceneSpec, rgb_to_thermal

    specs = [RgbSceneSpec(), RgbSceneSpec(rgb_width=1280, rgb_height=720),
             RgbSceneSpec(thermal_width=640, thermal_height=512)]
    for spec in specs:
        validate({"registration": {"rgb_to_thermal": rgb_to_thermal(spec).tolist()}}, "sim")
    example = (REPO / "configs" / "rgb-thermal.toml").read_text()
    assert f"# rgb_to_thermal = {H_GOOD}" in example
    validate({"registration": {"rgb_to_thermal": _h()}}, "example")


def _leaves(model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()
            ) -> Iterator[tuple[tuple[str, ...], set[Any]]]:
    """Every key of the config with the types its value may have (None left out)."""
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _leaves(ann, (*prefix, name))
        else:
            yield (*prefix, name), {a for a in (get_args(ann) or (ann,)) if a is not type(None)}


def _nested(key: tuple[str, ...], value: object) -> dict[str, Any]:
    raw: dict[str, Any] = {key[-1]: value}
    for part in reversed(key[:-1]):
        raw = {part: raw}
    return raw


FLOAT_KEYS = [key for key, kinds in _leaves() if kinds == {float}]
INT_KEYS = [key for key, kinds in _leaves() if kinds == {int}]


def test_field_walk_sees_the_numbers() -> None:
    assert ("mqtt", "flush_timeout_s") in FLOAT_KEYS and len(FLOAT_KEYS) >= 15
    assert ("screening", "min_samples") in INT_KEYS and ("detect", "min_face_px") in INT_KEYS


@pytest.mark.parametrize("key", FLOAT_KEYS, ids=".".join)
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_every_float_must_be_finite(key: tuple[str, ...], value: float) -> None:
    with pytest.raises(ConfigError) as info:
        validate(_nested(key, value), "t")
    assert str(info.value).startswith(f"t: {'.'.join(key)} = {value}: Input should be a finite")


@pytest.mark.parametrize("key", FLOAT_KEYS + INT_KEYS, ids=".".join)
@pytest.mark.parametrize("value", ["5", True])
def test_every_number_refuses_strings_and_booleans(key: tuple[str, ...], value: object) -> None:
    with pytest.raises(ConfigError) as info:
        validate(_nested(key, value), "t")
    assert str(info.value).startswith(f"t: {'.'.join(key)} = {value!r}: Input should be a valid")
    assert "(no conversion)" in str(info.value)


def test_overrides_keep_a_loaded_config_valid() -> None:
    kiosk = load_config(REPO / "configs" / "thermal-kiosk.toml")
    assert with_overrides(kiosk, site="s2").thermal.rotate_deg == 90
    rgb = load_config(REPO / "configs" / "rgb-thermal.toml")
    assert with_overrides(rgb, gate="g2").gate.gate == "g2"
