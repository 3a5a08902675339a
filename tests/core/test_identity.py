"""Identity in the pure core: the vote (edge.core.identity), the per-track samples
(edge.core.accumulators.IdentitySamples) and one identity per person through Evidence."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from edge.core.accumulators import IdentitySamples
from edge.core.bodytemp import skin_from_body_c
from edge.core.decide import DecideParams
from edge.core.detections import Detections
from edge.core.evidence import Evidence, EvidenceParams
from edge.core.identity import IdentityParams, SubjectStatus, access_events, identify
from edge.core.types import Decision, Match

T = 0.5  # threshold used throughout

# --- identify: the vote -------------------------------------------------------------------


def test_unanimous_close_frames_identify_with_the_median_distance() -> None:
    match = identify([("ann", 0.30), ("ann", 0.40), ("ann", 0.35)], T)
    assert match == Match("ann", 0.35)


def test_the_nearest_stranger_is_never_a_match() -> None:
    # Every frame's nearest subject is "ann", but none is within the threshold.
    assert identify([("ann", 0.51), ("ann", 0.6), ("ann", 0.55)], T) is None


def test_a_majority_of_all_frames_is_needed() -> None:
    assert identify([("ann", 0.3), ("bob", 0.3)], T) is None  # a tie recognises nobody
    assert identify([("ann", 0.3), ("ann", 0.7), ("ann", 0.8)], T) is None  # 1 of 3 close
    assert identify([("ann", 0.3), ("ann", 0.4), ("bob", 0.2)], T) == Match("ann", 0.35)


def test_an_empty_gallery_or_no_frames_identify_nobody() -> None:
    assert identify([], T) is None
    assert identify([(None, 0.0), (None, 0.0)], T) is None


# --- access_events: what an identity means at the gate --------------------------------------

RESIDENT = SubjectStatus("resident", quarantined=False, health="green")


@pytest.mark.parametrize(
    ("status", "grant", "expected"),
    [
        (RESIDENT, False, []),
        (RESIDENT, True, [("pass.granted", None)]),
        (SubjectStatus("resident", True, "green"), False, [("quarantine.breach", None)]),
        (
            SubjectStatus("resident", True, "green"),
            True,
            [("quarantine.breach", None), ("pass.denied", "quarantined")],
        ),
        (SubjectStatus("resident", False, "red"), True, [("pass.denied", "health_code")]),
        (SubjectStatus("resident", False, None), True, [("pass.granted", None)]),
        (SubjectStatus("visitor", False, "green"), True, []),  # visitors need a pass
        (None, True, []),  # no longer in the lists
    ],
)
def test_access_events_follow_the_policy(
    status: SubjectStatus | None, grant: bool, expected: list[tuple[str, str | None]]
) -> None:
    params = IdentityParams(threshold=T, grant_residents_by_face=grant)
    assert access_events(Match("ann", 0.3), status, params) == expected
    assert access_events(None, status, params) == []


# --- IdentitySamples: the embedder's budget -------------------------------------------------


def test_samples_keep_the_best_frames_and_bound_the_embeds() -> None:
    acc = IdentitySamples(keep=2, max_embeds=4)
    ids = np.array([5], np.int64)
    yes = np.array([True])
    for q in (1.0, 1.1):
        assert acc.wanted(ids, np.array([q], np.float32), yes).tolist() == [True]
        acc.add(ids, ["ann"], np.array([q], np.float32), np.array([q], np.float32))
    # Full: a barely better face is not embedded, a clearly better one is and replaces the worst.
    assert acc.wanted(ids, np.array([1.2], np.float32), yes).tolist() == [False]
    assert acc.wanted(ids, np.array([2.0], np.float32), yes).tolist() == [True]
    acc.add(ids, ["bob"], np.array([0.2], np.float32), np.array([2.0], np.float32))
    assert acc.samples(5) == [("bob", pytest.approx(0.2)), ("ann", pytest.approx(1.1))]
    acc.add(ids, ["bob"], np.array([0.2], np.float32), np.array([9.0], np.float32))
    assert acc.wanted(ids, np.array([99.0], np.float32), yes).tolist() == [False]  # 4 embeds
    assert acc.wanted(np.array([6], np.int64), np.array([0.1], np.float32), np.array([False])
                      ).tolist() == [False]  # not eligible


# --- Evidence: one identity per person ------------------------------------------------------

SKIN_C = skin_from_body_c(36.8)


class FakeRecogniser:
    """Stands in for embedder + gallery: the nearest subject of face i is names[i]."""

    def __init__(self) -> None:
        self.names: list[str | None] = []
        self.distance = 0.3
        self.calls = 0

    def __call__(
        self, idx: npt.NDArray[np.intp]
    ) -> tuple[list[str | None], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        self.calls += int(idx.size)
        names = [self.names[i] for i in idx.tolist()]
        distances = np.full(idx.size, self.distance, np.float32)
        return names, distances, np.zeros((idx.size, 4), np.float32)


def _frame(xs: list[float]) -> Detections:
    boxes = np.array([[x, 50.0, 60.0, 60.0] for x in xs], np.float32).reshape(-1, 4)
    return Detections.build(boxes, "rgb", scores=np.ones(len(xs), np.float32))


def _walk(
    evidence: Evidence, recogniser: FakeRecogniser, names: list[str | None], frames: int,
    t0_ns: int = 0,
) -> list[Decision]:
    out: list[Decision] = []
    xs = [100.0 + 200.0 * i for i in range(len(names))]
    recogniser.names = names
    for k in range(frames):
        dets = _frame(xs)
        skin = np.full(len(xs), SKIN_C, np.float32)
        quality = np.ones(len(xs), np.float32)
        out += evidence.record(dets, skin, True, t0_ns + k * 100_000_000,
                               identify=recogniser, quality=quality)
    # Leave the scene: empty frames until every track ends.
    for k in range(10):
        out += evidence.record(_frame([]), np.zeros(0, np.float32), True,
                               t0_ns + (frames + k) * 100_000_000,
                               identify=recogniser, quality=np.zeros(0, np.float32))
    return out


def _evidence(grant: bool = False) -> tuple[Evidence, FakeRecogniser]:
    params = EvidenceParams(
        DecideParams(site="canthus", min_samples=3, decide_samples=5, settle_samples=2),
        identity=IdentityParams(threshold=T, samples=3, grant_residents_by_face=grant),
    )
    evidence = Evidence(params)
    statuses = {
        "ann": SubjectStatus("resident", False, "green"),
        "qin": SubjectStatus("resident", True, "green"),
    }
    evidence.access.lookup = statuses.get
    return evidence, FakeRecogniser()


def test_each_person_gets_one_match_and_the_quarantined_one_breach() -> None:
    evidence, rec = _evidence()
    out = _walk(evidence, rec, ["ann", "qin", None], frames=30)
    temps = [d for d in out if d.is_temperature]
    assert sorted(d.track for d in temps) == [1, 2, 3]
    by_track = {d.track: d for d in temps}
    assert by_track[1].match == Match("ann", 0.3) and by_track[1].recognition
    assert by_track[2].match == Match("qin", 0.3)
    assert by_track[3].match is None and by_track[3].recognition  # a stranger
    access = [(d.type, d.subject, d.track) for d in out if not d.is_temperature]
    assert access == [("quarantine.breach", "qin", 2)]
    # The embedder ran for a few frames per person, not for 30.
    assert rec.calls <= 3 * 3 * 3


def test_admission_by_face_is_once_per_person() -> None:
    evidence, rec = _evidence(grant=True)
    out = _walk(evidence, rec, ["ann", "qin"], frames=30)
    access = sorted((d.type, d.reason, d.subject) for d in out if not d.is_temperature)
    assert access == [
        ("pass.denied", "quarantined", "qin"),
        ("pass.granted", None, "ann"),
        ("quarantine.breach", None, "qin"),
    ]


def test_a_person_too_brief_for_temperature_is_still_identified_when_leaving() -> None:
    evidence, rec = _evidence()
    out = _walk(evidence, rec, ["qin"], frames=2)  # fewer than min_samples: no temperature
    assert [d.type for d in out] == ["quarantine.breach"]


def test_recognition_off_leaves_decisions_as_before() -> None:
    params = EvidenceParams(DecideParams(site="canthus", min_samples=3, decide_samples=5))
    evidence = Evidence(params)
    rec = FakeRecogniser()
    out = _walk(evidence, rec, ["ann"], frames=10)
    assert [d.type for d in out] == ["screening"]
    assert out[0].match is None and not out[0].recognition and rec.calls == 0


def test_a_checkpointed_evidence_pickles_without_its_lookups() -> None:
    import pickle

    evidence, rec = _evidence()
    _walk(evidence, rec, ["ann"], frames=3)
    evidence.access.holder_distance = lambda d, s: 0.1  # bound to the embedder in a gate
    restored = pickle.loads(pickle.dumps(evidence))
    assert restored.access.lookup is None and restored.access.holder_distance is None
    assert evidence.access.lookup is not None  # the live one keeps its bindings
