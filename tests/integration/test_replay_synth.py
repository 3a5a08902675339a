"""Synthetic scenes with ground truth through the full pipeline and a real Mosquitto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.app.replay import replay
from edge.evaluation.evaluate import load_labels, match
from edge.sim.broker import PrivateBroker
from edge.sim.thermal import SceneSpec, synthesize
from tests.integration.replay_helpers import (
    TOLERANCE_C,
    decision_from_event,
    replay_and_collect,
    settings_for,
)


@pytest.mark.broker
def test_crowd_scene_one_event_per_person_within_tolerance(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    scene = tmp_path / "scene"
    summary = synthesize(scene, SceneSpec(people=24, seed=11, pair_fraction=0.4))
    assert summary.people >= 20 and summary.pairs >= 3 and summary.fevers >= 3
    settings = settings_for("thermal-synthetic.toml", broker.url, "synth-crowd")
    result, events, _ = replay_and_collect(settings, scene)

    assert len(events) == len(result.decisions)
    report = match([decision_from_event(e) for e in events], load_labels(scene), result.meta, 0)
    assert not report.unmatched
    for person in report.people:
        assert person.ok, (person.label, person.expect, [d.type for d in person.events])
        if person.expect:
            assert person.error_c is not None and abs(person.error_c) <= TOLERANCE_C, person
    assert report.fever_counts["fn"] == 0 and report.fever_counts["fp"] == 0
    assert report.fever_counts["tp"] == summary.fevers
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert {e["bbox_frame"] for e in events} == {"thermal"}


@pytest.mark.parametrize(
    ("rotate", "encoding"), [(90, "p2pro"), (270, "linear"), (180, "centikelvin")]
)
def test_sideways_camera_and_other_encodings(tmp_path: Path, rotate: int, encoding: str) -> None:
    """Same decisions whatever the mounting and the count encoding (no broker needed)."""
    scene = tmp_path / "scene"
    synthesize(scene, SceneSpec(people=8, seed=3, rotate=rotate, encoding=encoding))  # type: ignore[arg-type]
    settings = settings_for("thermal-synthetic.toml", "mqtt://127.0.0.1:1", "offline",
                            thermal={"rotate_deg": rotate})
    result = replay(settings, scene, publish=False)
    report = match(result.decisions, load_labels(scene), result.meta, rotate)
    assert report.all_ok, [(p.label, [d.type for d in p.events]) for p in report.people]
    assert report.max_abs_error_c is not None and report.max_abs_error_c <= TOLERANCE_C


def test_evaluation_catches_a_miscalibrated_gate(tmp_path: Path) -> None:
    """The accuracy check can fail: a gate reading 0.5 C high is caught, and the people
    pushed over the threshold show up as false fevers."""
    scene = tmp_path / "scene"
    synthesize(scene, SceneSpec(people=8, seed=3))
    settings = settings_for("thermal-synthetic.toml", "mqtt://127.0.0.1:1", "offline",
                            screening={"skin_offset_c": 0.5})
    result = replay(settings, scene, publish=False)
    report = match(result.decisions, load_labels(scene), result.meta, 0)
    assert report.max_abs_error_c is not None and report.max_abs_error_c > TOLERANCE_C
    assert json.loads((scene / "labels.json").read_text())["people"]
