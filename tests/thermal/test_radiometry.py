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
