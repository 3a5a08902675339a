"""Config test cases shared by the config tests and the CLI error-contract tests."""

from __future__ import annotations

from pathlib import Path


def write_toml(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


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
