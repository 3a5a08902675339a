"""Per-track evidence accumulated over frames, one accumulator per kind of evidence.

Temperature and identity (the nearest subjects of a track's best frames); passes come next, each
as its own accumulator keyed by track id, so the tracker stays geometry-only and `decide`
stays pure.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class TemperatureSamples:
    """Each track's reference- and site-corrected skin readings, in frame order, the room
    temperature measured with each (NaN: not known), and whether the reference was stable at
    the latest one."""

    def __init__(self) -> None:
        self._skin_c: dict[int, list[float]] = {}
        self._face_w: dict[int, list[float]] = {}
        self._room_c: dict[int, list[float]] = {}
        self._reference_ok: dict[int, bool] = {}
        self._t_ns: dict[int, list[int]] = {}  # frame t_ns of each sample (when given)

    def add(
        self,
        track_ids: npt.NDArray[np.int64],
        skin_c: npt.NDArray[np.float32],
        face_w: npt.NDArray[np.float32],
        reference_ok: bool,
        room_c: float | None = None,
        t_ns: int | None = None,
    ) -> None:
        """One frame's readings: (K,) track ids of the measured faces, their (K,) skin_c and
        (K,) face widths (the person's distance); `room_c` the frame's room temperature,
        `t_ns` the frame's time (kept with each sample)."""
        room = float("nan") if room_c is None else float(room_c)
        rows = zip(track_ids.tolist(), skin_c.tolist(), face_w.tolist(), strict=True)
        for tid, value, width in rows:  # per measured face, a handful
            if t_ns is not None:
                self._t_ns.setdefault(tid, []).append(t_ns)
            self._skin_c.setdefault(tid, []).append(float(value))
            self._face_w.setdefault(tid, []).append(float(width))
            self._room_c.setdefault(tid, []).append(room)
            self._reference_ok[tid] = reference_ok

    def skin_c(self, track_id: int) -> tuple[float, ...]:
        return tuple(self._skin_c.get(track_id, ()))

    def face_w(self, track_id: int) -> tuple[float, ...]:
        return tuple(self._face_w.get(track_id, ()))

    def room_c(self, track_id: int) -> tuple[float, ...]:
        return tuple(self._room_c.get(track_id, ()))

    def reference_ok(self, track_id: int) -> bool:
        return self._reference_ok.get(track_id, False)

    def count(self, track_id: int) -> int:
        return len(self._skin_c.get(track_id, ()))

    def sample_t_ns(self, track_id: int) -> tuple[int, ...]:
        """Frame t_ns of each sample (empty when frames came without a time)."""
        return tuple(self._t_ns.get(track_id, ()))

    def first_t_ns(self, track_id: int) -> int | None:
        """Frame t_ns of the track's first sample: when the person first was measurable."""
        times = self._t_ns.get(track_id)
        return times[0] if times else None

    def drop(self, track_id: int) -> None:
        """Forget a track that ended (its decision, if any, has been made)."""
        self._t_ns.pop(track_id, None)
        self._skin_c.pop(track_id, None)
        self._face_w.pop(track_id, None)
        self._room_c.pop(track_id, None)
        self._reference_ok.pop(track_id, None)


class IdentitySamples:
    """Each track's recognised frames, the best `keep` by face quality: (nearest subject,
    distance, quality). Bounds the embedder's work: a track asks for a frame only while it
    holds fewer than `keep`, or when a face is clearly better than its worst kept one (a
    person walking up is sharpest and largest last), at most `max_embeds` times in all."""

    IMPROVE = 1.25  # a kept frame is replaced by one at least this much better

    def __init__(self, keep: int, max_embeds: int | None = None) -> None:
        self._keep = keep
        self._max_embeds = max_embeds if max_embeds is not None else 3 * keep
        self._samples: dict[int, list[tuple[str | None, float, float]]] = {}
        self._descriptors: dict[int, list[tuple[float, npt.NDArray[np.float32]]]] = {}
        self._embeds: dict[int, int] = {}

    def wanted(
        self,
        track_ids: npt.NDArray[np.int64],
        quality: npt.NDArray[np.float32],
        eligible: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.bool_]:
        """(N,) which of this frame's faces to embed: eligible ones whose track needs them."""
        want = np.zeros(track_ids.shape[0], dtype=bool)
        for i in np.flatnonzero(eligible).tolist():  # per face in view, a handful
            tid = int(track_ids[i])
            kept = self._samples.get(tid, [])
            if self._embeds.get(tid, 0) >= self._max_embeds:
                continue
            worst = min((q for _, _, q in kept), default=0.0)
            want[i] = len(kept) < self._keep or float(quality[i]) >= self.IMPROVE * worst
        return want

    def add(
        self,
        track_ids: npt.NDArray[np.int64],
        subjects: list[str | None],
        distances: npt.NDArray[np.float32],
        quality: npt.NDArray[np.float32],
        descriptors: npt.NDArray[np.float32] | None = None,
    ) -> None:
        """The embedded faces of one frame: (K,) track ids, nearest subjects, distances and
        qualities, and their (K, D) descriptors, in the same order."""
        rows = zip(track_ids.tolist(), subjects, distances.tolist(), quality.tolist(), strict=True)
        for i, (tid, subject, dist, q) in enumerate(rows):
            kept = self._samples.setdefault(tid, [])
            kept.append((subject, float(dist), float(q)))
            kept.sort(key=lambda s: -s[2])
            del kept[self._keep :]
            if descriptors is not None:
                best = self._descriptors.setdefault(tid, [])
                best.append((float(q), descriptors[i]))
                best.sort(key=lambda s: -s[0])
                del best[self._keep :]
            self._embeds[tid] = self._embeds.get(tid, 0) + 1

    def samples(self, track_id: int) -> list[tuple[str | None, float]]:
        return [(s, d) for s, d, _ in self._samples.get(track_id, [])]

    def descriptors(self, track_id: int) -> npt.NDArray[np.float32] | None:
        """(K, D) descriptors of the track's best frames, None when none were kept."""
        best = self._descriptors.get(track_id)
        return np.stack([d for _, d in best]) if best else None

    def count(self, track_id: int) -> int:
        return len(self._samples.get(track_id, ()))

    def drop(self, track_id: int) -> None:
        self._samples.pop(track_id, None)
        self._descriptors.pop(track_id, None)
        self._embeds.pop(track_id, None)
