"""The gallery: every face template of one embedding model as one (M, D) float32 matrix.

A query batch (K, D) is matched with one matrix product through the squared-distance
expansion |q - t|^2 = |q|^2 - 2 q.t + |t|^2: the template norms are computed once when the
gallery is built, the product is one BLAS call over all M rows, and the arg-min runs on the
(K, M) scores. |q|^2 does not change the arg-min, so it is added only to the K winners.
Rounding can make a tiny squared distance negative; it is clamped to 0 before the sqrt.

A subject may have several templates (rows); the nearest row names the subject. Deciding
whether that subject is close enough is the caller's threshold, not the gallery's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Gallery", "Match"]


@dataclass(frozen=True, slots=True)
class Match:
    """A recognised subject and its Euclidean distance in embedding space."""

    subject: str
    distance: float


class Gallery:
    """Immutable once built: a rebuilt gallery replaces the old object (no locking needed)."""

    __slots__ = ("_norms", "_row_subject", "_subjects", "_templates", "model_id")

    def __init__(self, subjects: Sequence[str], row_subject: NDArray[np.int32],
                 templates: NDArray[np.float32], model_id: str) -> None:
        if not isinstance(templates, np.ndarray) or templates.ndim != 2:
            raise ValueError(f"templates must be a 2-D (M, D) array, got {_shape(templates)}")
        if templates.dtype != np.float32:
            raise ValueError(f"templates must be float32, got {templates.dtype}")
        if templates.shape[1] < 1:
            raise ValueError("templates must have at least one column (D >= 1)")
        if not isinstance(row_subject, np.ndarray) or row_subject.shape != templates.shape[:1]:
            raise ValueError(f"row_subject must have shape ({templates.shape[0]},) like the "
                             f"templates' rows, got {_shape(row_subject)}")
        if row_subject.dtype != np.int32:
            raise ValueError(f"row_subject must be int32, got {row_subject.dtype}")
        names = tuple(subjects)
        if len(set(names)) != len(names):
            raise ValueError("subjects must be unique")
        if row_subject.size and (row_subject.min() < 0 or row_subject.max() >= len(names)):
            raise ValueError(f"row_subject values must index subjects (0..{len(names) - 1})")
        if not np.isfinite(templates).all():
            raise ValueError("templates must be finite (no NaN or infinity)")
        self._subjects = names
        self._templates = np.array(templates, dtype=np.float32, order="C")  # a private copy
        self._templates.flags.writeable = False
        self._row_subject = row_subject.copy()
        self._norms = np.einsum("ij,ij->i", self._templates, self._templates)
        self.model_id = model_id

    @classmethod
    def empty(cls, model_id: str = "", dim: int = 128) -> Gallery:
        return cls((), np.zeros(0, np.int32), np.zeros((0, dim), np.float32), model_id)

    @property
    def size(self) -> int:
        """M, the number of templates (rows)."""
        return int(self._templates.shape[0])

    @property
    def dim(self) -> int:
        """D, the embedding length."""
        return int(self._templates.shape[1])

    @property
    def subjects(self) -> tuple[str, ...]:
        return self._subjects

    def subject(self, index: int) -> str:
        """The id of subject `index` (from `nearest`); -1 (no match) is an IndexError, never
        the last subject."""
        if not 0 <= index < len(self._subjects):
            raise IndexError(f"subject index {index} is not in 0..{len(self._subjects) - 1}")
        return self._subjects[index]

    def nearest(
        self, queries: NDArray[np.float32]
    ) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """For each of the K queries (K, D): the subject index of the nearest template (-1
        when the gallery is empty) and the Euclidean distance to it (inf when empty)."""
        if not isinstance(queries, np.ndarray) or queries.ndim != 2:
            raise ValueError(f"queries must be a 2-D (K, D) array, got {_shape(queries)}")
        if queries.dtype != np.float32:
            raise ValueError(f"queries must be float32, got {queries.dtype}")
        if queries.shape[1] != self.dim:
            raise ValueError(f"queries have D={queries.shape[1]} but the gallery of model "
                             f"{self.model_id!r} holds D={self.dim} templates")
        k = queries.shape[0]
        if self.size == 0 or k == 0:
            return np.full(k, -1, np.int32), np.full(k, np.inf, np.float32)
        # (K, M) scores |t|^2 - 2 q.t: one product; |q|^2 is added to the K winners only.
        scores = queries @ self._templates.T
        scores *= -2.0
        scores += self._norms
        rows = np.argmin(scores, axis=1)
        best = scores[np.arange(k), rows] + np.einsum("ij,ij->i", queries, queries)
        distance = np.sqrt(np.maximum(best, 0.0)).astype(np.float32, copy=False)
        return self._row_subject[rows], distance

    def distances_to(
        self, queries: NDArray[np.float32], subject: str
    ) -> NDArray[np.float32] | None:
        """(K,) distance from each query (K, D) to the subject's nearest template; None when
        the subject has no template (not listed, or listed without a face)."""
        try:
            index = self._subjects.index(subject)
        except ValueError:
            return None
        rows = self._templates[self._row_subject == index]
        if rows.shape[0] == 0:
            return None
        diff = queries[:, None, :] - rows[None, :, :]  # (K, T, D): T templates of one subject
        nearest: NDArray[np.float32] = np.sqrt(np.einsum("ktd,ktd->kt", diff, diff)).min(axis=1)
        return nearest.astype(np.float32, copy=False)

    def match(self, query: NDArray[np.float32]) -> Match | None:
        """The nearest subject of one (D,) query, or None when the gallery is empty."""
        index, distance = self.nearest(query.reshape(1, -1))
        if index[0] < 0:
            return None
        return Match(self._subjects[int(index[0])], float(distance[0]))


def _shape(value: object) -> str:
    shape = getattr(value, "shape", None)
    return f"shape {shape}" if shape is not None else type(value).__name__
