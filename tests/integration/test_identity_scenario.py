"""Issue 10's scenario through a real Mosquitto: a synthetic RGB + thermal recording of real
photos (residents shown with a photo never used to enrol them, strangers never enrolled, a
resident under home quarantine), replayed with the list store that enrolment built. What a
backend receives: each resident recognised once as the right subject, strangers unmatched,
exactly one `quarantine.breach` for the quarantined resident, nobody identified twice; with
admission by face, one `pass.granted` per resident and `pass.denied: quarantined`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from edge.app.enrollment import MIN_EYE_DISTANCE_PX, build_lists
from edge.evaluation.evaluate import load_labels, match
from edge.sim.rgb import synthesize_rgb
from edge.sim.rgb_plan import RgbSceneSpec
from tests.integration.replay_helpers import decision_from_event, replay_and_collect, settings_for
from tests.shared import shared_data_dir

pytestmark = [pytest.mark.broker, pytest.mark.shared]


def _scene(tmp_path: Path, *, grant: bool, seed: int) -> tuple[Path, Path]:
    scene = tmp_path / "scene"
    spec = RgbSceneSpec(
        people=7, residents=4, strangers=2, quarantined=1, seed=seed,
        faces_dir=shared_data_dir("faces"), grant_by_face=grant,
        enroll_min_eye_px=MIN_EYE_DISTANCE_PX,
    )
    summary = synthesize_rgb(scene, spec)
    assert summary.enroll_plan is not None and len(summary.enrolled) == 5
    build_lists(summary.enroll_plan, scene / "lists")
    return scene, scene / "lists"


def _by_person(events: list[dict[str, Any]], scene: Path, meta: Any) -> dict[str, Any]:
    report = match([decision_from_event(e) for e in events], load_labels(scene), meta, 0)
    assert not report.unmatched, [(d.type, d.track) for d in report.unmatched]
    return {p.label: p for p in report.people}


def test_residents_strangers_and_a_quarantine_breach(
    broker: Any, tmp_path: Path, models_ready: None
) -> None:
    scene, lists = _scene(tmp_path, grant=False, seed=5)
    settings = settings_for(None, broker.url, "identity-scene")
    result, events, _ = replay_and_collect(settings, scene, timeout_s=60.0, lists_dir=lists)
    people = _by_person(events, scene, result.meta)
    temps = [e for e in events if "temperature" in e]
    assert all("match" in e for e in temps)  # recognition on: match present, maybe null
    residents = quarantined = strangers = 0
    for person in people.values():
        kinds = Counter(d.type for d in person.events)
        temp = [d for d in person.events if d.temperature is not None]
        assert len(temp) == 1, (person.label, kinds)  # one temperature decision each
        got = temp[0].match.subject if temp[0].match else None
        assert got == person.subject, (person.label, person.subject, temp[0].match)
        if person.subject is None:
            strangers += 1
            assert set(kinds) <= {"screening", "fever"}
            continue
        breaches = [d for d in person.events if d.type == "quarantine.breach"]
        if "quarantine.breach" in person.expect:
            quarantined += 1
            assert len(breaches) == 1 and breaches[0].subject == person.subject
            assert breaches[0].match is not None and breaches[0].match.distance < 0.6
        else:
            residents += 1
            assert not breaches
        assert not {"pass.granted", "pass.denied"} & set(kinds)  # policy off: no pass talk
    assert (residents, quarantined, strangers) == (4, 1, 2)
    # Nobody is identified twice: one breach in all, each temperature event's track once.
    assert sum(e["type"] == "quarantine.breach" for e in events) == 1
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_admission_by_face_grants_residents_and_refuses_the_quarantined(
    broker: Any, tmp_path: Path, models_ready: None
) -> None:
    scene, lists = _scene(tmp_path, grant=True, seed=8)
    settings = settings_for(None, broker.url, "identity-grant",
                            identity={"grant_residents_by_face": True})
    result, events, _ = replay_and_collect(settings, scene, timeout_s=60.0, lists_dir=lists)
    people = _by_person(events, scene, result.meta)
    for person in people.values():
        access = sorted((d.type, d.reason or "") for d in person.events if d.temperature is None)
        if person.subject is None:
            assert access == []
        elif "quarantine.breach" in person.expect:
            assert access == [("pass.denied", "quarantined"), ("quarantine.breach", "")]
        else:
            assert access == [("pass.granted", "")], person.label
        for d in person.events:
            if d.temperature is None:
                assert d.subject == person.subject and d.match is not None
    granted = [e for e in events if e["type"] == "pass.granted"]
    assert len(granted) == 4 and all(e["pass"] is None for e in granted)
