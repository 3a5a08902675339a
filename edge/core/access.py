"""Who each person is and what they may do: identity and passes per track, for Evidence.

Identity: each person's best recognised frames (edge.core.accumulators.IdentitySamples) are
voted once (edge.core.identity.identify), at the temperature decision when frames were
recognised by then, else once enough are, or when the person leaves. Its access events
(quarantine breach, admission by face) follow at that moment.

Passes: QR codes the pipeline read and verified arrive with their boxes; each is attributed
to the nearest face (edge.core.passes.attribute), or held a few seconds for a face to come
near. A person's pass is decided once their identity is (so a lent pass is caught), right away
when recognition is off, or when they leave; the same QR (by digest) decided again within
`repeat_window_s` is not a new decision, whoever shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from edge.core.accumulators import IdentitySamples
from edge.core.detections import FrameName
from edge.core.identity import IdentityParams, SubjectLookup, access_events, identify
from edge.core.passes import PassParams, PassReading, attribute, pass_decision
from edge.core.tracker import Track
from edge.core.types import AccessType, Decision, Match

F32 = npt.NDArray[np.float32]
# Recognition of some of a frame's faces: given their indices (K,) into the frame's
# detections, the nearest enrolled subject of each (None: empty gallery), the (K,) float32
# distances and the (K, D) descriptors. The pipeline binds it to its embedder and gallery.
Identify = Callable[[npt.NDArray[np.intp]], tuple[list[str | None], F32, F32]]
# Median distance from a person's descriptors (K, D) to a subject's templates; None when the
# subject has none.
HolderDistance = Callable[[F32, str], "float | None"]
NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Sighting:
    """A verified QR code seen in one frame: its box (x, y, w, h, frame pixels)."""

    reading: PassReading
    box: tuple[float, float, float, float]


@dataclass(slots=True)
class _Held:
    sighting: Sighting
    t_ns: int


@dataclass(slots=True)
class _PersonPasses:
    shown: list[PassReading] = field(default_factory=list)
    decided: set[str] = field(default_factory=set)  # digests


class AccessDesk:
    def __init__(self, identity: IdentityParams | None, passes: PassParams | None) -> None:
        self.identity = identity
        self.passes = passes
        self._faces = IdentitySamples(identity.samples if identity is not None else 1)
        self._identified: dict[int, Match | None] = {}  # None: a stranger
        self._pending: set[int] = set()  # identified, access events not yet out
        self._shown: dict[int, _PersonPasses] = {}
        self._held: list[_Held] = []
        self._recent: dict[str, int] = {}  # digest -> t_ns of its last decision
        # Bound by the pipeline: subjects' status now, and face-to-holder distances.
        self.lookup: SubjectLookup | None = None
        self.holder_distance: HolderDistance | None = None

    def __getstate__(self) -> dict[str, object]:
        """A crash checkpoint pickles Evidence: the lookups are bound to the pipeline's list
        store and embedder (not picklable, and not this process's after a restart); the
        pipeline binds them again before each frame."""
        state = {name: getattr(self, name) for name in self.__dict__}
        state["lookup"] = state["holder_distance"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)

    @property
    def recognition(self) -> bool:
        return self.identity is not None

    # -- per frame ----------------------------------------------------------------------------

    def observe(
        self,
        track_ids: npt.NDArray[np.int64],
        boxes: F32,
        t_ns: int,
        quality: F32 | None,
        identify_faces: Identify | None,
        sightings: Sequence[Sighting],
    ) -> None:
        """This frame's faces (their track ids and boxes), recognised where needed, and the
        QR codes read in it."""
        if self.identity is not None and identify_faces is not None and quality is not None:
            open_ids = np.asarray([t not in self._identified for t in track_ids.tolist()], bool)
            eligible = open_ids & (quality >= np.float32(self.identity.min_quality))
            idx = np.flatnonzero(self._faces.wanted(track_ids, quality, eligible))
            if idx.size:
                subjects, distances, descriptors = identify_faces(idx)
                self._faces.add(track_ids[idx], subjects, distances, quality[idx], descriptors)
        if self.passes is not None:
            self._attribute(track_ids, boxes, t_ns, sightings)

    def _attribute(self, track_ids: npt.NDArray[np.int64], boxes: F32, t_ns: int,
                   sightings: Sequence[Sighting]) -> None:
        assert self.passes is not None
        window_ns = int(self.passes.attribute_window_s * NS_PER_S)
        held = [h for h in self._held if t_ns - h.t_ns <= window_ns]
        held += [_Held(s, t_ns) for s in sightings]
        if not held:
            self._held = []
            return
        code_boxes = np.asarray([h.sighting.box for h in held], np.float32).reshape(-1, 4)
        owner = attribute(code_boxes, boxes, self.passes.attribute_face_widths)
        self._held = [h for h, o in zip(held, owner.tolist(), strict=True) if o < 0]
        for h, o in zip(held, owner.tolist(), strict=True):
            if o >= 0:
                person = self._shown.setdefault(int(track_ids[o]), _PersonPasses())
                digest = h.sighting.reading.ref.digest
                if all(r.ref.digest != digest for r in person.shown):
                    person.shown.append(h.sighting.reading)

    # -- decisions ------------------------------------------------------------------------------

    def with_match(self, decision: Decision, track_id: int) -> Decision:
        """A temperature decision carries the person's identity, decided now from the frames
        recognised so far (if any), so the match and the access events agree."""
        if self.identity is None:
            return decision
        if track_id not in self._identified and self._faces.count(track_id):
            self._decide_identity(track_id)
        return replace(decision, match=self._identified.get(track_id), recognition=True)

    def settle(self, track: Track, temperature_decided: bool, ending: bool,
               frame: FrameName) -> list[Decision]:
        """Access decisions this person completes now: identity events, then passes."""
        tid = track.track_id
        out: list[Decision] = []
        if self.identity is not None:
            count = self._faces.count(tid)
            enough = ending or (temperature_decided and count >= self.identity.samples)
            if tid not in self._identified and count and enough:
                self._decide_identity(tid)
            if tid in self._pending:
                self._pending.discard(tid)
                out += self._identity_events(track, frame)
        identity_known = self.identity is None or tid in self._identified or ending
        if tid in self._shown and identity_known:
            out += self._pass_events(track, frame)
        return out

    def _decide_identity(self, tid: int) -> None:
        assert self.identity is not None
        self._identified[tid] = identify(self._faces.samples(tid), self.identity.threshold)
        self._pending.add(tid)

    def _identity_events(self, track: Track, frame: FrameName) -> list[Decision]:
        assert self.identity is not None
        match = self._identified[track.track_id]
        status = self.lookup(match.subject) if match is not None and self.lookup else None
        policy = self.identity
        if track.track_id in self._shown:  # a pass decides admission, not the face
            policy = replace(policy, grant_residents_by_face=False)
        return [
            self._access(track, frame, kind, reason, match, match.subject if match else None)
            for kind, reason in access_events(match, status, policy)
        ]

    def _pass_events(self, track: Track, frame: FrameName) -> list[Decision]:
        assert self.passes is not None
        tid = track.track_id
        person = self._shown[tid]
        match = self._identified.get(tid)
        out: list[Decision] = []
        repeat_ns = int(self.passes.repeat_window_s * NS_PER_S)
        for reading in person.shown:
            digest = reading.ref.digest
            if digest in person.decided:
                continue
            person.decided.add(digest)
            last = self._recent.get(digest)
            if last is not None and track.last_t_ns - last <= repeat_ns:
                continue  # the same QR again within the window: one decision
            self._remember(digest, track.last_t_ns, repeat_ns)
            holder = reading.holder
            status = self.lookup(holder) if holder is not None and self.lookup else None
            kind, reason = pass_decision(reading, match, status, self._holder_distance(tid, holder),
                                         self.passes)
            subject = holder if holder is not None else (match.subject if match else None)
            out.append(replace(self._access(track, frame, kind, reason, match, subject),
                               pass_ref=reading.ref))
        return out

    def _remember(self, digest: str, t_ns: int, repeat_ns: int) -> None:
        if len(self._recent) > 1024:  # forget what can no longer repeat
            self._recent = {d: t for d, t in self._recent.items() if t_ns - t <= repeat_ns}
        self._recent[digest] = t_ns

    def _holder_distance(self, tid: int, holder: str | None) -> float | None:
        descriptors = self._faces.descriptors(tid)
        if holder is None or descriptors is None or self.holder_distance is None:
            return None
        return self.holder_distance(descriptors, holder)

    def _access(self, track: Track, frame: FrameName, kind: AccessType, reason: str | None,
                match: Match | None, subject: str | None) -> Decision:
        return Decision(kind, track.last_t_ns, track.track_id, None, track.int_box(), frame,
                        match=match, recognition=self.recognition, subject=subject,
                        reason=reason)

    # -- track lifecycle ------------------------------------------------------------------------

    def hand_over(self, track_id: int, live_ids: Sequence[int]) -> None:
        """A person whose track merged into others keeps their identity (no second one)."""
        if track_id in self._identified:
            for live in live_ids:
                self._identified.setdefault(live, self._identified[track_id])

    def drop(self, track_id: int) -> None:
        self._faces.drop(track_id)
        self._identified.pop(track_id, None)
        self._pending.discard(track_id)
        self._shown.pop(track_id, None)

    def restore(self, track_ids: Sequence[int]) -> None:
        """After a restart: these people's identity went out before the crash."""
        self._identified.update(dict.fromkeys(track_ids))
