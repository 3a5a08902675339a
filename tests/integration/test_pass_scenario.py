"""Issue 11's scenario through a real Mosquitto: a synthetic RGB + thermal recording
(`gate-edge synth --passes all`: one person per case, passes signed with the scene's key or a
forger's, one tampered, one revoked in the list store, one holder with a red health code),
replayed with the list store synth built. What a backend receives: for each person exactly the
expected events and reasons and nothing else (visitor with a valid pass, expired, not yet
valid, revoked, forged, tampered, pass for another gate, borrowed, the holder's pass shown by
a stranger, non-green health, quarantined resident with a valid pass, resident by face, unknown
person without a pass), every pass decision naming the pass holder and the pass it read."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from edge.cli.main import main
from edge.evaluation import pass_score
from edge.evaluation.evaluate import load_labels, match
from edge.evaluation.identity_score import expect_met
from edge.sim.passes import ALL
from tests.integration.replay_helpers import decision_from_event, replay_and_collect, settings_for
from tests.shared import shared_data_dir

pytestmark = [pytest.mark.broker, pytest.mark.shared]
GATE = "pass-scene"


def test_every_pass_case_gives_exactly_its_events(
    broker: Any, tmp_path: Path, models_ready: None, capsys: pytest.CaptureFixture[str]
) -> None:
    scene = tmp_path / "scene"
    assert main(["synth", str(scene), "--rgb", "--faces", str(shared_data_dir("faces")),
                 "--passes", "all", "--gate", GATE, "--seed", "1", "--quiet"]) == 0
    assert "1 revoked passes" in capsys.readouterr().out
    lists = scene / "lists"
    settings = settings_for(None, broker.url, GATE,
                            identity={"enabled": True, "lists_dir": str(lists),
                                      "grant_residents_by_face": True},
                            passes={"enabled": True})
    result, events, _ = replay_and_collect(settings, scene, timeout_s=90.0, lists_dir=lists)
    labels = load_labels(scene)
    report = match([decision_from_event(e) for e in events], labels, result.meta, 0)
    assert not report.unmatched, [(d.type, d.reason, d.track) for d in report.unmatched]
    by_label = {p["label"]: p for p in labels}
    cases = {}
    for person in report.people:
        label = by_label[person.label]
        shown = label["pass"]
        cases[shown["case"]] = person
        got = sorted(f"{d.type}:{d.reason}" if d.reason else d.type for d in person.events)
        assert expect_met(person.expect, person.events), (shown["case"], person.expect, got)
        assert pass_score.subjects_ok(person.subject, shown["holder"], person.events), (
            shown["case"], [(d.type, d.subject) for d in person.events])
    assert sorted(cases) == sorted(ALL)
    # Exactly the expected events in all, one temperature decision each, nothing twice.
    assert len(events) == sum(len(p["expect"]) for p in labels)
    assert sum(e["type"] in ("screening", "fever", "recheck") for e in events) == len(labels)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    _wire_fields(events, labels)
    summary = report.passes
    assert (summary.right, summary.expected, summary.wrong) == (12, 12, 0)


def _wire_fields(events: list[dict[str, Any]], labels: list[dict[str, Any]]) -> None:
    """Pass decisions carry the pass that was read (its id and digest, the scene's kid);
    decisions by face carry none; a breach names the quarantined resident."""
    by_digest = {p["pass"]["digest"]: p["pass"] for p in labels
                 if p["pass"] and p["pass"].get("digest")}
    kinds: Counter[str] = Counter()
    for e in events:
        if e["type"] not in ("pass.granted", "pass.denied"):
            continue
        shown = e["pass"]
        if shown is None:  # by face: the resident, or the quarantined one
            kinds["face"] += 1
            assert e["match"] is not None and e["subject"] == e["match"]["subject"]
            continue
        kinds["pass"] += 1
        assert shown["digest"] in by_digest, shown
        label = by_digest[shown["digest"]]
        assert shown["id"] in (label["pass_id"], None), (shown, label["case"])
        if e.get("reason") != "unreadable":
            assert shown["id"] == label["pass_id"], (shown, label["case"])
        if e["type"] == "pass.granted":
            assert label["case"] == "valid" and shown["kid"]
    # 11 people hold a pass; the quarantined resident's pass and face agree: one decision.
    assert kinds["pass"] + kinds["face"] == 12 and kinds["pass"] >= 10
