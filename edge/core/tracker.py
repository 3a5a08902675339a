"""Following detections across frames: one track per person, with a predicted position.

Tracks follow every detection, measurable or not, so a person walking away (shrinking below
the measurable size) keeps the track they were measured on instead of coming back as a new
person with a second event. The tracker knows geometry only; what a track has measured or
decided lives in `edge.core.evidence`.

Each track carries a constant-velocity estimate of its box (x, y, w, h per second), so a
detection is matched against where the track should be now, not where it was last seen.
That keeps fast approaches matched, and lets a detector run only every Nth frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.core.detections import iou_matrix

Box = tuple[int, int, int, int]
_NS_PER_S = 1e9


@dataclass(frozen=True, slots=True)
class TrackerParams:
    max_misses: int = 4  # frames without a detection before a track ends
    min_iou: float = 0.1
    max_centre: float = 0.8  # centre distance, in units of the larger box width
    # Velocity smoothing: weight of the newest box-to-box velocity (1 = no smoothing).
    velocity_gain: float = 0.5
    # Never extrapolate further than this: a lost person is not a moving target.
    max_predict_s: float = 0.5


@dataclass(slots=True)
class Track:
    """box: (4,) float64 x, y, w, h at `last_t_ns`; velocity: (4,) float64 per second."""

    track_id: int
    box: npt.NDArray[np.float64]
    last_t_ns: int
    misses: int = 0
    velocity: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(4))
    hits: int = 1

    def predict(self, t_ns: int, max_predict_s: float) -> npt.NDArray[np.float64]:
        """(4,) box expected at `t_ns` (size kept at least one pixel)."""
        dt_s = min(max(t_ns - self.last_t_ns, 0) / _NS_PER_S, max_predict_s)
        box = self.box + self.velocity * dt_s
        box[2:] = np.maximum(box[2:], 1.0)
        return box

    def int_box(self) -> Box:
        x, y, w, h = (int(v) for v in np.rint(self.box))
        return x, y, w, h


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """What one frame did to the tracks.

    track_ids: (M,) int64, the track id of each of the frame's M detections.
    ended: tracks that ended this frame (not seen for more than `max_misses` frames).
    covering: for each ended track id, the live tracks whose box covers the ended track's
        centre (a person whose blob merged into another, see `edge.core.evidence`).
    """

    track_ids: npt.NDArray[np.int64]
    ended: list[Track]
    covering: dict[int, list[int]]


def centre_distance(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(N, M) centre distance in units of the larger box width: survives fast approach,
    where a face grows so quickly between 9 fps frames that IoU drops to nothing."""
    a64 = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b64 = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ac = a64[:, :2] + a64[:, 2:] / 2.0
    bc = b64[:, :2] + b64[:, 2:] / 2.0
    d = np.linalg.norm(ac[:, None, :] - bc[None, :, :], axis=2)
    return np.asarray(d / np.maximum(a64[:, None, 2], b64[None, :, 2]), dtype=np.float64)


class Tracker:
    def __init__(self, params: TrackerParams | None = None) -> None:
        self.params = params or TrackerParams()
        self.tracks: list[Track] = []
        self._next_id = 1

    def predicted(self, t_ns: int) -> npt.NDArray[np.float64]:
        """(T, 4) predicted boxes of every live track at `t_ns`."""
        if not self.tracks:
            return np.zeros((0, 4))
        return np.stack([t.predict(t_ns, self.params.max_predict_s) for t in self.tracks])

    def _assign(self, boxes: npt.NDArray[np.float64], t_ns: int) -> list[int]:
        """Track index for each box (-1 = new). Greedy by score: with a handful of people
        in view it equals the optimum."""
        assigned = [-1] * len(boxes)
        if not self.tracks or not len(boxes):
            return assigned
        prev = self.predicted(t_ns)
        iou = iou_matrix(prev, boxes)
        dist = centre_distance(prev, boxes)
        p = self.params
        score = np.where((iou >= p.min_iou) | (dist <= p.max_centre), iou - dist, -np.inf)
        while np.isfinite(score).any():
            ti, bi = divmod(int(np.argmax(score)), score.shape[1])
            assigned[bi] = ti
            score[ti, :] = -np.inf
            score[:, bi] = -np.inf
        return assigned

    def _observe(self, track: Track, box: npt.NDArray[np.float64], t_ns: int) -> None:
        dt_s = (t_ns - track.last_t_ns) / _NS_PER_S
        if dt_s > 0:
            g = self.params.velocity_gain if track.hits > 1 else 1.0
            track.velocity = (1 - g) * track.velocity + g * (box - track.box) / dt_s
        track.box, track.last_t_ns, track.misses = box, t_ns, 0
        track.hits += 1

    def update(self, boxes: npt.ArrayLike, t_ns: int) -> TrackUpdate:
        """Match this frame's (M, 4) x, y, w, h boxes to tracks."""
        b64 = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        assigned = self._assign(b64, t_ns)
        matched = set(assigned)
        ids = np.empty(len(b64), dtype=np.int64)
        for bi, ti in enumerate(assigned):  # per detection (a handful), not per pixel
            if ti >= 0:
                track = self.tracks[ti]
                self._observe(track, b64[bi].copy(), t_ns)
            else:
                track = self._new(b64[bi].copy(), t_ns)
            ids[bi] = track.track_id
        for ti, track in enumerate(self.tracks):
            if ti not in matched and track.last_t_ns != t_ns:
                track.misses += 1
        ended = [t for t in self.tracks if t.misses > self.params.max_misses]
        self.tracks = [t for t in self.tracks if t.misses <= self.params.max_misses]
        return TrackUpdate(ids, ended, {t.track_id: self._covering(t) for t in ended})

    def _new(self, box: npt.NDArray[np.float64], t_ns: int) -> Track:
        track = Track(self._next_id, box, t_ns)
        self._next_id += 1
        self.tracks.append(track)
        return track

    def _covering(self, gone: Track) -> list[int]:
        """Live tracks whose box covers the centre of the ended track's last box."""
        cx = gone.box[0] + gone.box[2] / 2
        cy = gone.box[1] + gone.box[3] / 2
        return [
            t.track_id
            for t in self.tracks
            if t.box[0] <= cx <= t.box[0] + t.box[2] and t.box[1] <= cy <= t.box[1] + t.box[3]
        ]

    def add(self, boxes: list[Box], t_ns: int) -> list[int]:
        """Tracks for known people (after a restart); returns their ids."""
        return [self._new(np.asarray(b, dtype=np.float64), t_ns).track_id for b in boxes]

    def drain(self) -> list[Track]:
        """End every track (end of footage)."""
        ended, self.tracks = self.tracks, []
        return ended
