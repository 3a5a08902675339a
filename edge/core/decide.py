"""The pure decision core: one person's evidence -> at most one temperature decision.

No I/O, no clock, no mutation: everything arrives as arguments and the answer is returned,
so replay and live runs decide alike and tests can drive it directly. Remembering that a
person was decided is the caller's job (`edge.core.evidence`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.core.bodytemp import DEFAULT_SITE, body_from_skin_c, site_map
from edge.core.detections import FrameName
from edge.core.types import Decision, DecisionType, TemperatureReading


@dataclass(frozen=True, slots=True)
class DecideParams:
    threshold_c: float = 37.3
    min_samples: int = 5  # fewer measured frames than this: the person is not measured
    decide_samples: int = 9  # decide as soon as this many are in (about 1 s at 9 fps)
    # Room temperature override (`screening.ambient_c`): when set it wins over the room the
    # pipeline measured in the thermal frame (PersonEvidence.room_c).
    ambient_c: float | None = None
    # Where the skin reading was taken; selects the skin -> body map (edge.core.bodytemp.SITES).
    # Evidence always passes it: "face-max" in thermal-only mode, "canthus" in RGB+thermal.
    # The default is edge.core.bodytemp's, so DecideParams() and skin_from_body_c() agree.
    site: str = DEFAULT_SITE
    # A reference source is installed (thermal.reference.mode is not "off"): a reading taken
    # while it is lost or unstable is not trusted, and is never a fever (see `decide`).
    reference_expected: bool = False
    # Body-temperature margin below the threshold within which an uncorrected reading could
    # still be a fever: the drift the reference corrects (docs/mqtt.md, "recheck").
    recheck_margin_c: float = 1.0
    # Measure at the closest approach: a person walking up is decided once their face has
    # stopped growing (the median width of the last `settle_samples` at most `settle_growth`
    # times that of the `settle_samples` before; medians ride out the detector's jitter), and
    # only the samples at least `near_share` of the widest face count. Far frames image the
    # small canthus with fewer pixels and read it low.
    settle_samples: int = 5
    settle_growth: float = 1.03
    # Box widths are whole pixels: at a 30 px thermal face one pixel is 3.3 %, more than
    # settle_growth, so a face that stopped but flickers by a pixel would look as if it grew.
    # Growth within this many pixels (the box's own resolution) counts as stopped. Thermal-only
    # mode: the head finder's boxes are whole sensor pixels (edge.pipeline sets it per mode).
    settle_quantum_px: float = 1.0
    near_share: float = 0.85
    # Sequential decision: once the face has stopped growing over a short window
    # (`early_settle_samples` against as many before; 3, so a median still rides out one bad
    # frame), a person whose estimate is at least `early_margin_c` from the threshold (or the
    # baseline threshold), with readings that agree within it, is decided then: more frames
    # would not change the outcome. Anyone nearer waits for `decide_samples` and the full
    # settle window, whose extra samples steady the estimate where it matters; so does anyone
    # read while an installed reference is not trusted (it may lock meanwhile). 0.3 C is
    # twice the largest early-vs-full difference measured (README "Decision latency").
    # None: always wait.
    early_settle_samples: int = 3
    early_margin_c: float | None = 0.3
    # Baseline mode (screening.baseline_margin_c; None = off): a fever is a body estimate at
    # least this far above the running median of this gate's recent decisions (`Evidence`
    # keeps it), instead of above threshold_c. Until `baseline_min_samples` decisions are
    # in, threshold_c applies.
    baseline_margin_c: float | None = None
    baseline_samples: int = 20
    baseline_min_samples: int = 10

    def __post_init__(self) -> None:
        site_map(self.site)  # an unknown site fails here, when the gate starts, not per person


@dataclass(frozen=True, slots=True)
class PersonEvidence:
    """What the decision sees of one person (one track).

    skin_c: reference- and site-corrected skin readings of the measured frames, in order.
    face_w: the face's width in each of those frames (the person's distance).
    reference_ok: whether the reference was stable at the latest reading.
    box: the person's last box (x, y, w, h whole pixels) in `frame` pixels.
    room_c: the room temperature the pipeline measured at each sample (NaN: not known);
        empty: not known at all.
    """

    track_id: int
    t_ns: int
    box: tuple[int, int, int, int]
    frame: FrameName
    skin_c: tuple[float, ...]
    reference_ok: bool
    # Face width of each sample (any unit, the same for the whole track); empty: unknown.
    face_w: tuple[float, ...] = ()
    decided: bool = False
    room_c: tuple[float, ...] = ()
    sample_t_ns: tuple[int, ...] = ()  # frame t_ns of each sample; empty: not known


def skin_statistic_c(skin_c: Sequence[float]) -> tuple[float, float]:
    """Robust per-person skin reading and the spread of the readings used.

    The median of the upper half: frames where the person blinked, turned or was still
    far away read low, so the lower half is discarded; the median of the rest is immune
    to a single hot outlier.
    """
    values = np.sort(np.asarray(skin_c, dtype=np.float64))
    upper = values[len(values) // 2 :]
    return float(np.median(upper)), float(upper[-1] - upper[0])


def decide(
    person: PersonEvidence, params: DecideParams, ending: bool, baseline_c: float | None = None
) -> Decision | None:
    """A decision for this person now, or None (already decided, or not enough evidence).

    `ending` is True when the track has just been lost or the footage ended: a person
    with at least `min_samples` gets decided then, even below `decide_samples`.
    `baseline_c`: in baseline mode, the median body estimate of the gate's recent decisions
    (None: not enough yet, or baseline mode off).
    """
    if person.decided:
        return None
    n = len(person.skin_c)
    if n < params.min_samples:
        return None
    full = ending or (
        n >= params.decide_samples and _settled(person.face_w, params.settle_samples, params)
    )
    early = (
        not full
        and params.early_margin_c is not None
        and (person.reference_ok or not params.reference_expected)
        and bool(person.face_w)  # the walk-up must be seen to have stopped
        and _settled(person.face_w, params.early_settle_samples, params)
    )
    if not (full or early):
        return None
    used = _nearest(person, params)
    skin_c, spread_c = skin_statistic_c([person.skin_c[i] for i in used])
    ambient_c = params.ambient_c if params.ambient_c is not None else _room_c(person, used)
    body_c = float(body_from_skin_c(skin_c, ambient_c, site=params.site))
    threshold_c = params.threshold_c
    if params.baseline_margin_c is not None and baseline_c is not None:
        threshold_c = baseline_c + params.baseline_margin_c
    reading = TemperatureReading(
        body_c=body_c,
        skin_c=skin_c,
        threshold_c=threshold_c,
        site=params.site,
        samples=n,
        # The reference as it stands when deciding: stable now means the offset applied
        # to the samples that count (the upper half, mostly recent) is trustworthy.
        reference_ok=person.reference_ok,
        spread_c=spread_c,
        ambient_c=ambient_c,
        baseline_c=baseline_c if params.baseline_margin_c is not None else None,
    )
    if early and not _clear(reading, params):
        return None
    return Decision(
        _decision_type(body_c, threshold_c, person.reference_ok, params),
        person.t_ns,
        person.track_id,
        reading,
        person.box,
        person.frame,
        near_t_ns=person.sample_t_ns[used[0]] if len(person.sample_t_ns) == n else None,
    )


def _decision_type(
    body_c: float, threshold_c: float, reference_ok: bool, params: DecideParams
) -> DecisionType:
    """fever / screening; without a trusted reference, `recheck` for anyone who could be a
    fever once the drift is accounted for, `screening` for the clearly normal."""
    if params.reference_expected and not reference_ok:
        could_be_fever = body_c >= threshold_c - params.recheck_margin_c
        return "recheck" if could_be_fever else "screening"
    return "fever" if body_c >= threshold_c else "screening"


def _clear(reading: TemperatureReading, params: DecideParams) -> bool:
    """Is an early estimate far enough from the threshold, with readings that agree, for more
    samples not to change the outcome?"""
    margin_c = params.early_margin_c
    assert margin_c is not None
    spread_body_c = site_map(params.site).slope * reading.spread_c  # the map is linear
    return abs(reading.body_c - reading.threshold_c) >= margin_c and spread_body_c <= margin_c


def _settled(face_w: tuple[float, ...], k: int, params: DecideParams) -> bool:
    """Has the face stopped growing (the person reached their closest), judged on the medians
    of the last k widths and the k before? True when unknown."""
    if len(face_w) < 2 * k:
        return not face_w
    recent, before = np.median(face_w[-k:]), np.median(face_w[-2 * k : -k])
    return bool(recent <= params.settle_growth * before + params.settle_quantum_px)


def _nearest(person: PersonEvidence, params: DecideParams) -> tuple[int, ...]:
    """Indices of the samples taken at the person's closest (face at least near_share of its
    widest), or of all of them when fewer than min_samples qualify."""
    every = tuple(range(len(person.skin_c)))
    if len(person.face_w) != len(person.skin_c):
        return every
    widest = max(person.face_w)
    near = tuple(i for i in every if person.face_w[i] >= params.near_share * widest)
    return near if len(near) >= params.min_samples else every


def _room_c(person: PersonEvidence, used: tuple[int, ...]) -> float | None:
    """The room at the samples used: their median (rooms change slowly; this only ignores
    samples taken before the room was known). None when not known."""
    if len(person.room_c) != len(person.skin_c):
        return None
    rooms = np.asarray([person.room_c[i] for i in used], dtype=np.float64)
    rooms = rooms[np.isfinite(rooms)]
    return float(np.median(rooms)) if rooms.size else None
