"""The pure identity core: a person's recognised frames -> at most one identity, and what
that identity means at the gate (a quarantine breach, admission by face).

No I/O and no clock: the nearest subjects and distances arrive from the pipeline (which owns
the embedder and the gallery), the subjects' status from a lookup the app binds to the list
store. Remembering that a person's identity was decided is `edge.core.evidence`'s job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edge.core.types import AccessType, Match

# One recognised frame of a person: the nearest enrolled subject (None: the gallery is
# empty) and the descriptor distance to it.
Sample = tuple[str | None, float]


@dataclass(frozen=True, slots=True)
class IdentityParams:
    """Recognition policy (config `identity.*`, docs/lists.md).

    threshold: the largest descriptor distance that still counts as the same person; chosen
        on a ROC (docs/face-threshold.md): above it a face is a stranger, never the nearest
        enrolled subject.
    samples: frames embedded per person (the best ones by face quality).
    min_quality: faces below this quality (edge.vision.embedder.face_quality) are not
        embedded: too small or turned away to recognise reliably.
    grant_residents_by_face: a recognised resident is admitted without a pass
        (`pass.granted` with the match); off: nothing is said about passes.
    health_allowed: health statuses admitted by face; a subject with no status is admitted.
    """

    threshold: float = 0.5
    samples: int = 3
    min_quality: float = 0.5
    grant_residents_by_face: bool = False
    health_allowed: tuple[str, ...] = ("green",)

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 2.0:
            raise ValueError(f"identity threshold {self.threshold}: must be in (0, 2)")
        if self.samples < 1:
            raise ValueError(f"identity samples {self.samples}: must be at least 1")


@dataclass(frozen=True, slots=True)
class SubjectStatus:
    """What the list store says about a subject now."""

    kind: str  # resident | worker | visitor
    quarantined: bool  # home quarantine in force now
    health: str | None  # green | yellow | red; None: no status recorded


SubjectLookup = Callable[[str], "SubjectStatus | None"]


def identify(samples: Sequence[Sample], threshold: float) -> Match | None:
    """The person's identity from their recognised frames, or None (a stranger).

    Each frame votes for its nearest subject if that subject is within `threshold`; the
    subject with the most votes wins if it holds a strict majority of all frames (so two
    frames that disagree, or one close frame among far ones, recognise nobody). The reported
    distance is the median of the winner's votes.
    """
    votes = [(s, d) for s, d in samples if s is not None and d <= threshold]
    if not votes:
        return None
    tally = Counter(s for s, _ in votes)
    subject, count = tally.most_common(1)[0]
    if 2 * count <= len(samples):
        return None
    ds = sorted(d for s, d in votes if s == subject)
    mid = len(ds) // 2
    distance = ds[mid] if len(ds) % 2 else (ds[mid - 1] + ds[mid]) / 2
    return Match(subject, round(float(distance), 4))


def access_events(
    match: Match | None, status: SubjectStatus | None, params: IdentityParams
) -> list[tuple[AccessType, str | None]]:
    """What a decided identity says at the gate, as (event type, denial reason) pairs.

    A subject with home quarantine in force gives `quarantine.breach` whatever the policy.
    With `grant_residents_by_face`, a recognised resident is granted (`pass.granted`) unless
    quarantined (`pass.denied: quarantined`) or of a health status the site does not admit
    (`pass.denied: health_code`); workers and visitors need a pass, so nothing is said.
    An unrecognised face, or a subject no longer in the lists, says nothing.
    """
    if match is None or status is None:
        return []
    out: list[tuple[AccessType, str | None]] = []
    if status.quarantined:
        out.append(("quarantine.breach", None))
    if params.grant_residents_by_face and status.kind == "resident":
        if status.quarantined:
            out.append(("pass.denied", "quarantined"))
        elif status.health is not None and status.health not in params.health_allowed:
            out.append(("pass.denied", "health_code"))
        else:
            out.append(("pass.granted", None))
    return out
