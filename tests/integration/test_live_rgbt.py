"""`gate-edge run` in RGB + thermal mode: both streams through the live path (capture
thread, frame guard, canthus pipeline) into a real broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.app.live import LiveGate
from edge.config import validate
from edge.sim.rgb import synthesize_rgb
from edge.sim.rgb_plan import RgbSceneSpec
from tests.integration.gate_process import Backend


@pytest.mark.broker
def test_live_gate_measures_at_the_canthus(
    tmp_path: Path, broker: Any, models_ready: None
) -> None:
    scene = tmp_path / "scene"
    summary = synthesize_rgb(scene, RgbSceneSpec(people=2, pair_fraction=0.0, seed=8))
    settings = validate(
        {
            "gate": {"site": "fault", "gate": "live-rgbt"},
            "mqtt": {"broker": broker.url},
            "source": {"path": str(scene), "speed": 8.0},
        },
        "test",
    )
    backend = Backend(broker.url, "live-rgbt")
    try:
        gate = LiveGate(settings)
        assert gate.pipeline.uses_rgb
        assert gate.run() == 0  # the source ends: decide, flush, go offline
        assert backend.wait_for(lambda ev: len(ev) >= summary.people, 20.0)
    finally:
        backend.close()
    assert all(e["temperature"]["site"] == "canthus" for e in backend.events)
    assert len({e["id"] for e in backend.events}) == summary.people
    assert not gate.guard.dropped
