"""Passes in the pure core: the rule table (edge.core.passes.pass_decision), attribution of a
QR code to a face, and one pass decision per person and pass through Evidence."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from edge.core.access import Sighting
from edge.core.bodytemp import skin_from_body_c
from edge.core.decide import DecideParams
from edge.core.detections import Detections
from edge.core.evidence import Evidence, EvidenceParams
from edge.core.identity import IdentityParams, SubjectStatus
from edge.core.passes import PassParams, PassReading, attribute, pass_decision
from edge.core.types import Decision, Match, PassRef

P = PassParams()
GREEN = SubjectStatus("visitor", False, "green")


def reading(holder: str | None = "vic", valid: bool = True, reason: str | None = None,
            kind: str = "compound", digest: str = "d1") -> PassReading:
    return PassReading(PassRef("p-1", kind, "a2lk", digest, "2026-12-31T00:00:00Z"),
                       valid, reason, holder)


@pytest.mark.parametrize(
    ("pass_", "match", "status", "holder_d", "expected"),
    [
        (reading(), None, GREEN, None, ("pass.granted", None)),
        (reading(valid=False, reason="expired"), None, GREEN, None, ("pass.denied", "expired")),
        (reading(valid=False, reason=None), None, GREEN, None, ("pass.denied", "unreadable")),
        # A lent pass: the face is recognised as somebody else.
        (reading(), Match("ann", 0.3), GREEN, 0.2, ("pass.denied", "holder_mismatch")),
        # The holder is enrolled and the face (a stranger) is clearly not theirs.
        (reading(), None, GREEN, 0.75, ("pass.denied", "holder_mismatch")),
        # Between the thresholds: not recognised as the holder, not clearly someone else.
        (reading(), None, GREEN, 0.55, ("pass.granted", None)),
        (reading(), Match("vic", 0.3), GREEN, 0.3, ("pass.granted", None)),
        (reading(), None, None, None, ("pass.denied", "unknown_subject")),
        (reading(), None, SubjectStatus("resident", True, "green"), None,
         ("pass.denied", "quarantined")),
        (reading(), None, SubjectStatus("visitor", False, "red"), None,
         ("pass.denied", "health_code")),
        (reading(holder=None, kind="dcc"), Match("ann", 0.3), None, None, ("pass.granted", None)),
    ],
)
def test_pass_rules(pass_: PassReading, match: Match | None, status: SubjectStatus | None,
                    holder_d: float | None, expected: tuple[str, str | None]) -> None:
    assert pass_decision(pass_, match, status, holder_d, P) == expected


def test_unlisted_holder_is_admitted_when_the_site_allows_it() -> None:
    relaxed = PassParams(require_listed_holder=False)
    assert pass_decision(reading(), None, None, None, relaxed) == ("pass.granted", None)
    assert pass_decision(reading(kind="dcc", holder=None), None, None, None,
                         PassParams(accept_dcc=False))[0] == "pass.denied"


def test_a_code_belongs_to_the_nearest_face_within_reach() -> None:
    faces = np.array([[100, 100, 60, 60], [400, 100, 60, 60]], np.float32)
    codes = np.array([[150, 190, 40, 40],   # below-right of face 0
                      [330, 120, 40, 40],   # beside face 1
                      [100, 420, 40, 40]],  # far below everyone
                     np.float32)
    assert attribute(codes, faces, 3.0).tolist() == [0, 1, -1]
    assert attribute(codes, faces[:0], 3.0).tolist() == [-1, -1, -1]
    assert attribute(codes[:0], faces, 3.0).tolist() == []


# --- through Evidence -------------------------------------------------------------------------

SKIN_C = skin_from_body_c(36.8)


class Recogniser:
    def __init__(self, names: list[str | None]) -> None:
        self.names = names

    def __call__(self, idx: npt.NDArray[np.intp]
                 ) -> tuple[list[str | None], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        return ([self.names[i] for i in idx.tolist()], np.full(idx.size, 0.3, np.float32),
                np.zeros((idx.size, 4), np.float32))


def _evidence(statuses: dict[str, SubjectStatus], grant: bool = False,
              holder_distance: float | None = None) -> Evidence:
    params = EvidenceParams(
        DecideParams(site="canthus", min_samples=3, decide_samples=5, settle_samples=2),
        identity=IdentityParams(threshold=0.5, samples=3, grant_residents_by_face=grant),
        passes=PassParams(),
    )
    evidence = Evidence(params)
    evidence.access.lookup = statuses.get
    evidence.access.holder_distance = lambda d, s: holder_distance
    return evidence


def _walk(evidence: Evidence, names: list[str | None], frames: int,
          shows: dict[int, list[Sighting]], t0_ns: int = 0) -> list[Decision]:
    """People side by side for `frames` frames (10 per second), then gone; `shows` maps a
    frame number to the QR codes read in it."""
    xs = [100.0 + 250.0 * i for i in range(len(names))]
    out: list[Decision] = []
    rec = Recogniser(names)
    for k in range(frames + 10):
        here = k < frames
        boxes = np.array([[x, 50.0, 60.0, 60.0] for x in xs] if here else [],
                         np.float32).reshape(-1, 4)
        dets = Detections.build(boxes, "rgb", scores=np.ones(len(boxes), np.float32))
        out += evidence.record(dets, np.full(len(boxes), SKIN_C, np.float32), True,
                               t0_ns + k * 100_000_000, identify=rec,
                               quality=np.ones(len(boxes), np.float32),
                               sightings=shows.get(k, []))
    return out


def _shown(x: float, digest: str = "d1", **kw: object) -> Sighting:
    return Sighting(reading(digest=digest, **kw), (x + 70.0, 130.0, 30.0, 30.0))  # type: ignore[arg-type]


def test_one_pass_decision_per_person_and_pass_even_when_shown_for_seconds() -> None:
    evidence = _evidence({"vic": GREEN})
    shows = {k: [_shown(100.0)] for k in range(2, 20)}  # held up for 1.8 s
    out = _walk(evidence, [None], 30, shows)
    passes = [d for d in out if d.type.startswith("pass.")]
    assert [(d.type, d.subject, d.pass_ref.digest if d.pass_ref else None) for d in passes] == [
        ("pass.granted", "vic", "d1")]
    assert sum(d.is_temperature for d in out) == 1  # the temperature decision goes out too


def test_the_same_qr_again_within_a_minute_is_one_decision() -> None:
    evidence = _evidence({"vic": GREEN})
    first = _walk(evidence, [None], 20, {3: [_shown(100.0)]})
    again = _walk(evidence, [None], 20, {3: [_shown(100.0)]}, t0_ns=5_000_000_000)
    assert sum(d.type == "pass.granted" for d in first) == 1
    assert not any(d.type.startswith("pass.") for d in again)
    later = _walk(evidence, [None], 20, {3: [_shown(100.0)]}, t0_ns=70_000_000_000)
    assert sum(d.type == "pass.granted" for d in later) == 1


def test_a_lent_pass_and_a_strangers_pass_are_holder_mismatches() -> None:
    statuses = {"vic": GREEN, "ann": SubjectStatus("resident", False, "green")}
    lent = _walk(_evidence(statuses), ["ann"], 30, {4: [_shown(100.0)]})
    assert [(d.type, d.reason, d.subject) for d in lent if d.type.startswith("pass.")] == [
        ("pass.denied", "holder_mismatch", "vic")]
    stranger = _walk(_evidence(statuses, holder_distance=0.8), [None], 30, {4: [_shown(100.0)]})
    assert [(d.type, d.reason) for d in stranger if d.type.startswith("pass.")] == [
        ("pass.denied", "holder_mismatch")]


def test_a_pass_decides_admission_instead_of_the_face_but_a_breach_still_goes_out() -> None:
    statuses = {"ann": SubjectStatus("resident", True, "green")}
    out = _walk(_evidence(statuses, grant=True), ["ann"], 30,
                {2: [Sighting(reading(holder="ann"), (170.0, 130.0, 30.0, 30.0))]})
    access = sorted((d.type, d.reason or "") for d in out if not d.is_temperature)
    assert access == [("pass.denied", "quarantined"), ("quarantine.breach", "")]


def test_a_code_seen_before_the_face_is_held_and_given_to_it() -> None:
    evidence = _evidence({"vic": GREEN})
    # Frame 0 has a code but the face appears only at frame 1 (the walk puts it there).
    out: list[Decision] = []
    dets0 = Detections.build(np.zeros((0, 4), np.float32), "rgb", scores=np.zeros(0, np.float32))
    out += evidence.record(dets0, np.zeros(0, np.float32), True, 0,
                           identify=Recogniser([]), quality=np.zeros(0, np.float32),
                           sightings=[_shown(100.0)])
    out += _walk(evidence, [None], 20, {}, t0_ns=100_000_000)
    assert [d.type for d in out if d.type.startswith("pass.")] == ["pass.granted"]
