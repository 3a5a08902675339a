"""`gate-edge calibrate-temp` end to end: events as the gate publishes them (saved from
`tail --json`), a thermometer CSV, the config rewritten or left alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edge.config import load_config
from edge.core.bodytemp import body_from_skin_c, skin_from_body_c
from edge.core.types import Decision, TemperatureReading
from edge.transport.events import decision_body, with_identity

T0 = 1_700_000_000_000_000_000
BODY_C = (36.4, 36.9, 37.6, 36.6, 38.2, 36.8)
ROOM_C = 27.0
OFFSET_C = 0.5  # what the config has; the camera actually needs 0.5 + 0.3


def _events(tmp_path: Path) -> Path:
    """One screening event a person, as published, their skin 0.3 C short of the truth."""
    lines = [json.dumps({"topic": "gate/s1/kiosk/status", "payload": "online"})]
    for i, body in enumerate(BODY_C):
        skin = float(skin_from_body_c(body, ROOM_C, site="face-max")) - 0.3
        est = float(body_from_skin_c(skin, ROOM_C, site="face-max"))
        reading = TemperatureReading(est, skin, 37.3, "face-max", 9, True, 0.1, ROOM_C)
        d = Decision("screening", T0 + i, i + 1, reading, (10, 10, 30, 36))
        body_ = decision_body(d, site="s1", gate="kiosk", wall_ns=T0)
        lines.append(json.dumps(with_identity(body_, seq=i + 1, event_id=f"01EV{i:022d}")))
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", "calibrate-temp", *map(str, args)],
        capture_output=True, text=True, timeout=60,
    )


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "gate.toml"
    config.write_text(
        f'mode = "thermal"\n[screening]\n# set on site\nskin_offset_c = {OFFSET_C}  # old\n'
    )
    return config


def test_fits_the_offset_from_saved_events_and_writes_it(tmp_path: Path) -> None:
    config, events = _config(tmp_path), _events(tmp_path)
    readings = tmp_path / "readings.csv"
    rows = ["thermometer_c,id,track,t_ns,note"]
    rows += [f"{b},01EV{i:022d},,,by id" for i, b in enumerate(BODY_C[:3])]
    rows += [f"{b},,{i + 1},{T0 + i},by track" for i, b in enumerate(BODY_C) if i >= 3]
    readings.write_text("\n".join(rows) + "\n")
    done = _run(readings, "--events", events, "--config", config)
    assert done.returncode == 0, done.stderr
    assert "screening.skin_offset_c (face-max, 6 readings): +0.50 -> +0.80 C" in done.stdout
    assert done.stdout.count("01EV") == 6 and "written to" in done.stdout  # by id or track
    assert load_config(config).screening.skin_offset_c == 0.8
    text = config.read_text()
    assert "# set on site\n" in text and "gate-edge calibrate-temp: 6 readings" in text


def test_dry_run_and_refusals_leave_the_config_alone(tmp_path: Path) -> None:
    config, events = _config(tmp_path), _events(tmp_path)
    kept = config.read_text()
    readings = tmp_path / "readings.csv"
    readings.write_text(
        "thermometer_c,skin_c,ambient_c\n"
        + "".join(f"{b},{skin_from_body_c(b, 24.0, 'face-max') - 0.2:.2f},24\n" for b in BODY_C)
    )
    done = _run(readings, "--config", config, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "-> +0.70 C" in done.stdout and "dry run: config not changed" in done.stdout
    readings.write_text("thermometer_c,id\n" + "".join(
        f"{b},01EV{i:022d}\n" for i, b in enumerate(BODY_C[:4])
    ))
    done = _run(readings, "--events", events, "--config", config)
    assert done.returncode == 2
    assert "error: 4 usable readings (of 4); at least 5 are needed" in done.stderr
    assert config.read_text() == kept
