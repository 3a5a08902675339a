"""Recognition for the RGB modes: the embedder, the gallery in force and the subjects' status.

The pure core (edge.core.evidence) decides which faces need recognising and what an identity
means; this module runs the embedder on those faces only and finds each one's nearest
subject in the gallery (one matrix product). The list store's content arrives as a
`ListView`; `reload` swaps it in between two frames (list sync commands are applied on the
pipeline thread), so a frame is never matched against half a list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge.core.evidence import Identify
from edge.core.identity import SubjectStatus
from edge.identity.gallery import Gallery

F32 = npt.NDArray[np.float32]


class Embedder(Protocol):
    model_id: str

    def embed(self, bgr: npt.NDArray[np.uint8], landmarks: F32) -> F32:
        """(K, 5, 2) landmarks in frame pixels -> (K, D) float32 descriptors."""
        ...


@dataclass(frozen=True, slots=True)
class SubjectInfo:
    """What recognition needs of one subject: its kind, the end of its home quarantine
    (None: not quarantined) and its health status (None: none recorded)."""

    kind: str
    quarantine_until: datetime | None = None
    health: str | None = None


@dataclass(frozen=True, slots=True)
class ListView:
    gallery: Gallery
    subjects: Mapping[str, SubjectInfo]
    version: int = 0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Recognition:
    """Not thread-safe: used and reloaded on the pipeline thread only."""

    def __init__(
        self,
        embedder: Embedder,
        lists: ListView,
        *,
        quality: Callable[[F32, F32], F32],
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.embedder = embedder
        self.quality = quality  # (K,5,2) landmarks, (K,4) boxes -> (K,) face quality
        self._now = now
        self.lists = lists
        self.reload(lists)

    def reload(self, lists: ListView) -> None:
        if lists.gallery.size and lists.gallery.model_id != self.embedder.model_id:
            raise ValueError(
                f"the gallery holds templates of {lists.gallery.model_id}, the embedder is "
                f"{self.embedder.model_id}: re-enrol or sync templates of this model"
            )
        self.lists = lists

    def lookup(self, subject: str) -> SubjectStatus | None:
        """The subject's status now (home quarantine in force at the gate's clock)."""
        info = self.lists.subjects.get(subject)
        if info is None:
            return None
        until = info.quarantine_until
        return SubjectStatus(info.kind, until is not None and self._now() < until, info.health)

    def identify_for(self, bgr: npt.NDArray[np.uint8], landmarks: F32) -> Identify:
        """The recogniser of one frame's faces ((N, 5, 2) landmarks): embeds only the faces
        the core asks for, in one batch."""
        gallery = self.lists.gallery

        def run(idx: npt.NDArray[np.intp]) -> tuple[list[str | None], F32, F32]:
            descriptors = self.embedder.embed(bgr, np.ascontiguousarray(landmarks[idx]))
            if gallery.size == 0:
                return [None] * int(idx.size), np.full(idx.size, np.inf, np.float32), descriptors
            rows, distances = gallery.nearest(descriptors)
            names = [gallery.subject(int(r)) if r >= 0 else None for r in rows.tolist()]
            return names, distances.astype(np.float32, copy=False), descriptors

        return run

    def holder_distance(self, descriptors: F32, subject: str) -> float | None:
        """Median distance from a person's descriptors (K, D) to the subject's nearest
        template; None when the subject has no template in the gallery in force."""
        distances = self.lists.gallery.distances_to(descriptors, subject)
        return None if distances is None else float(np.median(distances))
