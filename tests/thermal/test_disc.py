"""The reference-disc locator (edge.thermal.disc) on physical synthetic scenes: a flat disc
with a rim blurred by the optics, housings, rooms from 15 to 35 C, people touching, hiding or
standing next to the disc, a disc that moves and one whose heater ramps. The frames come
from tests/thermal/disc_scenes.py, which knows nothing of the locator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from edge.thermal.disc import DiscLock, DiscParams, ReferenceLocator, lock_box
from tests.thermal.disc_scenes import Disc, H, Person, Scene, W, frames

Roi = tuple[int, int, int, int]
LATEST_LOCK = 10  # frame index by which a disc in plain view must be locked
READ_TOL_C = 0.3  # ROI reading vs the disc's true temperature


@dataclass
class Run:
    states: list[str]
    rois: list[Roi | None]
    locks: list[DiscLock | None]
    frames: list[npt.NDArray[np.float32]]

    @property
    def lock_frame(self) -> int | None:
        return next((i for i, roi in enumerate(self.rois) if roi is not None), None)

    def count(self) -> dict[str, int]:
        return {s: self.states.count(s) for s in dict.fromkeys(self.states)}


def run(scene_at: Callable[[int], Scene], n: int, seed: int = 0) -> Run:
    locator = ReferenceLocator(DiscParams())
    out = Run([], [], [], [])
    for temp_c in frames(scene_at, n, seed):
        roi, state = locator.update(temp_c)
        out.states.append(state)
        out.rois.append(roi)
        out.locks.append(locator.lock)
        out.frames.append(temp_c)
    return out


def on_flat_top(roi: Roi | None, disc: Disc) -> bool:
    """Every ROI pixel centre lies on the disc's flat top, 1.5 px clear of the blurred rim."""
    if roi is None:
        return False
    x, y, w, h = roi
    xs, ys = np.array([x, x + w - 1]), np.array([y, y + h - 1])
    corners = np.hypot(xs[:, None] - disc.cx, ys[None, :] - disc.cy)
    return w * h > 0 and float(corners.max()) <= disc.r - 1.5


def reading_c(temp_c: npt.NDArray[np.float32], roi: Roi) -> float:
    x, y, w, h = roi
    return float(temp_c[y : y + h, x : x + w].mean())


def assert_found_and_followed(result: Run, disc: Disc, centre_tol_px: float = 1.5) -> None:
    """Locked early, at the disc, on its flat top, ok on every later frame, reading right."""
    first = result.lock_frame
    assert first is not None and first <= LATEST_LOCK, result.count()
    lock = result.locks[-1]
    assert lock is not None
    assert np.hypot(lock.cx - disc.cx, lock.cy - disc.cy) <= centre_tol_px, (lock, disc)
    assert abs(lock.radius_px - disc.r) <= 1.5, lock
    assert result.states[first:] == ["ok"] * (len(result.states) - first), result.count()
    for roi, temp_c in zip(result.rois[first:], result.frames[first:], strict=True):
        assert roi == result.rois[first] and on_flat_top(roi, disc), (roi, disc)
        assert roi is not None and abs(reading_c(temp_c, roi) - disc.temp_c) <= READ_TOL_C


# --- where the disc is ------------------------------------------------------------------

EDGE_CENTRES = {  # the centre on each edge (0) or 2 px beyond it (-2): 50% / 35% in view
    ("left", 0): (0.0, 80.0), ("left", -2): (-2.0, 80.0),
    ("right", 0): (W - 1.0, 80.0), ("right", -2): (W + 1.0, 80.0),
    ("top", 0): (60.0, 0.0), ("top", -2): (60.0, -2.0),
    ("bottom", 0): (60.0, H - 1.0), ("bottom", -2): (60.0, H + 1.0),
}


@pytest.mark.parametrize("room_c", [25.0, 33.0])
@pytest.mark.parametrize(("edge", "offset"), sorted(EDGE_CENTRES))
def test_disc_cut_by_the_frame_edge_is_found(edge: str, offset: int, room_c: float) -> None:
    disc = Disc(*EDGE_CENTRES[edge, offset], r=6.5, temp_c=37.0)
    result = run(lambda t: Scene(room_c, disc), 24, seed=offset + 7)
    assert_found_and_followed(result, disc)
    lock = result.locks[-1]
    assert lock is not None
    inside = 0 <= lock.cx <= W - 1 and 0 <= lock.cy <= H - 1
    assert inside == (offset == 0)  # the centre is reported outside the frame when it is


@pytest.mark.parametrize("housing_c", [34.0, 18.0], ids=["warmer-housing", "cooler-housing"])
def test_disc_inside_a_housing_ring_is_found(housing_c: float) -> None:
    disc = Disc(60.0, 90.0, 6.5, 37.0)
    result = run(lambda t: Scene(25.0, disc, housing=(8.0, 14.0, housing_c)), 24, seed=3)
    assert_found_and_followed(result, disc)


@pytest.mark.parametrize(
    ("room_c", "disc_c"), [(15.0, 16.5), (25.0, 26.5), (35.0, 36.5), (15.0, 37.0)]
)
def test_disc_is_found_in_cold_and_warm_rooms(room_c: float, disc_c: float) -> None:
    """1.5 C above the room is enough, whatever the room's temperature."""
    disc = Disc(30.0, 130.0, 6.5, disc_c)
    assert_found_and_followed(run(lambda t: Scene(room_c, disc), 24, seed=int(room_c)), disc)


def test_no_disc_no_lock() -> None:
    for room_c in (15.0, 25.0, 35.0):
        result = run(lambda t, r=room_c: Scene(r), 24, seed=int(room_c))
        assert result.lock_frame is None
        assert set(result.states[9:]) == {"not found"}


# --- people -------------------------------------------------------------------------------

def test_warmer_person_touching_the_disc() -> None:
    """A torso warmer than the disc touches its rim, swaying: still the disc, still ok."""
    disc = Disc(30.0, 100.0, 6.5, 35.5)

    def scene(t: int) -> Scene:
        torso_left = disc.cx + disc.r + 0.5 + 0.7 * np.sin(t / 3)
        return Scene(25.0, disc, people=[Person(torso_left + 22.0, 75.0, 36.5, 36.0)])

    assert_found_and_followed(run(scene, 30, seed=11), disc)


def test_face_hotter_than_the_disc_nearby() -> None:
    """A face 2 C hotter than the disc, its head 2 px from the rim: the disc is locked."""
    disc = Disc(30.0, 100.0, 6.5, 35.5)

    def scene(t: int) -> Scene:
        head_cx = disc.cx + disc.r + 2.0 + 10.0 + 0.7 * np.sin(t / 3)
        return Scene(25.0, disc, people=[Person(head_cx, 102.0, 37.5, 31.0)])

    result = run(scene, 30, seed=13)
    assert_found_and_followed(result, disc)
    assert max(float(f.max()) for f in result.frames) > disc.temp_c + 1.5  # it is hotter


def walk_past(t: int) -> list[Person]:
    """A person walking right to left, 4 px a frame from frame 12; their torso (x +-22,
    from y = 89 down) covers the disc at (30, 100) fully on frames 36-43."""
    return [Person(140.0 - 4.0 * (t - 12), 75.0, 36.5, 31.0)] if t >= 12 else []


def test_person_walking_in_front_occludes_then_releases() -> None:
    disc = Disc(30.0, 100.0, 6.5, 35.5)
    result = run(lambda t: Scene(25.0, disc, people=walk_past(t)), 60, seed=14)
    first = result.lock_frame
    assert first is not None and first <= LATEST_LOCK
    assert result.states[first:32] == ["ok"] * (32 - first)  # the person is not near yet
    assert result.states[36:44] == ["occluded"] * 8, result.states[30:50]
    assert result.states[49:] == ["ok"] * (60 - 49), result.states[44:]  # gone again
    assert "moved" not in result.states
    assert len(set(result.rois[first:])) == 1 and on_flat_top(result.rois[first], disc)


# --- the disc itself ------------------------------------------------------------------------

def test_moved_disc_is_relocked_at_its_new_place() -> None:
    old, new = Disc(30.0, 130.0), Disc(80.0, 90.0)
    p = DiscParams()
    result = run(lambda t: Scene(25.0, old if t < 30 else new), 75, seed=17)
    assert result.states[8:30] == ["ok"] * 22
    moved = [i for i, s in enumerate(result.states) if s == "moved"]
    # A clean window at the new place, then `confirm_frames` passes in a row (the search
    # runs every `search_every` frames while nothing is being confirmed).
    earliest = 30 + p.window + p.confirm_frames - 2
    assert len(moved) == 1 and earliest <= moved[0] < earliest + p.search_every, result.count()
    assert set(result.states[30 : moved[0]]) == {"occluded"}
    assert set(result.states[moved[0] + 1 :]) == {"ok"}
    lock = result.locks[-1]
    assert lock is not None and np.hypot(lock.cx - new.cx, lock.cy - new.cy) <= 1.0
    assert on_flat_top(result.rois[-1], new)


def test_heater_ramp_is_unstable_then_ok() -> None:
    """The disc's heater ramps 1.5 C over frames 30-40 (0.15 C a frame: no occlusion)."""

    def scene(t: int) -> Scene:
        return Scene(25.0, Disc(30.0, 130.0, 6.5, 37.0 + 1.5 * np.clip((t - 30) / 10, 0, 1)))

    result = run(scene, 75, seed=18)
    assert result.states[8:31] == ["ok"] * 23
    unstable = [i for i, s in enumerate(result.states) if s == "unstable"]
    assert len(set(unstable) & set(range(31, 41))) >= 5, result.count()
    assert "occluded" not in result.states and "moved" not in result.states
    assert result.states[-10:] == ["ok"] * 10  # settled at the new temperature


def test_exclusion_box_is_the_disc_and_its_rim() -> None:
    disc = Disc(60.0, 90.0, 6.5, 37.0)
    lock = run(lambda t: Scene(25.0, disc), 12).locks[-1]
    assert lock is not None
    x, y, w, h = lock_box(lock, (H, W))
    reach = disc.r + 4.0  # the rim's blur, and a margin
    assert abs(x - (disc.cx - reach)) <= 1.5 and abs(y - (disc.cy - reach)) <= 1.5
    assert abs(w - 2 * reach) <= 3 and abs(h - 2 * reach) <= 3
    cut = run(lambda t: Scene(25.0, Disc(-2.0, 80.0)), 12).locks[-1]
    assert cut is not None
    cx, _, cw, ch = lock_box(cut, (H, W))
    assert cx == 0 and 0 < cw <= 6.5 + 4 + 2 and ch >= 2 * 6.5  # clipped to the frame


def test_history_primes_a_full_window_at_lock() -> None:
    disc = Disc(30.0, 130.0, 6.5, 37.0)
    locator = ReferenceLocator(DiscParams())
    history: list[float] = []
    for temp_c in frames(lambda t: Scene(25.0, disc), 12):
        roi, _ = locator.update(temp_c)
        if roi is not None and not history:
            history = locator.history_c()
            assert history[-1] == pytest.approx(reading_c(temp_c, roi))
    assert len(history) == DiscParams().window
    assert max(history) - min(history) <= 0.1
    assert abs(float(np.mean(history)) - disc.temp_c) <= READ_TOL_C
