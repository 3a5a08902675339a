"""Tracking (edge.core.tracker) on hand-built boxes, and the hand-over rule of
edge.core.evidence that rides on it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from edge.core.bodytemp import skin_from_body_c
from edge.core.decide import DecideParams
from edge.core.detections import Detections
from edge.core.evidence import Evidence, EvidenceParams
from edge.core.tracker import Tracker, TrackerParams

PARAMS_DECIDE = DecideParams(threshold_c=37.3, min_samples=5, decide_samples=9)


# --- Tracker ---------------------------------------------------------------------------


def boxes(*rows: tuple[int, int, int, int]) -> npt.NDArray[np.int32]:
    return np.array(rows, dtype=np.int32).reshape(-1, 4)


def test_two_heads_side_by_side_keep_their_ids() -> None:
    tracker = Tracker()
    rng = np.random.default_rng(4)
    ids_seen: list[tuple[int, int]] = []
    for f in range(20):
        jitter = rng.integers(-1, 2, size=4)
        left = (20 + 2 * f + int(jitter[0]), 40 + int(jitter[1]), 30, 36)
        right = (110 - f + int(jitter[2]), 42 + int(jitter[3]), 30, 36)  # they approach
        order = [left, right] if f % 2 == 0 else [right, left]  # detector order varies
        update = tracker.update(boxes(*order), t_ns=f * 111_000_000)
        assert update.ended == []
        by_box = {order[i]: int(tid) for i, tid in enumerate(update.track_ids)}
        ids_seen.append((by_box[left], by_box[right]))
    assert len(set(ids_seen)) == 1
    left_id, right_id = ids_seen[0]
    assert left_id != right_id
    assert len(tracker.tracks) == 2


@pytest.mark.parametrize("gap", [1, 4])
def test_head_missing_for_a_few_frames_keeps_its_id(gap: int) -> None:
    tracker = Tracker(TrackerParams(max_misses=4))
    box = (50, 40, 30, 36)
    track_id = int(tracker.update(boxes(box), 0).track_ids[0])
    t = 1
    for _ in range(gap):
        assert tracker.update(boxes(), t).ended == []
        t += 1
    update = tracker.update(boxes((52, 41, 30, 36)), t)
    assert update.track_ids.tolist() == [track_id]
    assert tracker.tracks[0].misses == 0


def test_head_missing_too_long_ends_its_track() -> None:
    tracker = Tracker(TrackerParams(max_misses=4))
    tracker.update(boxes((50, 40, 30, 36)), 0)
    ended_at = None
    for t in range(1, 7):
        if tracker.update(boxes(), t).ended:
            ended_at = t
            break
    assert ended_at == 5
    assert tracker.update(boxes((50, 40, 30, 36)), 10).track_ids.tolist() == [2]  # a new person


def test_prediction_follows_a_fast_walker() -> None:
    """A walker speeding up to 35 px per frame (30 px boxes: no overlap, centres 1.2 widths
    apart) stays one track only because the track predicts where the person will be."""
    frame_ns = 111_000_000
    xs = [10, 30, 65, 100, 135, 170]

    def track_ids(params: TrackerParams) -> set[int]:
        tracker = Tracker(params)
        return {int(tracker.update(boxes((x, 40, 30, 36)), f * frame_ns).track_ids[0])
                for f, x in enumerate(xs)}

    assert track_ids(TrackerParams()) == {1}
    assert len(track_ids(TrackerParams(max_predict_s=0.0))) > 1  # no prediction: lost


def test_tracker_reports_live_tracks_covering_an_ended_one() -> None:
    tracker = Tracker(TrackerParams(max_misses=4))
    face = (60, 40, 30, 36)  # then merges into a bigger blob (leaning in)
    merged = (50, 30, 56, 70)  # covers the face's centre (75, 58)
    elsewhere = (120, 30, 30, 36)  # does not cover it
    face_id, merged_id, other_id = tracker.update(boxes(face, merged, elsewhere), 0).track_ids
    for t in range(1, 6):
        update = tracker.update(boxes(merged, elsewhere), t)
        if t < 5:
            assert update.ended == []
    assert [t.track_id for t in update.ended] == [face_id]
    assert update.covering == {int(face_id): [int(merged_id)]}
    assert update.track_ids.tolist() == [merged_id, other_id]


def test_drain_ends_every_track() -> None:
    tracker = Tracker()
    tracker.update(boxes((10, 10, 30, 36), (80, 10, 30, 36)), 0)
    ended = tracker.drain()
    assert sorted(t.track_id for t in ended) == [1, 2]
    assert tracker.tracks == []


# --- hand-over (edge.core.evidence) ---------------------------------------------------


def _frame(rows: list[tuple[int, int, int, int]], measured: list[bool]) -> Detections:
    return Detections.build(boxes(*rows), "thermal", measurable=measured)


def _run(evidence: Evidence, decide_face_first: bool) -> list[int]:
    """A face (measured or not) next to a bigger blob covering its centre, then the face
    merges into the blob, which is then measured for 12 frames. Returns decided tracks."""
    face, merged = (60, 40, 30, 36), (50, 30, 56, 70)
    skin = np.full(2, skin_from_body_c(36.8, site="face-max"), np.float32)
    decided: list[int] = []
    for t in range(10):
        d = evidence.record(_frame([face, merged], [decide_face_first, False]), skin, True, t)
        decided += [x.track for x in d]
    for t in range(10, 22):
        d = evidence.record(_frame([merged], [True]), skin[:1], True, t)
        decided += [x.track for x in d]
    decided += [x.track for x in evidence.finish()]
    return decided


def test_decided_person_merging_into_another_blob_is_not_decided_again() -> None:
    params = EvidenceParams(DecideParams(site="face-max"), TrackerParams(max_misses=4))
    assert _run(Evidence(params), decide_face_first=True) == [1]  # no second event


def test_undecided_track_does_not_hand_over() -> None:
    params = EvidenceParams(DecideParams(site="face-max"), TrackerParams(max_misses=4))
    assert _run(Evidence(params), decide_face_first=False) == [2]  # the blob is measured


def test_evidence_keeps_the_room_of_every_sample_and_decides_with_it() -> None:
    evidence = Evidence(EvidenceParams(DecideParams(site="face-max")))
    skin = np.full(1, skin_from_body_c(37.0, 28.0, site="face-max"), np.float32)
    decisions = []
    for t in range(9):  # the room reading is unknown at first, then 28 C
        room_c = None if t < 2 else 28.0
        decisions += evidence.record(_frame([(60, 40, 30, 36)], [True]), skin, True, t, room_c)
    decisions += evidence.finish()
    assert len(decisions) == 1
    reading = decisions[0].temperature
    assert reading.ambient_c == 28.0
    assert reading.body_c == pytest.approx(37.0, abs=1e-5)
