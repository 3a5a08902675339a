"""The sequential (early) decision and the settle rule's pixel quantum (edge.core.decide).

A person whose face has stopped growing over a short window is decided before
`decide_samples` only when the estimate is clear of the boundary that decides its type;
anyone near it waits for the full evidence.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from edge.core.bodytemp import skin_from_body_c
from edge.core.decide import DecideParams, PersonEvidence, decide

PARAMS = DecideParams(threshold_c=37.3, min_samples=5, decide_samples=9)
# A walk-up seen by a 160x120 camera: three growing frames, then standing at 30 px.
WALK_UP_W = (20.0, 24.0, 27.0)


def person(body_c: float, n: int, widths: tuple[float, ...] | None = None, ok: bool = True,
           jitter_c: float = 0.0) -> PersonEvidence:
    skin = skin_from_body_c(body_c)
    skin_c = tuple(skin + jitter_c * (i % 3) / 2 for i in range(n))  # 0, half, whole
    face_w = (widths if widths is not None else WALK_UP_W + (30.0,) * n)[:n]
    return PersonEvidence(track_id=3, t_ns=n * 111_000_000, box=(50, 30, 30, 36),
                          frame="thermal", skin_c=skin_c, reference_ok=ok, face_w=face_w)


def first_decided_at(body_c: float, params: DecideParams = PARAMS, **kw: object) -> int | None:
    """The number of samples at which this person is first decided (None: only at the end)."""
    for n in range(1, 20):
        if decide(person(body_c, n, **kw), params, ending=False) is not None:  # type: ignore[arg-type]
            return n
    return None


def test_a_clear_normal_is_decided_once_the_face_stops_growing() -> None:
    # 3 walk-up frames, then 3 + 3 standing medians are compared: the 3 before must be
    # mostly standing too, so n = 3 + 5 = 8 (0.78 s at 9 fps), before decide_samples = 9.
    assert first_decided_at(36.6) == 8
    decision = decide(person(36.6, 8), PARAMS, ending=False)
    assert decision is not None and decision.type == "screening"
    assert decision.temperature is not None and decision.temperature.samples == 8


def test_a_clear_fever_is_decided_early_too() -> None:
    decision = decide(person(38.4, 8), PARAMS, ending=False)
    assert decision is not None and decision.type == "fever"


@pytest.mark.parametrize("body_c", [37.05, 37.2, 37.3, 37.45])
def test_near_the_threshold_waits_for_the_full_evidence(body_c: float) -> None:
    # Within early_margin_c (0.3) of 37.3: the full settle window (5 + 5) and decide_samples.
    assert first_decided_at(body_c) == 3 + 8


def test_readings_that_disagree_wait_for_the_full_evidence() -> None:
    # Skin readings 0 / 0.45 / 0.9 C above that of 35.6: the upper half spans 0.45 C of
    # skin, 0.56 C of body (slope 1.25) > early_margin_c (0.3), while its median (~36.7) is
    # clear of the threshold: only the spread holds it.
    assert first_decided_at(35.6, jitter_c=0.9) == 3 + 8
    decision = decide(person(35.6, 11, jitter_c=0.9), PARAMS, ending=False)
    assert decision is not None and decision.temperature is not None
    assert 36.6 < decision.temperature.body_c < 37.0


def test_without_a_trusted_reference_everyone_waits() -> None:
    # The installed reference may lock while more frames come in; then the reading is trusted.
    params = replace(PARAMS, reference_expected=True)
    assert first_decided_at(35.6, params, ok=False) == 3 + 8
    assert first_decided_at(36.4, params, ok=False) == 3 + 8
    late = decide(person(36.4, 11, ok=False), params, ending=False)
    assert late is not None and late.type == "recheck"
    assert first_decided_at(35.6, params, ok=True) == 8  # trusted: as without a reference


def test_in_baseline_mode_the_boundary_is_the_baseline_plus_margin() -> None:
    params = replace(PARAMS, baseline_margin_c=1.0)
    assert decide(person(37.2, 8), params, ending=False, baseline_c=36.3) is None  # 0.1 off
    clear = decide(person(37.2, 8), params, ending=False, baseline_c=35.5)  # 0.7 over
    assert clear is not None and clear.type == "fever"


def test_early_decisions_can_be_turned_off() -> None:
    assert first_decided_at(36.6, replace(PARAMS, early_margin_c=None)) == 3 + 8


def test_no_early_decision_when_face_widths_are_unknown() -> None:
    assert first_decided_at(36.6, widths=()) == 9  # decide_samples, as before


def test_a_person_still_walking_up_is_never_decided_early() -> None:
    walking = tuple(20.0 + 1.5 * i for i in range(19))  # 5 % a frame at 30 px
    assert first_decided_at(36.6, widths=walking) is None


@pytest.mark.parametrize("flicker", [(30.0, 31.0), (29.0, 30.0, 30.0, 31.0)])
def test_a_one_pixel_flicker_counts_as_stopped(flicker: tuple[float, ...]) -> None:
    # One pixel of a 30 px face is 3.3 %, over settle_growth (3 %): the box's own resolution.
    standing = WALK_UP_W + tuple(flicker[i % len(flicker)] for i in range(16))
    assert first_decided_at(36.6, replace(PARAMS, early_margin_c=None),
                            widths=standing) == 3 + 8


def test_two_pixels_of_growth_per_window_is_still_walking() -> None:
    creeping = tuple(20.0 + 0.7 * i for i in range(19))  # 2.1 px per 3 frames
    assert first_decided_at(36.6, widths=creeping) is None
