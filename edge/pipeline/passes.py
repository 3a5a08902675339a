"""QR passes for the RGB modes: codes read in the frame, verified, handed to the core.

zxing-cpp reads the region where passes are held (`passes.roi`, else the whole frame) on
every Nth RGB frame; each code's text is verified once (edge.identity.passes) and the verdict
kept for a few seconds, so a pass held up for two seconds costs one verification, not thirty;
the core (edge.core.access) attributes each code to a face and decides once per person and
pass. The verdict is judged by the gate's clock: a pass is valid or expired now, whatever
the footage's timestamps.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from edge.core.access import Sighting
from edge.core.passes import PassReading
from edge.core.types import PassRef
from edge.identity.passes.verify import PassVerdict
from edge.vision.qr import QrCodes

CACHE_ENTRIES = 256  # distinct codes remembered (a queue at the gate shows a handful)
CACHE_S = 10.0  # a verdict is re-checked after this long (a pass may expire meanwhile)


class CodeReader(Protocol):
    def read(self, bgr: npt.NDArray[np.uint8]) -> QrCodes: ...


class Verifier(Protocol):
    def verify(self, text: str, at: datetime) -> PassVerdict: ...


class TrustChain:
    """Several trust sources as one (the config's key files, then the list store): a kid is
    trusted if any source has it; a pass is revoked if any source says so."""

    def __init__(self, sources: Sequence[Any]) -> None:
        self.sources = list(sources)

    def public_key(self, kid: bytes) -> Any | None:
        for source in self.sources:
            key = source.public_key(kid)
            if key is not None:
                return key
        return None

    def is_revoked(self, kind: str, hashes: Sequence[bytes]) -> bool:
        return any(source.is_revoked(kind, hashes) for source in self.sources)


def reading_of(verdict: PassVerdict) -> PassReading:
    """What the core needs of a verdict (never the payload itself)."""
    expires = verdict.expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") \
        if verdict.expires is not None else None
    ref = PassRef(verdict.pass_id, verdict.kind, verdict.kid, verdict.digest, expires)
    return PassReading(ref, verdict.valid, verdict.reason, verdict.subject)


class PassReader:
    """Not thread-safe: the pipeline thread only."""

    def __init__(
        self,
        reader: CodeReader,
        verifier: Verifier,
        *,
        every_n_frames: int = 1,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader
        self.verifier = verifier
        self.every_n_frames = every_n_frames
        self._now = now
        self._monotonic_s = monotonic_s
        self._frames = 0
        self._cache: OrderedDict[str, tuple[PassReading, float]] = OrderedDict()
        self.codes_read = 0
        self.verified = 0

    def sightings(self, bgr: npt.NDArray[np.uint8]) -> list[Sighting]:
        """The verified codes of this RGB frame (empty on the frames in between)."""
        self._frames += 1
        if (self._frames - 1) % self.every_n_frames:
            return []
        codes = self.reader.read(bgr)
        out: list[Sighting] = []
        for i, text in enumerate(codes.texts):  # per code in view: one or two
            if not codes.valid[i]:
                continue
            self.codes_read += 1
            box = codes.boxes[i]
            out.append(Sighting(self._reading(text),
                                (float(box[0]), float(box[1]), float(box[2]), float(box[3]))))
        return out

    def _reading(self, text: str) -> PassReading:
        now_s = self._monotonic_s()
        cached = self._cache.get(text)
        if cached is not None and now_s - cached[1] <= CACHE_S:
            self._cache.move_to_end(text)
            return cached[0]
        reading = reading_of(self.verifier.verify(text, self._now()))
        self.verified += 1
        self._cache[text] = (reading, now_s)
        self._cache.move_to_end(text)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return reading
