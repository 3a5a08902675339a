"""IoU tracking of heads across frames, and each track's temperature evidence.

Tracks follow every head, measurable or not, so a person walking away (shrinking below
the measurable size) keeps the track they were measured on instead of coming back as a
new person with a second event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(slots=True)
class Track:
    track_id: int
    box: tuple[int, int, int, int]
    first_t_ns: int
    last_t_ns: int
    misses: int = 0
    decided: bool = False
    skin_c: list[float] = field(default_factory=list)  # reference-corrected readings
    reference_ok: list[bool] = field(default_factory=list)
    face_px: list[int] = field(default_factory=list)


def iou_matrix(a: npt.NDArray[np.int32], b: npt.NDArray[np.int32]) -> npt.NDArray[np.float64]:
    """(N, M) IoU between (N, 4) and (M, 4) x, y, w, h boxes."""
    ax0, ay0, aw, ah = (a[:, i, None].astype(np.float64) for i in range(4))
    bx0, by0, bw, bh = (b[None, :, i].astype(np.float64) for i in range(4))
    iw = np.clip(np.minimum(ax0 + aw, bx0 + bw) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay0 + ah, by0 + bh) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    return np.asarray(inter / np.maximum(aw * ah + bw * bh - inter, 1e-9), dtype=np.float64)


def centre_distance(a: npt.NDArray[np.int32], b: npt.NDArray[np.int32]) -> npt.NDArray[np.float64]:
    """(N, M) centre distance in units of the larger box width: survives fast approach,
    where a face grows so quickly between 9 fps frames that IoU drops to nothing."""
    ac = a[:, :2] + a[:, 2:] / 2.0
    bc = b[:, :2] + b[:, 2:] / 2.0
    d = np.linalg.norm(ac[:, None, :] - bc[None, :, :], axis=2)
    return np.asarray(d / np.maximum(a[:, None, 2], b[None, :, 2]), dtype=np.float64)


class Tracker:
    def __init__(self, max_misses: int = 4, min_iou: float = 0.1, max_centre: float = 0.8):
        self.max_misses = max_misses
        self.min_iou = min_iou
        self.max_centre = max_centre
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, boxes: npt.NDArray[np.int32], t_ns: int) -> tuple[list[int], list[Track]]:
        """Match this frame's (M, 4) boxes to tracks.

        Returns the track index (into self.tracks) for each box, and the tracks that ended.
        Greedy matching by score: with a handful of people in view it equals the optimum.
        """
        assigned = [-1] * len(boxes)
        if self.tracks and len(boxes):
            prev = np.array([t.box for t in self.tracks], dtype=np.int32)
            iou = iou_matrix(prev, boxes)
            dist = centre_distance(prev, boxes)
            score = np.where((iou >= self.min_iou) | (dist <= self.max_centre), iou - dist, -np.inf)
            while np.isfinite(score).any():
                flat = int(np.argmax(score))
                ti, bi = divmod(flat, score.shape[1])
                assigned[bi] = ti
                score[ti, :] = -np.inf
                score[:, bi] = -np.inf
        matched = set(assigned)
        for bi, ti in enumerate(assigned):
            box = (int(boxes[bi, 0]), int(boxes[bi, 1]), int(boxes[bi, 2]), int(boxes[bi, 3]))
            if ti >= 0:
                track = self.tracks[ti]
                track.box, track.last_t_ns, track.misses = box, t_ns, 0
            else:
                self.tracks.append(Track(self._next_id, box, t_ns, t_ns))
                self._next_id += 1
                assigned[bi] = len(self.tracks) - 1
        for ti, track in enumerate(self.tracks):
            if ti not in matched and track.last_t_ns != t_ns:
                track.misses += 1
        ended = [t for t in self.tracks if t.misses > self.max_misses]
        self._hand_over(ended)
        if ended:
            keep = [t for t in self.tracks if t.misses <= self.max_misses]
            # Indices shift when tracks are dropped; remap the assignment.
            index = {id(t): i for i, t in enumerate(keep)}
            assigned = [index[id(self.tracks[ti])] for ti in assigned]
            self.tracks = keep
        return assigned, ended

    def _hand_over(self, ended: list[Track]) -> None:
        """A decided person whose blob merges into another one (leaning in, turning to
        leave, a raised hand joining the face) must not come back as a new person: a live
        track covering the centre of a decided track that just ended is the same person."""
        for gone in (t for t in ended if t.decided):
            cx = gone.box[0] + gone.box[2] / 2
            cy = gone.box[1] + gone.box[3] / 2
            for live in self.tracks:
                x, y, w, h = live.box
                if live.misses <= self.max_misses and x <= cx <= x + w and y <= cy <= y + h:
                    live.decided = True

    def decided_boxes(self) -> list[tuple[int, int, int, int]]:
        """Boxes of people already decided and still in view (for a crash checkpoint)."""
        return [t.box for t in self.tracks if t.decided]

    def restore_decided(self, boxes: list[tuple[int, int, int, int]], t_ns: int) -> None:
        """After a restart: people decided before the crash stay decided if still in view."""
        for box in boxes:
            self.tracks.append(Track(self._next_id, box, t_ns, t_ns, decided=True))
            self._next_id += 1

    def drain(self) -> list[Track]:
        """End every track (end of footage)."""
        ended, self.tracks = self.tracks, []
        return ended
