"""Head finding and the reference disc, on numpy-drawn frames (no recordings, no broker)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from edge.thermal.disc import DiscParams, ReferenceLocator, lock_box
from edge.thermal.front import disc_box
from edge.thermal.heads import HeadParams, HeadSizing, find_heads, head_params

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
    assert heads.detections.count == 1
    assert heads.detections.measurable.tolist() == [True]
    box = tuple(heads.detections.boxes[0].tolist())
    assert contains(box, bbox(head))
    # ... and tightly: the torso (below the floor) is not part of the head's box.
    assert box[3] <= bbox(head)[3] + 2
    # The head's pixels carry its label id; nothing else does.
    on = heads.labels == heads.detections.label_ids[0]
    assert on[head].mean() > 0.9
    assert not on[~head].any()


def test_head_with_pipeline_params_for_a_lepton_frame() -> None:
    params = head_params(HeadSizing(), (H, W))
    temp_c = room(1)
    head = draw_person(temp_c, 60, 50)
    heads = find_heads(temp_c, params)
    assert heads.detections.measurable.sum() == 1
    dets = heads.detections
    assert contains(tuple(dets.boxes[dets.measurable][0].tolist()), bbox(head))


def test_small_head_is_found_but_not_measurable() -> None:
    temp_c = room()
    head = draw_person(temp_c, 80, 40, w=10, h=12)
    heads = find_heads(temp_c, PARAMS)
    assert heads.detections.count == 1
    assert contains(tuple(heads.detections.boxes[0].tolist()), bbox(head))
    assert heads.detections.measurable.tolist() == [False]


@pytest.mark.parametrize(("cx", "cy"), [(4, 40), (W - 5, 40), (80, 8)])
def test_head_cut_by_frame_edge_is_not_measurable(cx: int, cy: int) -> None:
    temp_c = room()
    draw_person(temp_c, cx, cy, torso=False)
    heads = find_heads(temp_c, PARAMS)
    assert heads.detections.count == 1  # still tracked, so it keeps its identity
    assert not heads.detections.measurable.any()


@pytest.mark.parametrize("vertical", [False, True])
def test_long_thin_arm_is_not_measurable(vertical: bool) -> None:
    temp_c = room()
    if vertical:
        temp_c[30:90, 40:46] = 34.0
    else:
        temp_c[50:56, 40:100] = 34.0
    assert not find_heads(temp_c, PARAMS).detections.measurable.any()


def test_arm_next_to_a_head_leaves_only_the_head_measurable() -> None:
    temp_c = room()
    head = draw_person(temp_c, 50, 40)
    temp_c[80:86, 90:150] = 34.0  # an arm, away from the head
    heads = find_heads(temp_c, PARAMS)
    measurable = heads.detections.boxes[heads.detections.measurable]
    assert len(measurable) == 1
    assert contains(tuple(measurable[0].tolist()), bbox(head))


def test_empty_room_has_no_heads() -> None:
    heads = find_heads(room(), PARAMS)
    assert heads.detections.count == 0
    assert heads.detections.boxes.shape == (0, 4)
    assert not heads.labels.any()


# --- reference disc --------------------------------------------------------------------
# The locator judges stillness over a window of frames, so each scene is shown for a window
# (fresh sensor noise every frame); it never locks before the window is full.

DISC_CX, DISC_CY = 20, 20
LOCK_FRAME = DiscParams().min_frames_to_lock - 1  # index of the first frame that can lock


def draw_disc(temp_c: Frame, cx: float = DISC_CX, cy: float = DISC_CY) -> Mask:
    disc = ellipse(cx, cy, 12, 12)  # radius 6
    temp_c[disc] = 35.0
    return disc


def located(draw: Callable[[Frame], object], frames: int = LOCK_FRAME + 3) -> ReferenceLocator:
    """A locator fed `frames` frames of room(i) with `draw` applied."""
    locator = ReferenceLocator(DiscParams())
    for i in range(frames):
        temp_c = room(i)
        draw(temp_c)
        locator.update(temp_c)
    return locator


def test_reference_disc_is_found_not_the_face() -> None:
    temp_c = room()
    head = draw_person(temp_c, 90, 50)
    disc = draw_disc(temp_c)
    locator = located(lambda t: (draw_person(t, 90, 50), draw_disc(t)))
    assert locator.lock is not None
    x, y, w, h = locator.lock.roi
    # The ROI lies inside the disc's core: inside the disc, nowhere near the face.
    assert disc[y : y + h, x : x + w].all()
    assert not head[y : y + h, x : x + w].any()
    assert 4 <= w <= 8 and 4 <= h <= 8
    assert float(temp_c[y : y + h, x : x + w].mean()) == pytest.approx(35.0)


def test_face_alone_is_not_a_reference_disc() -> None:
    for seed in range(5):
        locator = ReferenceLocator(DiscParams())
        for i in range(2 * LOCK_FRAME):
            temp_c = room(100 * seed + i)
            draw_person(temp_c, 80, 50)
            # "searching" while the window fills, then "not found".
            assert locator.update(temp_c) == (None, "not found" if i >= LOCK_FRAME else "searching")
        assert locator.lock is None


def test_disc_is_excluded_from_heads_once_known() -> None:
    temp_c = room()
    draw_person(temp_c, 90, 50)
    disc = draw_disc(temp_c)
    locator = located(lambda t: (draw_person(t, 90, 50), draw_disc(t)))
    assert locator.lock is not None
    box = lock_box(locator.lock, (H, W))
    assert contains(box, bbox(disc))
    assert box[2] <= 2 * (6 + 4) + 2 and box[3] <= 2 * (6 + 4) + 2  # the disc, not 3x its ROI
    unmasked = find_heads(temp_c, PARAMS)
    masked = find_heads(temp_c, PARAMS, exclude=box)
    # the disc is warm and compact: without the mask it is a blob
    assert unmasked.detections.count == 2
    assert masked.detections.count == 1
    assert masked.detections.measurable.tolist() == [True]
    # A pinned ROI (no disc geometry) still masks 3x the ROI around it.
    assert find_heads(temp_c, PARAMS, exclude=disc_box(locator.lock.roi)).detections.count == 1


def test_hot_canthus_patch_is_not_taken_for_the_disc() -> None:
    def draw(temp_c: Frame) -> Mask:
        head = ellipse(90, 50, 30, 36)
        temp_c[head] = 34.0
        temp_c[44:48, 82:86] = 36.0  # a 4x4 inner-canthus patch: a close face at a kiosk
        return draw_disc(temp_c)

    disc = draw(room())
    locator = located(draw)
    assert locator.lock is not None
    x, y, w, h = locator.lock.roi
    assert disc[y : y + h, x : x + w].all(), f"took {locator.lock} (the face) for the disc"


def test_disc_locator_locks_once_the_window_is_full() -> None:
    locator = ReferenceLocator(DiscParams())
    results = []
    for i in range(LOCK_FRAME + 3):
        temp_c = room(i)
        draw_disc(temp_c)
        draw_person(temp_c, 70 + 3 * i, 50)  # people move, the disc does not
        results.append(locator.update(temp_c))
    assert [roi for roi, _ in results[:LOCK_FRAME]] == [None] * LOCK_FRAME
    assert {state for _, state in results[:LOCK_FRAME]} == {"searching"}
    locked = results[LOCK_FRAME][0]
    assert locked is not None and locator.lock is not None and locked == locator.lock.roi
    assert all(r == (locked, "ok") for r in results[LOCK_FRAME:])
    x, y, w, h = locked
    assert abs(x + w / 2 - DISC_CX) <= 1.5 and abs(y + h / 2 - DISC_CY) <= 1.5


def test_disc_locator_confirmation_restarts_when_disc_is_missing_or_moves() -> None:
    locator = ReferenceLocator(DiscParams())
    p = DiscParams()
    # First lockable frame after a change: a clean window, then `confirm` passes in a row;
    # while nothing is being confirmed the search runs every `search_every` frames only.
    relock, late = p.window + p.confirm_frames - 2, p.search_every - 1

    def frame(seed: int, disc_at: tuple[int, int] | None) -> Frame:
        temp_c = room(seed)
        if disc_at is not None:
            draw_disc(temp_c, *disc_at)
        return temp_c

    for i in range(4):
        assert locator.update(frame(i, (DISC_CX, DISC_CY)))[0] is None
    # One frame without the disc: the disc is not still until that frame has left the
    # window, then it needs `confirm` passes in a row again.
    assert locator.update(frame(4, None))[0] is None
    seen = [locator.update(frame(10 + i, (DISC_CX, DISC_CY)))[0] for i in range(relock + 3)]
    assert seen[:relock] == [None] * relock
    locked_at = next(i for i, roi in enumerate(seen) if roi is not None)
    assert locked_at <= relock + late
    # A disc appearing elsewhere with the old one gone: the lock follows it, as a move,
    # once the new place has been still for a window and confirmed.
    new_at = (DISC_CX + 20, DISC_CY)
    states = [locator.update(frame(30 + i, new_at)) for i in range(relock + 5)]
    moved = next(i for i, (_, s) in enumerate(states) if s != "occluded")
    assert relock <= moved <= relock + late and states[moved][1] == "moved"
    assert {s for _, s in states[moved + 1 :]} == {"ok"}
    roi = states[-1][0]
    assert roi is not None and abs(roi[0] + roi[2] / 2 - new_at[0]) <= 1.5
    # Once locked it stays, saying why it cannot be read, whatever comes next.
    assert locator.update(room(50)) == (roi, "occluded")
