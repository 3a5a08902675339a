"""Baseline mode (edge.core.evidence + decide): a gate without a reference source compares
each person with the median of its recent decisions instead of an absolute threshold."""

from __future__ import annotations

import numpy as np

from edge.core.bodytemp import skin_from_body_c
from edge.core.decide import DecideParams
from edge.core.detections import Detections
from edge.core.evidence import Evidence, EvidenceParams
from edge.core.tracker import TrackerParams

FRAME_NS = 111_000_000


def walk_past(evidence: Evidence, body_c: float, drift_c: float, t0_ns: int) -> list[str]:
    """One person at the gate for 12 frames, read `drift_c` too warm (no reference to correct
    the camera), then gone. Returns the decision types."""
    skin = np.float32(skin_from_body_c(body_c, site="face-max") + drift_c)
    box = Detections.build([[40, 30, 30, 36]], "thermal")
    types = []
    for f in range(12):
        decisions = evidence.record(box, np.array([skin]), False, t0_ns + f * FRAME_NS)
        types += [d.type for d in decisions]
    empty = Detections.empty("thermal")
    for f in range(12, 20):  # long enough for the track to end
        types += [d.type for d in evidence.record(empty, np.zeros(0, np.float32), False,
                                                  t0_ns + f * FRAME_NS)]
    return types


def run(params: DecideParams, bodies: list[float], drift_c: float) -> list[str]:
    evidence = Evidence(EvidenceParams(params, TrackerParams()))
    out: list[str] = []
    for i, body_c in enumerate(bodies):
        out += walk_past(evidence, body_c, drift_c, i * 30 * FRAME_NS)
    return out


NORMALS = list(np.random.default_rng(1).uniform(36.4, 37.0, 14))


def test_a_warm_drifting_camera_gives_false_fevers_without_baseline() -> None:
    absolute = DecideParams(threshold_c=37.3, site="face-max")
    types = run(absolute, [*NORMALS, 37.9], drift_c=0.8)  # skin 0.8 C too warm
    assert types.count("fever") >= 10  # everyone alarms: the failure baseline mode fixes


def test_baseline_mode_follows_the_drift_and_still_catches_the_fever() -> None:
    baseline = DecideParams(threshold_c=37.3, site="face-max", baseline_margin_c=0.8,
                            baseline_samples=20, baseline_min_samples=10)
    for drift_c in (0.8, -0.8):  # warm or cold camera
        types = run(baseline, [*NORMALS, 37.9], drift_c=drift_c)
        assert len(types) == len(NORMALS) + 1
        # The first 10 are judged by the absolute threshold (not enough baseline yet); after
        # that only the person 1 C above the others alarms.
        assert types[10:-1] == ["screening"] * (len(NORMALS) - 10), (drift_c, types)
        assert types[-1] == "fever", (drift_c, types)
