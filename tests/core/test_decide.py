"""The decision core (edge.core.decide) on hand-built person evidence."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edge.core.bodytemp import body_from_skin_c, skin_from_body_c
from edge.core.decide import DecideParams, PersonEvidence, decide, skin_statistic_c

# --- decide ----------------------------------------------------------------------------


def make_track(skin_c: list[float], ok: bool = True, track_id: int = 7) -> PersonEvidence:
    n = len(skin_c)
    return PersonEvidence(
        track_id=track_id,
        t_ns=1_000_000 * max(n, 1),
        box=(10, 20, 30, 36),
        frame="thermal",
        skin_c=tuple(skin_c),
        reference_ok=ok,
    )


PARAMS_DECIDE = DecideParams(threshold_c=37.3, min_samples=5, decide_samples=9)
NORMAL_SKIN_C = skin_from_body_c(36.8)


def test_too_few_samples_never_decide_even_when_ending() -> None:
    track = make_track([NORMAL_SKIN_C] * 4)
    assert decide(track, PARAMS_DECIDE, ending=False) is None
    assert decide(track, PARAMS_DECIDE, ending=True) is None


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
    assert first.bbox == (10, 20, 30, 36) and first.bbox_frame == "thermal"
    # decide is pure: remembering the decision is the caller's (edge.core.evidence) job.
    assert decide(track, PARAMS_DECIDE, ending=False) == first
    track = replace(track, skin_c=track.skin_c + (NORMAL_SKIN_C,) * 5, decided=True)
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
    track = make_track([NORMAL_SKIN_C] * 9, ok=False)
    decision = decide(track, PARAMS_DECIDE, ending=False)
    assert decision is not None
    assert decision.temperature.reference_ok is False


# --- no fever from an uncorrected reading --------------------------------------------

EXPECTED = DecideParams(threshold_c=37.3, reference_expected=True, recheck_margin_c=1.0)


@pytest.mark.parametrize(
    ("body_c", "reference_ok", "expected"),
    [
        (38.5, True, "fever"),
        (36.5, True, "screening"),
        (38.5, False, "recheck"),  # could be a fever, cannot be trusted: check by hand
        (36.5, False, "recheck"),  # within the margin: a camera reading 1 C low hides a fever
        (36.2, False, "screening"),  # clearly normal even if the camera read 1 C low
    ],
)
def test_without_a_trusted_reference_no_fever_is_decided(
    body_c: float, reference_ok: bool, expected: str
) -> None:
    person = make_track([skin_from_body_c(body_c)] * 9, ok=reference_ok)
    decision = decide(person, EXPECTED, ending=False)
    assert decision is not None and decision.type == expected
    assert decision.temperature.reference_ok is reference_ok


def test_without_a_reference_installed_decisions_are_as_always() -> None:
    person = make_track([skin_from_body_c(38.5)] * 9, ok=False)
    decision = decide(person, PARAMS_DECIDE, ending=False)  # reference_expected False
    assert decision is not None and decision.type == "fever"


# --- measured at the closest approach --------------------------------------------------


def test_a_person_still_walking_up_is_not_decided_yet() -> None:
    skin = skin_from_body_c(36.8)
    walking = replace(make_track([skin] * 12), face_w=tuple(20.0 + 2 * i for i in range(12)))
    assert decide(walking, PARAMS_DECIDE, ending=False) is None  # still growing
    standing = replace(
        make_track([skin] * 16), face_w=(*walking.face_w[:6], *(32.0,) * 10)
    )
    assert decide(standing, PARAMS_DECIDE, ending=False) is not None  # stopped: decide
    assert decide(walking, PARAMS_DECIDE, ending=True) is not None  # lost: decide anyway


def test_only_the_closest_samples_count() -> None:
    # Far frames read low (fewer pixels on the canthus); the near ones carry the truth.
    far, near = skin_from_body_c(36.0), skin_from_body_c(38.0)
    widths = (12.0,) * 6 + (30.0,) * 6
    person = replace(make_track([far] * 6 + [near] * 6), face_w=widths)
    decision = decide(person, PARAMS_DECIDE, ending=True)
    assert decision is not None and decision.type == "fever"
    assert decision.temperature.skin_c == pytest.approx(near, abs=1e-9)


# --- the room temperature ----------------------------------------------------------------


def test_the_room_measured_at_the_samples_used_enters_the_map() -> None:
    # Far samples (taken while the room reading was still settling) are not used: the room
    # is the median over the near samples, the ones the skin reading comes from.
    skin = skin_from_body_c(37.0, 27.0)
    widths = (12.0,) * 6 + (30.0,) * 6
    rooms = (20.0,) * 6 + (26.9, 27.0, 27.0, 27.1, 27.0, 27.0)
    person = replace(make_track([skin] * 12), face_w=widths, room_c=rooms)
    decision = decide(person, PARAMS_DECIDE, ending=True)
    assert decision is not None
    assert decision.temperature.ambient_c == pytest.approx(27.0)
    assert decision.temperature.body_c == pytest.approx(37.0, abs=1e-9)


def test_the_same_skin_reads_lower_in_a_warmer_room() -> None:
    # Skin reads warmer in a warm room: the estimate corrects for it.
    skin = skin_from_body_c(37.3)  # exactly the threshold at the reference room (24 C)
    cool = replace(make_track([skin] * 9), room_c=(21.0,) * 9)
    warm = replace(make_track([skin] * 9), room_c=(28.0,) * 9)
    at_cool = decide(cool, PARAMS_DECIDE, ending=False)
    at_warm = decide(warm, PARAMS_DECIDE, ending=False)
    assert at_cool is not None and at_cool.type == "fever"
    assert at_warm is not None and at_warm.type == "screening"
    assert at_cool.temperature.body_c - at_warm.temperature.body_c == pytest.approx(
        body_from_skin_c(skin, 21.0) - body_from_skin_c(skin, 28.0)
    )


def test_the_configured_ambient_overrides_the_measured_room() -> None:
    skin = skin_from_body_c(36.8)
    person = replace(make_track([skin] * 9), room_c=(28.0,) * 9)
    params = replace(PARAMS_DECIDE, ambient_c=22.5)
    decision = decide(person, params, ending=False)
    assert decision is not None and decision.temperature.ambient_c == 22.5
    assert decision.temperature.body_c == pytest.approx(body_from_skin_c(skin, 22.5))


@pytest.mark.parametrize(
    "rooms", [(), (float("nan"),) * 9, (25.0,) * 3], ids=["none", "all-nan", "wrong-length"]
)
def test_an_unknown_room_is_the_reference_room(rooms: tuple[float, ...]) -> None:
    skin = skin_from_body_c(36.8)
    decision = decide(replace(make_track([skin] * 9), room_c=rooms), PARAMS_DECIDE, False)
    assert decision is not None and decision.temperature.ambient_c is None
    assert decision.temperature.body_c == pytest.approx(36.8, abs=1e-9)


def test_samples_before_the_room_was_known_are_ignored() -> None:
    skin = skin_from_body_c(36.8, 26.0)
    rooms = (float("nan"),) * 4 + (26.0,) * 5
    decision = decide(replace(make_track([skin] * 9), room_c=rooms), PARAMS_DECIDE, False)
    assert decision is not None and decision.temperature.ambient_c == 26.0
    assert decision.temperature.body_c == pytest.approx(36.8, abs=1e-9)
