"""Head finding, reference disc, decision core, reference tracking and tracking, each on
numpy-drawn frames or hand-built tracks (no recordings, no broker)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from edge.config import Settings
from edge.core.bodytemp import body_from_skin_c, skin_from_body_c
from edge.core.decide import DecideParams, decide, skin_statistic_c
from edge.core.tracker import Track, Tracker
from edge.pipeline.thermal import head_params
from edge.thermal.front import disc_box
from edge.thermal.heads import (
    DiscLocator,
    DiscParams,
    HeadParams,
    find_heads,
    find_reference_disc,
)
from edge.thermal.radiometry import ReferenceTracker

H, W = 120, 160
YY, XX = np.mgrid[0:H, 0:W]
ROOM_C = 22.0

Frame = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]


def ellipse(cx: float, cy: float, w: float, h: float) -> Mask:
    """Pixels whose centres lie in the w x h ellipse centred at (cx, cy)."""
    return np.asarray(
        ((XX + 0.5 - cx) / (w / 2.0)) ** 2 + ((YY + 0.5 - cy) / (h / 2.0)) ** 2 <= 1.0
    )


def room(seed: int = 0, noise_c: float = 0.05) -> Frame:
    rng = np.random.default_rng(seed)
    return (ROOM_C + rng.normal(0.0, noise_c, (H, W))).astype(np.float32)


def draw_person(
    temp_c: Frame, cx: float, cy: float, w: float = 30, h: float = 36, torso: bool = True
) -> Mask:
    """A 34 C elliptical head with a 36 C 3x3 canthus spot and a 29 C torso below it."""
    if torso:
        top = int(cy + h / 2) + 2
        temp_c[top:, max(0, int(cx - w)) : int(cx + w)] = 29.0
    head = ellipse(cx, cy, w, h)
    temp_c[head] = 34.0
    spot = np.zeros_like(head)
    y, x = int(cy - h / 8), int(cx - w / 6)
    spot[y - 1 : y + 2, x - 1 : x + 2] = True
    temp_c[spot & head] = 36.0
    return head


def bbox(mask: Mask) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def contains(outer: tuple[int, ...], inner: tuple[int, ...]) -> bool:
    ox, oy, ow, oh = outer
    ix, iy, iw, ih = inner
    return ox <= ix and oy <= iy and ix + iw <= ox + ow and iy + ih <= oy + oh


PARAMS = HeadParams()


# --- find_heads ------------------------------------------------------------------------


def test_upright_head_is_found_and_measurable() -> None:
    temp_c = room()
    head = draw_person(temp_c, 80, 40)
    heads = find_heads(temp_c, PARAMS)
    assert heads.count == 1
    assert heads.measurable.tolist() == [True]
    box = tuple(heads.boxes[0].tolist())
    assert contains(box, bbox(head))
    # ... and tightly: the torso (below the floor) is not part of the head's box.
    assert box[3] <= bbox(head)[3] + 2
    # The head's pixels carry its label id; nothing else does.
    on = heads.labels == heads.label_ids[0]
    assert on[head].mean() > 0.9
    assert not on[~head].any()


def test_head_with_pipeline_params_for_a_lepton_frame() -> None:
    params = head_params(Settings(), (H, W))
    temp_c = room(1)
    head = draw_person(temp_c, 60, 50)
    heads = find_heads(temp_c, params)
    assert heads.measurable.sum() == 1
    assert contains(tuple(heads.boxes[heads.measurable][0].tolist()), bbox(head))


def test_small_head_is_found_but_not_measurable() -> None:
    temp_c = room()
    head = draw_person(temp_c, 80, 40, w=10, h=12)
    heads = find_heads(temp_c, PARAMS)
    assert heads.count == 1
    assert contains(tuple(heads.boxes[0].tolist()), bbox(head))
    assert heads.measurable.tolist() == [False]


@pytest.mark.parametrize(("cx", "cy"), [(4, 40), (W - 5, 40), (80, 8)])
def test_head_cut_by_frame_edge_is_not_measurable(cx: int, cy: int) -> None:
    temp_c = room()
    draw_person(temp_c, cx, cy, torso=False)
    heads = find_heads(temp_c, PARAMS)
    assert heads.count == 1  # still tracked, so it keeps its identity
    assert not heads.measurable.any()


@pytest.mark.parametrize("vertical", [False, True])
def test_long_thin_arm_is_not_measurable(vertical: bool) -> None:
    temp_c = room()
    if vertical:
        temp_c[30:90, 40:46] = 34.0
    else:
        temp_c[50:56, 40:100] = 34.0
    assert not find_heads(temp_c, PARAMS).measurable.any()


def test_arm_next_to_a_head_leaves_only_the_head_measurable() -> None:
    temp_c = room()
    head = draw_person(temp_c, 50, 40)
    temp_c[80:86, 90:150] = 34.0  # an arm, away from the head
    heads = find_heads(temp_c, PARAMS)
    measurable = heads.boxes[heads.measurable]
    assert len(measurable) == 1
    assert contains(tuple(measurable[0].tolist()), bbox(head))


def test_empty_room_has_no_heads() -> None:
    heads = find_heads(room(), PARAMS)
    assert heads.count == 0
    assert heads.boxes.shape == (0, 4)
    assert not heads.labels.any()


# --- reference disc --------------------------------------------------------------------

DISC_CX, DISC_CY = 20, 20


def draw_disc(temp_c: Frame, cx: float = DISC_CX, cy: float = DISC_CY) -> Mask:
    disc = ellipse(cx, cy, 12, 12)  # radius 6
    temp_c[disc] = 35.0
    return disc


def test_reference_disc_is_found_not_the_face() -> None:
    temp_c = room()
    head = draw_person(temp_c, 90, 50)
    disc = draw_disc(temp_c)
    roi = find_reference_disc(temp_c, DiscParams())
    assert roi is not None
    x, y, w, h = roi
    # The ROI is the disc's central half: inside the disc, nowhere near the face.
    assert disc[y : y + h, x : x + w].all()
    assert not head[y : y + h, x : x + w].any()
    assert 4 <= w <= 8 and 4 <= h <= 8
    assert float(temp_c[y : y + h, x : x + w].mean()) == pytest.approx(35.0)


def test_face_alone_is_not_a_reference_disc() -> None:
    for seed in range(5):
        temp_c = room(seed)
        draw_person(temp_c, 80, 50)
        assert find_reference_disc(temp_c, DiscParams()) is None


def test_disc_is_excluded_from_heads_once_known() -> None:
    temp_c = room()
    draw_person(temp_c, 90, 50)
    draw_disc(temp_c)
    roi = find_reference_disc(temp_c, DiscParams())
    assert roi is not None
    unmasked = find_heads(temp_c, PARAMS)
    masked = find_heads(temp_c, PARAMS, exclude=disc_box(roi))
    assert unmasked.count == 2  # the disc is warm and compact: without the mask it is a blob
    assert masked.count == 1
    assert masked.measurable.tolist() == [True]


def test_hot_canthus_patch_is_not_taken_for_the_disc() -> None:
    temp_c = room()
    head = ellipse(90, 50, 30, 36)
    temp_c[head] = 34.0
    temp_c[44:48, 82:86] = 36.0  # a 4x4 inner-canthus patch: a close face at a kiosk
    disc = draw_disc(temp_c)
    roi = find_reference_disc(temp_c, DiscParams())
    assert roi is not None
    x, y, w, h = roi
    assert disc[y : y + h, x : x + w].all(), f"took {roi} (the face) for the disc"


def test_disc_locator_locks_after_five_consistent_frames() -> None:
    locator = DiscLocator(DiscParams(), confirm_frames=5)
    results = []
    for i in range(7):
        temp_c = room(i)
        draw_disc(temp_c)
        draw_person(temp_c, 70 + 3 * i, 50)  # people move, the disc does not
        results.append(locator.update(temp_c))
    assert results[:4] == [None] * 4
    assert results[4] is not None
    assert results[5] == results[6] == results[4] == locator.locked
    x, y, w, h = results[4]
    assert abs(x + w / 2 - DISC_CX) <= 1.5 and abs(y + h / 2 - DISC_CY) <= 1.5


def test_disc_locator_streak_restarts_when_disc_is_missing_or_moves() -> None:
    locator = DiscLocator(DiscParams(), confirm_frames=5)

    def frame(seed: int, disc_at: tuple[int, int] | None) -> Frame:
        temp_c = room(seed)
        if disc_at is not None:
            draw_disc(temp_c, *disc_at)
        return temp_c

    for i in range(4):
        assert locator.update(frame(i, (DISC_CX, DISC_CY))) is None
    assert locator.update(frame(4, None)) is None  # occluded: streak broken
    for i in range(4):
        assert locator.update(frame(10 + i, (DISC_CX, DISC_CY))) is None
    assert locator.update(frame(20, (DISC_CX + 20, DISC_CY))) is None  # jumped: new candidate
    for i in range(3):
        assert locator.update(frame(30 + i, (DISC_CX + 20, DISC_CY))) is None
    locked = locator.update(frame(40, (DISC_CX + 20, DISC_CY)))
    assert locked is not None
    assert abs(locked[0] + locked[2] / 2 - (DISC_CX + 20)) <= 1.5
    # Once locked it stays, whatever comes next.
    assert locator.update(room(50)) == locked


# --- decide ----------------------------------------------------------------------------


def make_track(skin_c: list[float], ok: bool = True, track_id: int = 7) -> Track:
    n = len(skin_c)
    return Track(
        track_id,
        (10, 20, 30, 36),
        first_t_ns=0,
        last_t_ns=1_000_000 * max(n, 1),
        skin_c=list(skin_c),
        reference_ok=[ok] * n,
        face_px=[30] * n,
    )


PARAMS_DECIDE = DecideParams(threshold_c=37.3, min_samples=5, decide_samples=9)
NORMAL_SKIN_C = skin_from_body_c(36.8)


def test_too_few_samples_never_decide_even_when_ending() -> None:
    track = make_track([NORMAL_SKIN_C] * 4)
    assert decide(track, PARAMS_DECIDE, ending=False) is None
    assert decide(track, PARAMS_DECIDE, ending=True) is None
    assert not track.decided


def test_between_min_and_decide_samples_waits_until_ending() -> None:
    track = make_track([NORMAL_SKIN_C] * 6)
    assert decide(track, PARAMS_DECIDE, ending=False) is None
    decision = decide(track, PARAMS_DECIDE, ending=True)
    assert decision is not None
    assert decision.temperature.samples == 6


def test_decide_samples_give_exactly_one_decision() -> None:
    track = make_track([NORMAL_SKIN_C] * 9)
    first = decide(track, PARAMS_DECIDE, ending=False)
    assert first is not None
    assert first.type == "screening"
    assert first.track == 7
    assert first.temperature.samples == 9
    assert first.temperature.body_c == pytest.approx(36.8, abs=1e-9)
    assert track.decided
    track.skin_c.extend([NORMAL_SKIN_C] * 5)
    track.reference_ok.extend([True] * 5)
    assert decide(track, PARAMS_DECIDE, ending=False) is None
    assert decide(track, PARAMS_DECIDE, ending=True) is None


def test_exactly_at_threshold_is_fever_just_below_is_not() -> None:
    at_c = skin_from_body_c(37.3)
    assert body_from_skin_c(at_c) >= 37.3  # precondition: the round trip is exact here
    at = decide(make_track([at_c] * 9), PARAMS_DECIDE, ending=False)
    assert at is not None and at.type == "fever"
    assert at.temperature.threshold_c == 37.3
    below = decide(make_track([skin_from_body_c(37.29)] * 9), PARAMS_DECIDE, ending=False)
    assert below is not None and below.type == "screening"
    above = decide(make_track([skin_from_body_c(38.5)] * 9), PARAMS_DECIDE, ending=False)
    assert above is not None and above.type == "fever"


@pytest.mark.parametrize("skin_c", [35.123456789, 36.0, 36.17, 35.9])
def test_threshold_equal_to_body_estimate_is_fever(skin_c: float) -> None:
    threshold_c = body_from_skin_c(skin_c)
    params = DecideParams(threshold_c=threshold_c, min_samples=5, decide_samples=9)
    decision = decide(make_track([skin_c] * 9), params, ending=False)
    assert decision is not None and decision.type == "fever"
    lower = np.nextafter(skin_c, -np.inf)
    decision = decide(make_track([float(lower)] * 9), params, ending=False)
    assert decision is not None and decision.type == "screening"


def test_one_hot_outlier_does_not_change_the_decision() -> None:
    base_c = skin_from_body_c(37.0)  # below the threshold
    clean = [base_c] * 9
    spiky = [*clean[:4], base_c + 6.0, *clean[4:]]  # one glint: +6 C skin
    assert float(np.mean(spiky)) > skin_from_body_c(37.3)  # a mean would call it a fever
    a = decide(make_track(clean), PARAMS_DECIDE, ending=True)
    b = decide(make_track(spiky), PARAMS_DECIDE, ending=True)
    assert a is not None and b is not None
    assert a.type == b.type == "screening"
    assert b.temperature.skin_c == pytest.approx(a.temperature.skin_c, abs=1e-9)


def test_skin_statistic_is_median_of_upper_half() -> None:
    # Low frames (blinks, far away) are ignored; the top one is an outlier.
    values = [30.0, 31.0, 32.0, 35.0, 35.1, 35.2, 35.3, 35.4, 45.0, 35.5]
    stat_c, spread_c = skin_statistic_c(values)
    upper = sorted(values)[5:]
    assert stat_c == pytest.approx(float(np.median(upper)))
    assert stat_c == pytest.approx(35.4)
    assert spread_c == pytest.approx(45.0 - 35.2)


def test_decision_reports_reference_state_at_decision_time() -> None:
    track = make_track([NORMAL_SKIN_C] * 9)
    track.reference_ok[-1] = False
    decision = decide(track, PARAMS_DECIDE, ending=False)
    assert decision is not None
    assert decision.temperature.reference_ok is False


# --- ReferenceTracker ------------------------------------------------------------------


def test_known_true_temperature_gives_absolute_offset() -> None:
    rng = np.random.default_rng(2)
    readings = (34.6 + rng.normal(0.0, 0.03, 9)).tolist()
    tracker = ReferenceTracker(true_c=35.0, window=9)
    states = [tracker.update(r) for r in readings]
    assert not any(s.ok for s in states[:8])  # window not yet full
    last = states[-1]
    assert last.ok
    assert last.reading_c == pytest.approx(float(np.mean(readings)))
    assert last.offset_c == pytest.approx(35.0 - float(np.mean(readings)))
    assert last.offset_c == pytest.approx(0.4, abs=0.05)


def test_drift_only_mode_compensates_later_drift() -> None:
    tracker = ReferenceTracker(true_c=None, window=9)
    stable = [tracker.update(33.0) for _ in range(9)]
    assert stable[-1].ok
    assert stable[-1].offset_c == pytest.approx(0.0)
    # The camera warms up: the disc now reads 0.5 C higher; everything must be pulled down.
    drifted = [tracker.update(33.5) for _ in range(9)]
    assert drifted[-1].ok
    assert drifted[-1].offset_c == pytest.approx(-0.5)
    assert drifted[-1].reading_c == pytest.approx(33.5)
    # The baseline is the first stable reading, not the latest one.
    again = [tracker.update(32.8) for _ in range(9)]
    assert again[-1].offset_c == pytest.approx(0.2)


@pytest.mark.parametrize("missing", [None, float("nan")])
def test_missing_reference_gives_no_offset(missing: float | None) -> None:
    tracker = ReferenceTracker(true_c=35.0, window=3)
    states = [tracker.update(34.0) for _ in range(3)]
    assert states[-1].ok and states[-1].offset_c == pytest.approx(1.0)
    state = tracker.update(missing)
    assert not state.ok
    assert state.offset_c == 0.0
    assert state.reading_c is None
    # The smoothing window restarts after a gap.
    assert not tracker.update(34.0).ok


def test_unstable_reference_is_not_ok() -> None:
    tracker = ReferenceTracker(true_c=35.0, window=9, max_spread_c=0.3)
    states = [tracker.update(34.5 + (0.5 if i % 2 else 0.0)) for i in range(20)]
    assert not any(s.ok for s in states)
    assert states[-1].reason == "reference unstable"


def test_implausible_offset_is_rejected() -> None:
    tracker = ReferenceTracker(true_c=35.0, window=3, max_offset_c=3.0)
    states = [tracker.update(30.0) for _ in range(3)]
    assert not states[-1].ok
    assert states[-1].offset_c == 0.0


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
