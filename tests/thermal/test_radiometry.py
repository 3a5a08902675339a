"""Reference tracking (edge.thermal.radiometry.ReferenceTracker) on hand-made readings."""

from __future__ import annotations

import numpy as np
import pytest

from edge.thermal.radiometry import ReferenceTracker

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
    assert state.reason == "not found"
    assert tracker.update(missing, "searching").reason == "searching"
    # The smoothing window restarts after a gap.
    assert not tracker.update(34.0).ok


def test_unstable_reference_is_not_ok() -> None:
    tracker = ReferenceTracker(true_c=35.0, window=9, max_spread_c=0.3)
    states = [tracker.update(34.5 + (0.5 if i % 2 else 0.0)) for i in range(20)]
    assert not any(s.ok for s in states)
    assert [s.reason for s in states[:8]] == ["settling"] * 8  # window not yet full
    assert {s.reason for s in states[8:]} == {"unstable"}


def test_implausible_offset_is_rejected() -> None:
    tracker = ReferenceTracker(true_c=35.0, window=3, max_offset_c=3.0)
    states = [tracker.update(30.0) for _ in range(3)]
    assert not states[-1].ok
    assert states[-1].offset_c == 0.0
    assert states[-1].reason == "implausible" and "+5.0 C" in states[-1].detail


# --- reasons, priming, occlusion -------------------------------------------------------------


def test_restart_primes_a_stable_reference_at_once() -> None:
    """At a lock the locator's buffered readings fill the window: ok on the lock frame."""
    tracker = ReferenceTracker(true_c=None, window=9)
    assert tracker.update(None, "searching").reason == "searching"
    tracker.restart([35.0, 35.02, 34.98, 35.01, 35.0, 34.99, 35.0, 35.01])
    state = tracker.update(35.0)
    assert state.ok and state.reason == "ok"
    assert state.offset_c == pytest.approx(0.0, abs=1e-9)
    assert state.reading_c == pytest.approx(35.001, abs=0.01)
    # Without priming the same reading would wait for a full window.
    fresh = ReferenceTracker(true_c=None, window=9)
    assert fresh.update(35.0).reason == "settling"


def test_restart_after_a_move_keeps_the_drift_correction() -> None:
    """Drift-only mode: a re-lock is a discontinuity, never camera drift."""
    tracker = ReferenceTracker(true_c=None, window=3)
    for v in (33.0, 33.0, 33.0, 33.3, 33.3, 33.3):  # the camera drifts by +0.3 C
        state = tracker.update(v)
    assert state.ok and state.offset_c == pytest.approx(-0.3)
    tracker.restart([34.0, 34.0])  # the disc moved; it reads 0.7 C higher at its new place
    state = tracker.update(34.0, "moved")
    assert not state.ok and state.reason == "moved"
    assert state.offset_c == pytest.approx(-0.3)  # not -1.0
    assert tracker.update(34.0).offset_c == pytest.approx(-0.3)


def test_locator_occlusion_holds_the_last_good_offset() -> None:
    tracker = ReferenceTracker(true_c=35.0, window=3)
    for _ in range(3):
        good = tracker.update(34.6)
    assert good.ok and good.offset_c == pytest.approx(0.4)
    covered = tracker.update(31.0, "occluded")  # a sleeve in front of the disc
    assert not covered.ok and covered.reason == "occluded"
    assert covered.offset_c == pytest.approx(0.4) and covered.reading_c == pytest.approx(34.6)
    assert "31.00" in covered.detail
    # The covered frame never entered the window: back to ok at once.
    back = tracker.update(34.6)
    assert back.ok and back.offset_c == pytest.approx(0.4)


def test_pinned_roi_jump_is_an_occlusion_until_the_level_returns() -> None:
    """With jump_c (pinned or recorded ROIs) the tracker judges occlusion itself."""
    tracker = ReferenceTracker(true_c=None, window=3, jump_c=0.5)
    for _ in range(4):
        tracker.update(35.0)
    states = [tracker.update(v) for v in (33.0, 32.5, 33.2, 34.9, 35.0)]
    assert [s.reason for s in states] == ["occluded"] * 3 + ["ok", "ok"]
    assert all(s.offset_c == pytest.approx(0.0, abs=0.05) for s in states)
    # A heater ramp (0.25 C a frame) is no jump: unstable, not occluded.
    ramp = [tracker.update(35.0 + 0.25 * i) for i in range(1, 8)]
    assert {s.reason for s in ramp} == {"unstable"}
    # Without jump_c the same jump is taken as the reading (the old behaviour).
    plain = ReferenceTracker(true_c=None, window=3)
    for _ in range(4):
        plain.update(35.0)
    assert plain.update(33.0).reason == "unstable"


def test_pinned_roi_accepts_a_new_steady_level_after_accept_frames() -> None:
    tracker = ReferenceTracker(true_c=None, window=3, jump_c=0.5, accept_frames=10)
    for _ in range(4):
        tracker.update(35.0)
    states = [tracker.update(36.0) for _ in range(12)]  # the set point was raised
    assert [s.reason for s in states[:9]] == ["occluded"] * 9
    assert states[9].reason == "ok" and states[-1].ok
    assert states[-1].offset_c == pytest.approx(0.0)  # drift-only: the step is not drift


def test_reasons_are_from_the_documented_vocabulary() -> None:
    from edge.thermal.radiometry import REFERENCE_REASONS

    tracker = ReferenceTracker(true_c=35.0, window=3, jump_c=0.5)
    seen = {tracker.update(v, r).reason for v, r in [
        (None, "searching"), (None, "not found"), (34.0, "ok"), (34.0, "ok"), (34.0, "ok"),
        (30.0, "ok"), (34.0, "unstable"), (34.0, "moved"), (None, "no reference configured"),
        (20.0, "ok"), (20.0, "ok"), (20.0, "ok")]}
    assert seen <= set(REFERENCE_REASONS)
    assert {"searching", "not found", "ok", "occluded", "unstable", "moved", "settling",
            "implausible", "no reference configured"} <= seen
