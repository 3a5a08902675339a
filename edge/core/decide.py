"""The pure decision core: a track's evidence -> at most one temperature decision.

No I/O, no clock: everything arrives as arguments, so replay and live runs decide alike
and tests can drive it directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.core.bodytemp import DEFAULT_SITE, body_from_skin_c, site_map
from edge.core.tracker import Track
from edge.core.types import Decision, TemperatureReading


@dataclass(frozen=True, slots=True)
class DecideParams:
    threshold_c: float = 37.3
    min_samples: int = 5  # fewer measured frames than this: the person is not measured
    decide_samples: int = 9  # decide as soon as this many are in (about 1 s at 9 fps)
    ambient_c: float | None = None
    # Where the skin reading was taken; selects the skin -> body map (edge.core.bodytemp.SITES).
    # Evidence always passes it: "face-max" in thermal-only mode, "canthus" in RGB+thermal.
    # The default is edge.core.bodytemp's, so DecideParams() and skin_from_body_c() agree.
    site: str = DEFAULT_SITE

    def __post_init__(self) -> None:
        site_map(self.site)  # an unknown site fails here, when the gate starts, not per person


def skin_statistic_c(skin_c: list[float]) -> tuple[float, float]:
    """Robust per-person skin reading and the spread of the readings used.

    The median of the upper half: frames where the person blinked, turned or was still
    far away read low, so the lower half is discarded; the median of the rest is immune
    to a single hot outlier.
    """
    values = np.sort(np.asarray(skin_c, dtype=np.float64))
    upper = values[len(values) // 2 :]
    return float(np.median(upper)), float(upper[-1] - upper[0])


def decide(track: Track, params: DecideParams, ending: bool) -> Decision | None:
    """A decision for this track now, or None (already decided, or not enough evidence).

    `ending` is True when the track has just been lost or the footage ended: a person
    with at least `min_samples` gets decided then, even below `decide_samples`.
    """
    if track.decided:
        return None
    n = len(track.skin_c)
    if n < params.min_samples or (n < params.decide_samples and not ending):
        return None
    skin_c, spread_c = skin_statistic_c(track.skin_c)
    body_c = float(body_from_skin_c(skin_c, params.ambient_c, site=params.site))
    reading = TemperatureReading(
        body_c=body_c,
        skin_c=skin_c,
        threshold_c=params.threshold_c,
        site=params.site,
        samples=n,
        # The reference as it stands when deciding: stable now means the offset applied
        # to the samples that count (the upper half, mostly recent) is trustworthy.
        reference_ok=track.reference_ok[-1],
        spread_c=spread_c,
    )
    track.decided = True
    fever = body_c >= params.threshold_c
    return Decision(
        "fever" if fever else "screening", track.last_t_ns, track.track_id, reading, track.box
    )
