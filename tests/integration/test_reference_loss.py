"""A reference source covered for a while (issue: no alarm from an uncorrected reading):
nobody gets `fever` from that stretch, a fever there becomes `recheck`, and the metrics and
the retained info say the reference was lost and came back. Real broker, real pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.app.replay import replay
from edge.sim.spec import SceneSpec
from edge.sim.thermal import synthesize
from tests.integration.replay_helpers import replay_and_collect, settings_for

COVER_S = 2.5  # how long something stands in front of the reference


def cover_reference(folder: Path, start_ns: int, end_ns: int) -> None:
    """Paint the reference ROI (and a 3 px margin) at the room's temperature in every frame
    between start_ns and end_ns: a coat hung in front of the blackbody."""
    meta = json.loads((folder / "meta.json").read_text())
    th = meta["thermal"]
    x, y, w, h = meta["reference"]["thermal_roi"]
    frames = np.fromfile(folder / "thermal.u16", dtype="<u2").reshape(-1, th["height"], th["width"])
    t_ns = np.loadtxt(folder / "thermal.csv", delimiter=",", skiprows=1, dtype=np.int64)[:, 1]
    covered = (t_ns >= start_ns) & (t_ns < end_ns)
    room = np.median(frames[covered], axis=(1, 2)).astype(np.uint16)
    ys, xs = slice(max(0, y - 3), y + h + 3), slice(max(0, x - 3), x + w + 3)
    frames[covered, ys, xs] = room[:, None, None]
    frames.tofile(folder / "thermal.u16")


@pytest.mark.broker
def test_covered_reference_gives_no_fever_and_is_reported(
    broker: Any, gate: str, tmp_path: Path
) -> None:
    scene = tmp_path / "scene"
    synthesize(scene, SceneSpec(people=10, fever_fraction=0.5, pair_fraction=0.0, seed=5))
    settings = settings_for(
        "thermal-synthetic.toml", broker.url, gate, mqtt={"metrics_interval_s": 0.05}
    )
    baseline = replay(settings, scene, publish=False).decisions
    fevers = [d for d in baseline if d.type == "fever"]
    assert fevers, "the scene needs a fever to cover"
    target = fevers[len(fevers) // 2]
    # Cover the reference from before that person's decision until just after it. Nobody is
    # decided early on an untrusted reading (screening.early): covered, the person waits for
    # the full evidence, so the cover lasts until that later moment.
    full = replay(settings_for("thermal-synthetic.toml", broker.url, gate,
                               screening={"early": False}), scene, publish=False).decisions
    full_t_ns = next(d.t_ns for d in full if d.track == target.track)
    assert full_t_ns >= target.t_ns
    start_ns, end_ns = target.t_ns - int(COVER_S * 1e9), full_t_ns + int(0.3e9)
    cover_reference(scene, start_ns, end_ns)

    others: list[tuple[str, dict[str, Any]]] = []
    # 20x real time: the covered stretch lasts ~0.14 s of wall time, a few metrics ticks.
    result, events, _ = replay_and_collect(settings, scene, others=others, speed=20.0)
    by_track = {e["track"]: e for e in events}
    assert len(events) == len(baseline)
    assert by_track[target.track]["type"] == "recheck"
    assert by_track[target.track]["temperature"]["reference_ok"] is False
    for e in events:
        if start_ns <= e["t_ns"] <= end_ns:
            assert e["type"] != "fever" and e["temperature"]["reference_ok"] is False, e
    before = [d for d in baseline if d.t_ns < start_ns]
    assert [e["type"] for e in events[: len(before)]] == [d.type for d in before]
    # Operators were told: after the start-up lock the retained info went not-ok and came
    # back, and the metrics (every 0.05 s) saw the loss.
    states = [b["reference"]["ok"] for k, b in others if k == "info" and "reference" in b]
    first_ok = states.index(True)
    assert False in states[first_ok:] and states[-1] is True, states
    lost = [b["reference"] for k, b in others if k == "metrics" and not b["reference"]["ok"]]
    assert any(r["expected"] and r["reason"] != "ok" for r in lost), lost
    assert result.published == len(events)
