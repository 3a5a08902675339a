"""RGB + thermal through the full pipeline and a real Mosquitto: real face photos composited
into a gate scene, faces found by the real models, temperature at the inner eye corners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.evaluation.evaluate import load_labels, match
from edge.sim.rgb import synthesize_rgb
from edge.sim.rgb_plan import RgbSceneSpec
from tests.integration.replay_helpers import (
    TOLERANCE_C,
    decision_from_event,
    replay_and_collect,
    settings_for,
)
from tests.shared import shared_data_dir


@pytest.mark.broker
@pytest.mark.shared
def test_rgb_thermal_scene_from_real_faces(
    broker: Any, tmp_path: Path, models_ready: None
) -> None:
    faces = shared_data_dir("faces")
    scene = tmp_path / "scene"
    summary = synthesize_rgb(scene, RgbSceneSpec(people=12, seed=31, faces_dir=faces))
    assert summary.people >= 12 and summary.fevers >= 3 and summary.pairs >= 3
    assert len(set(summary.subjects)) >= 6  # real, different faces
    settings = settings_for(None, broker.url, "rgbt-faces")
    result, events, _ = replay_and_collect(settings, scene, timeout_s=60.0)

    assert result.rgb_frames > 0 and result.thermal_frames > 0
    assert all(e["temperature"]["site"] == "canthus" for e in events)
    # docs/mqtt.md: in RGB + thermal mode the box is in colour-camera pixels, and says so.
    assert all(e["bbox_frame"] == "rgb" for e in events)
    assert max(e["bbox"][0] + e["bbox"][2] for e in events) > 160  # beyond a thermal frame
    report = match([decision_from_event(e) for e in events], load_labels(scene), result.meta, 0)
    assert not report.unmatched
    for person in report.people:
        assert person.ok, (person.label, person.expect, [d.type for d in person.events])
        assert person.error_c is not None and abs(person.error_c) <= TOLERANCE_C, person
    fc = report.fever_counts
    assert (fc["tp"], fc["fp"], fc["fn"]) == (summary.fevers, 0, 0)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_without_registration_rgb_thermal_mode_is_a_clear_error(tmp_path: Path) -> None:
    from edge.app.wiring import build_pipeline
    from edge.config import validate
    from edge.core.types import RgbStreamMeta, StreamInfo, ThermalStreamMeta
    from edge.errors import ConfigError

    meta = StreamInfo("recording-v1", ThermalStreamMeta(160, 120, "centikelvin"),
                      rgb=RgbStreamMeta(), path=tmp_path)
    with pytest.raises(ConfigError, match=r"registration\.rgb_to_thermal"):
        build_pipeline(validate({"mode": "rgb_thermal"}, "test"), meta)
    # auto mode without a registration falls back to thermal-only instead of failing
    assert type(build_pipeline(validate({}, "test"), meta)).__name__ == "ThermalPipeline"
