"""Decision.first_t_ns: the frame of the person's first measured sample (where the decision
latency starts), not the first frame they were seen in."""

from __future__ import annotations

import numpy as np

from edge.core.accumulators import TemperatureSamples
from edge.core.bodytemp import skin_from_body_c
from edge.core.decide import DecideParams
from edge.core.detections import Detections
from edge.core.evidence import Evidence, EvidenceParams
from edge.core.tracker import TrackerParams

FRAME_NS = 111_000_000
T0_NS = 5_000_000_000


def test_decision_starts_at_the_first_measurable_frame_not_the_first_seen() -> None:
    evidence = Evidence(EvidenceParams(DecideParams(threshold_c=37.3, site="face-max"),
                                       TrackerParams()))
    skin = np.array([skin_from_body_c(36.6, site="face-max")], np.float32)
    decisions = []
    for f in range(20):  # seen from frame 0, measurable (face close enough) from frame 3
        box = Detections.build([[40, 30, 30, 36]], "thermal", measurable=[f >= 3])
        decisions += evidence.record(box, skin, True, T0_NS + f * FRAME_NS)
    assert [d.type for d in decisions] == ["screening"]
    assert decisions[0].first_t_ns == T0_NS + 3 * FRAME_NS
    assert decisions[0].t_ns > decisions[0].first_t_ns


def test_near_sample_is_the_first_the_decision_used() -> None:
    # Measurable from frame 3 at 20 px, at the gate (30 px, within near_share) from frame 6.
    evidence = Evidence(EvidenceParams(DecideParams(threshold_c=37.3, site="face-max"),
                                       TrackerParams()))
    skin = np.array([skin_from_body_c(36.6, site="face-max")], np.float32)
    decisions = []
    for f in range(3, 25):
        w = 20 if f < 6 else 30
        box = Detections.build([[40, 30, w, int(w * 1.2)]], "thermal", measurable=[True])
        decisions += evidence.record(box, skin, True, T0_NS + f * FRAME_NS)
    assert len(decisions) == 1
    d = decisions[0]
    assert d.first_t_ns == T0_NS + 3 * FRAME_NS and d.near_t_ns == T0_NS + 6 * FRAME_NS
    assert d.t_ns > d.near_t_ns


def test_first_sample_is_kept_per_track_and_forgotten_with_it() -> None:
    samples = TemperatureSamples()
    one = np.ones(2, np.float32)
    samples.add(np.array([1, 2]), one * 34, one * 30, True, t_ns=100)
    samples.add(np.array([2, 3]), one * 34, one * 30, True, t_ns=200)
    assert [samples.first_t_ns(t) for t in (1, 2, 3, 4)] == [100, 100, 200, None]
    samples.drop(2)
    assert samples.first_t_ns(2) is None and samples.first_t_ns(1) == 100
