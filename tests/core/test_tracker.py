"""Tracking (edge.core.tracker) on hand-built boxes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from edge.core.decide import DecideParams, decide
from edge.core.tracker import Track, Tracker

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
        assigned, ended = tracker.update(boxes(*order), t_ns=f * 111_000_000)
        assert ended == []
        by_box = {order[i]: tracker.tracks[ti].track_id for i, ti in enumerate(assigned)}
        ids_seen.append((by_box[left], by_box[right]))
    assert len(set(ids_seen)) == 1
    left_id, right_id = ids_seen[0]
    assert left_id != right_id
    assert len(tracker.tracks) == 2


@pytest.mark.parametrize("gap", [1, 4])
def test_head_missing_for_a_few_frames_keeps_its_id(gap: int) -> None:
    tracker = Tracker(max_misses=4)
    box = (50, 40, 30, 36)
    assigned, _ = tracker.update(boxes(box), 0)
    track_id = tracker.tracks[assigned[0]].track_id
    t = 1
    for _ in range(gap):
        _, ended = tracker.update(boxes(), t)
        assert ended == []
        t += 1
    assigned, _ = tracker.update(boxes((52, 41, 30, 36)), t)
    assert tracker.tracks[assigned[0]].track_id == track_id
    assert tracker.tracks[assigned[0]].misses == 0


def test_head_missing_too_long_ends_its_track() -> None:
    tracker = Tracker(max_misses=4)
    tracker.update(boxes((50, 40, 30, 36)), 0)
    ended_at = None
    for t in range(1, 7):
        _, ended = tracker.update(boxes(), t)
        if ended:
            ended_at = t
            break
    assert ended_at == 5
    assigned, _ = tracker.update(boxes((50, 40, 30, 36)), 10)
    assert tracker.tracks[assigned[0]].track_id == 2  # a new person


def test_decided_flag_is_handed_over_to_the_live_track_covering_it() -> None:
    tracker = Tracker(max_misses=4)
    face = (60, 40, 30, 36)  # decided, then merges into a bigger blob (leaning in)
    merged = (50, 30, 56, 70)  # covers the face's centre (75, 58)
    elsewhere = (120, 30, 30, 36)  # does not cover it
    assigned, _ = tracker.update(boxes(face, merged, elsewhere), 0)
    face_track, merged_track, other_track = (tracker.tracks[i] for i in assigned)
    face_track.decided = True
    ended: list[Track] = []
    for t in range(1, 6):
        assigned, ended = tracker.update(boxes(merged, elsewhere), t)
        if t < 5:
            assert ended == []
    assert ended == [face_track]
    assert merged_track.decided  # the same person: no second event
    assert not other_track.decided
    assert [tracker.tracks[i] for i in assigned] == [merged_track, other_track]
    assert decide(merged_track, PARAMS_DECIDE, ending=True) is None


def test_undecided_track_does_not_hand_over() -> None:
    tracker = Tracker(max_misses=1)
    face, merged = (60, 40, 30, 36), (50, 30, 56, 70)
    assigned, _ = tracker.update(boxes(face, merged), 0)
    merged_track = tracker.tracks[assigned[1]]
    for t in range(1, 3):
        tracker.update(boxes(merged), t)
    assert len(tracker.tracks) == 1
    assert not merged_track.decided


def test_drain_ends_every_track() -> None:
    tracker = Tracker()
    tracker.update(boxes((10, 10, 30, 36), (80, 10, 30, 36)), 0)
    ended = tracker.drain()
    assert sorted(t.track_id for t in ended) == [1, 2]
    assert tracker.tracks == []
