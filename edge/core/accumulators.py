"""Per-track evidence accumulated over frames, one accumulator per kind of evidence.

Temperature today; identity (embeddings of a track's best frames) and passes come next, each
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

    def add(
        self,
        track_ids: npt.NDArray[np.int64],
        skin_c: npt.NDArray[np.float32],
        face_w: npt.NDArray[np.float32],
        reference_ok: bool,
        room_c: float | None = None,
    ) -> None:
        """One frame's readings: (K,) track ids of the measured faces, their (K,) skin_c and
        (K,) face widths (the person's distance); `room_c` the frame's room temperature."""
        room = float("nan") if room_c is None else float(room_c)
        rows = zip(track_ids.tolist(), skin_c.tolist(), face_w.tolist(), strict=True)
        for tid, value, width in rows:  # per measured face, a handful
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

    def drop(self, track_id: int) -> None:
        """Forget a track that ended (its decision, if any, has been made)."""
        self._skin_c.pop(track_id, None)
        self._face_w.pop(track_id, None)
        self._room_c.pop(track_id, None)
        self._reference_ok.pop(track_id, None)
