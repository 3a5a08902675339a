"""`gate-edge calibrate-temp`'s logic (edge.evaluation.calibrate_temp): the readings CSV, the
events log, pairing, the robust offset fit, its refusals and the config edit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.config import load_config
from edge.core.bodytemp import body_from_skin_c, site_map, skin_from_body_c
from edge.errors import ConfigError
from edge.evaluation import calibrate_temp as ct

T0 = 1_700_000_009_888_888_889  # 19 digits: a float would round it


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def event(n: int, skin_c: float | None, *, ambient_c: float | None = 24.0,
          reference_ok: bool = True, site: str = "face-max") -> dict[str, object]:
    """An event as `gate-edge tail --json` prints it (the fields calibrate-temp reads)."""
    return {
        "schema": "gate-edge/event/1", "id": f"01EVENT{n:019d}", "seq": n, "type": "screening",
        "site": "s1", "gate": "kiosk", "t_ns": T0 + n, "track": n,
        "temperature": {"c": 36.5, "threshold_c": 37.3, "site": site, "samples": 9,
                        "reference_ok": reference_ok, "skin_c": skin_c, "spread_c": 0.1,
                        "ambient_c": ambient_c},
        "bbox": [1, 2, 30, 36], "bbox_frame": "thermal",
    }


# --- the readings CSV ---------------------------------------------------------------------


def test_rows_by_id_track_or_inline_with_comments_and_any_column_order(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", (
        "# installer: Ana, 2026-11-28\n"
        "note,thermometer_c,id,track,t_ns,skin_c,site,ambient_c\n"
        "p1,36.6,01ABC,,,,,\n"
        "\n"
        f"p2,37.1,,7,{T0},,,\n"
        "p3,36.9,,,,35.2,canthus,22.5\n"
    ))
    rows = ct.read_rows(path)
    assert [r.line for r in rows] == [3, 5, 6]
    assert rows[0].event_id == "01ABC" and rows[0].thermometer_c == 36.6
    assert rows[1].track == 7 and rows[1].t_ns == T0  # exact, not through a float
    assert (rows[2].skin_c, rows[2].site, rows[2].ambient_c) == (35.2, "canthus", 22.5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no readings"),
        ("thermometer_c,temp\n36.6,1\n", r"unknown column\(s\) \['temp'\]"),
        ("id,skin_c\n01A,35\n", "no thermometer_c column"),
        ("thermometer_c,id\n36,6,01A\n", "line 2: 3 values"),
        ("thermometer_c,id\n,01A\n", "line 2: thermometer_c is empty"),
        ("thermometer_c,id\nabc,01A\n", "line 2: thermometer_c = 'abc': expected a number"),
        ("thermometer_c,id\n3.66,01A\n", "thermometer_c = 3.66: expected degC between 30 and 45"),
        ("thermometer_c,track\n36.6,3\n", "line 2: give both track and t_ns"),
        ("thermometer_c,track,t_ns\n36.6,3,1.5e18\n", "t_ns = '1.5e18': expected an integer"),
        ("thermometer_c,note\n36.6,x\n", "line 2: name the gate's measurement"),
        ("thermometer_c,skin_c,site\n36.6,35,forehead\n", "line 2: site: unknown"),
        ("thermometer_c,skin_c\n36.6,nan\n", "skin_c = 'nan': expected a finite number"),
    ],
)
def test_bad_readings_are_one_line_errors_naming_the_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        ct.read_rows(write(tmp_path, "r.csv", text))


def test_events_log_keeps_temperature_events_once(tmp_path: Path) -> None:
    lines = [
        json.dumps({"topic": "gate/s1/kiosk/status", "payload": "online"}),
        json.dumps({"fps": {"thermal": 9.0}, "heads": 1, "room_c": 24.1}),
        json.dumps(event(1, 35.5)),
        json.dumps(event(1, 35.5)),  # at-least-once delivery: a duplicate
        json.dumps(event(2, 35.7)),
    ]
    events = ct.load_events(write(tmp_path, "e.jsonl", "\n".join(lines) + "\n\n"))
    assert [e["id"] for e in events] == [event(1, 0)["id"], event(2, 0)["id"]]
    with pytest.raises(ConfigError, match="line 2: not JSON"):
        ct.load_events(write(tmp_path, "bad.jsonl", json.dumps(event(1, 35.5)) + "\nFEVER\n"))


# --- pairing --------------------------------------------------------------------------------


def test_rows_resolve_to_their_events_or_inline_readings() -> None:
    events = [event(1, 35.5, ambient_c=27.0), event(2, 35.9), event(3, None),
              event(4, 35.2, reference_ok=False)]
    rows = [
        ct.Row(2, 36.6, event_id=str(events[0]["id"])),
        ct.Row(3, 37.0, track=2, t_ns=T0 + 2),
        ct.Row(4, 36.8, skin_c=35.4),
        ct.Row(5, 36.8, track=3, t_ns=T0 + 3),
        ct.Row(6, 36.8, track=4, t_ns=T0 + 4),
    ]
    pairs = ct.resolve(rows, events, "face-max")
    assert [(p.label, p.skin_c, p.ambient_c) for p in pairs[:3]] == [
        (events[0]["id"], 35.5, 27.0), (events[1]["id"], 35.9, 24.0), ("inline", 35.4, None)
    ]
    assert [p.skip for p in pairs] == ["", "", "", "no skin reading",
                                       "reference not ok when measured"]
    assert pairs[0].body_c == pytest.approx(body_from_skin_c(35.5, 27.0, site="face-max"))


def test_rows_that_cannot_be_resolved_say_why() -> None:
    events = [event(1, 35.5), {**event(2, 35.6), "track": 1, "t_ns": T0 + 1, "gate": "north"}]
    with pytest.raises(ConfigError, match="line 2: no temperature event with id 01X"):
        ct.resolve([ct.Row(2, 36.6, event_id="01X")], events, "face-max")
    with pytest.raises(ConfigError, match=r"line 3: 2 events with track 1 at t_ns .*; use id"):
        ct.resolve([ct.Row(3, 36.6, track=1, t_ns=T0 + 1)], events, "face-max")
    with pytest.raises(ConfigError, match="line 4: names an event; give the events with --events"):
        ct.resolve([ct.Row(4, 36.6, event_id="01X")], None, "face-max")
    with pytest.raises(ConfigError, match=r"line 5: which site\?"):
        ct.resolve([ct.Row(5, 36.6, skin_c=35.0)], None, None)


# --- the fit --------------------------------------------------------------------------------


def pairs_for(offset_error_c: float, n: int, *, noise_c: float = 0.1, site: str = "face-max",
              outlier_c: float = 0.0, seed: int = 3) -> list[ct.Pair]:
    """n people; the gate's skin reading is `offset_error_c` short of what their body
    temperature reads at the site, in rooms of 22-28 C; the thermometer has `noise_c`."""
    rng = np.random.default_rng(seed)
    body = rng.uniform(36.2, 38.6, n)
    rooms = rng.uniform(22.0, 28.0, n)
    pairs = []
    for i in range(n):
        skin = float(skin_from_body_c(float(body[i]), float(rooms[i]), site)) - offset_error_c
        thermo = float(body[i] + rng.normal(0.0, noise_c)) + (outlier_c if i == 0 else 0.0)
        pairs.append(ct.Pair(i + 2, "inline", round(thermo, 1), round(skin, 2), site,
                             float(rooms[i])))
    return pairs


@pytest.mark.parametrize("site", ["face-max", "canthus"])
def test_fit_recovers_the_offset_despite_a_mistyped_reading(site: str) -> None:
    cal = ct.fit(pairs_for(0.8, 9, site=site, outlier_c=-1.5), offset_used_c=1.0)
    assert cal.offset_c == pytest.approx(1.8, abs=0.1)
    assert abs(float(np.median(cal.after_c))) < 0.02 < abs(float(np.median(cal.before_c)))
    assert cal.after_c[0] == pytest.approx(1.5, abs=0.3)  # the typo stands out, unweighted
    slope = site_map(site).slope
    # the residual after = before + slope x the change, row by row
    np.testing.assert_allclose(np.subtract(cal.after_c, cal.before_c), slope * cal.delta_c)
    ct.check(cal)


def test_uncertainty_is_the_medians_standard_error() -> None:
    cal = ct.fit(pairs_for(0.0, 25, noise_c=0.2, seed=8), offset_used_c=0.0)
    slope = site_map("face-max").slope
    assert cal.uncertainty_c == pytest.approx(1.858 * cal.mad_c / slope / 5.0, rel=1e-3)
    assert 0.02 < cal.uncertainty_c < 0.1
    assert abs(cal.delta_c) < 3 * cal.uncertainty_c


def test_skipped_rows_do_not_count() -> None:
    pairs = pairs_for(0.3, 6)
    pairs[1] = ct.Pair(3, "01B", 36.6, 35.0, "face-max", None, skip="reference not ok")
    cal = ct.fit(pairs, 0.0)
    assert len(cal.used) == 5 and len(cal.pairs) == 6 and len(cal.after_c) == 5
    assert any("skipped: reference not ok" in line for line in ct.table(cal))


def test_fewer_than_five_usable_readings_are_refused() -> None:
    cal = ct.fit(pairs_for(0.3, 4), 0.0)
    with pytest.raises(ConfigError, match="4 usable readings \\(of 4\\); at least 5"):
        ct.check(cal)


def test_readings_that_disagree_wildly_are_refused_naming_the_worst() -> None:
    cal = ct.fit(pairs_for(0.3, 8, noise_c=1.2, seed=4), 0.0)
    assert cal.mad_c > ct.MAX_MAD_C
    with pytest.raises(ConfigError, match=r"readings disagree: .* \(allowed 0.4 C\); furthest off: "
                       r"line \d+ \([+-]\d\.\d\d C\), line"):
        ct.check(cal)


def test_mixed_sites_are_refused() -> None:
    pairs = pairs_for(0.3, 4) + pairs_for(0.3, 3, site="canthus")
    with pytest.raises(ConfigError, match="mix sites \\(canthus, face-max\\)"):
        ct.fit(pairs, 0.0)


# --- the config -----------------------------------------------------------------------------


KIOSK = Path(__file__).resolve().parents[2] / "configs" / "thermal-kiosk.toml"


def test_write_keeps_the_config_and_its_comments(tmp_path: Path) -> None:
    config = write(tmp_path, "kiosk.toml", KIOSK.read_text())
    cal = ct.fit(pairs_for(0.25, 7), offset_used_c=1.5)
    value = ct.write_offset(config, cal)
    assert value == round(cal.offset_c, 2) and abs(value - 1.75) < 0.1
    text = config.read_text()
    assert load_config(config).screening.skin_offset_c == value
    before = [line for line in KIOSK.read_text().splitlines() if "skin_offset_c =" not in line]
    after = [line for line in text.splitlines() if "skin_offset_c =" not in line]
    assert before == after  # every other line, comments included, as it was
    (line,) = [line for line in text.splitlines() if line.startswith("skin_offset_c")]
    assert f"gate-edge calibrate-temp: 7 readings, residual MAD {cal.mad_c:.2f} C" in line


def test_write_adds_the_section_and_never_writes_an_invalid_config(tmp_path: Path) -> None:
    config = write(tmp_path, "g.toml", '# my gate\n[gate]\nsite = "s1"\n')
    ct.write_offset(config, ct.fit(pairs_for(0.2, 5), 0.0))
    assert config.read_text().startswith('# my gate\n[gate]\nsite = "s1"\n')
    assert load_config(config).screening.skin_offset_c == pytest.approx(0.2, abs=0.1)
    kept = config.read_text()
    with pytest.raises(ConfigError, match=r"screening.skin_offset_c = 5.9\d: Input should be less"):
        ct.write_offset(config, ct.fit(pairs_for(4.0, 5), 2.0))  # ~6 C is outside -5..5
    assert config.read_text() == kept
