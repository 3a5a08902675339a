"""edge.pipeline.recognition: embeds only the faces asked for, matches against the gallery in
force, reports quarantine by the gate's clock, and refuses a gallery of another model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pytest

from edge.core.identity import SubjectStatus
from edge.identity.gallery import Gallery
from edge.pipeline.recognition import ListView, Recognition, SubjectInfo

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
F32 = npt.NDArray[np.float32]


class FakeEmbedder:
    """The descriptor of face i is its landmark (0, 0) x coordinate times a unit vector:
    lets a test place each face's descriptor where it wants."""

    model_id = "fake:1"

    def __init__(self) -> None:
        self.batches: list[int] = []

    def embed(self, bgr: npt.NDArray[np.uint8], landmarks: F32) -> F32:
        self.batches.append(landmarks.shape[0])
        out = np.zeros((landmarks.shape[0], 4), np.float32)
        out[:, 0] = landmarks[:, 0, 0]
        return out


def _gallery(model_id: str = "fake:1") -> Gallery:
    templates = np.zeros((3, 4), np.float32)
    templates[:, 0] = [0.0, 1.0, 1.1]  # ann at 0; bob twice, at 1.0 and 1.1
    return Gallery(["ann", "bob"], np.array([0, 1, 1], np.int32), templates, model_id)


def _recognition(now: datetime = NOW) -> tuple[Recognition, FakeEmbedder]:
    subjects = {
        "ann": SubjectInfo("resident", quarantine_until=NOW + timedelta(days=3)),
        "bob": SubjectInfo("worker", health="yellow"),
    }
    emb = FakeEmbedder()
    rec = Recognition(emb, ListView(_gallery(), subjects, 7),
                      quality=lambda lm, boxes: np.ones(len(lm), np.float32),
                      now=lambda: now)
    return rec, emb


def test_only_the_faces_asked_for_are_embedded_in_one_batch() -> None:
    rec, emb = _recognition()
    landmarks = np.zeros((3, 5, 2), np.float32)
    landmarks[:, 0, 0] = [0.1, 5.0, 1.04]
    identify = rec.identify_for(np.zeros((4, 4, 3), np.uint8), landmarks)
    names, distances, descriptors = identify(np.array([0, 2], np.intp))
    assert descriptors.shape == (2, 4)
    assert emb.batches == [2]
    assert names == ["ann", "bob"]
    assert distances.dtype == np.float32
    np.testing.assert_allclose(distances, [0.1, 0.04], atol=1e-5)


def test_quarantine_is_in_force_until_its_end_by_the_gates_clock() -> None:
    rec, _ = _recognition()
    assert rec.lookup("ann") == SubjectStatus("resident", quarantined=True, health=None)
    assert rec.lookup("bob") == SubjectStatus("worker", quarantined=False, health="yellow")
    assert rec.lookup("eve") is None
    later, _ = _recognition(now=NOW + timedelta(days=3))
    assert later.lookup("ann") == SubjectStatus("resident", quarantined=False, health=None)


def test_an_empty_gallery_recognises_nobody() -> None:
    rec, _ = _recognition()
    rec.reload(ListView(Gallery.empty("fake:1", dim=4), {}, 8))
    names, distances, _ = rec.identify_for(np.zeros((4, 4, 3), np.uint8),
                                        np.zeros((1, 5, 2), np.float32))(np.array([0]))
    assert names == [None] and np.isinf(distances[0])
    assert rec.lists.version == 8


def test_a_gallery_of_another_model_is_refused_and_the_old_one_stays() -> None:
    rec, _ = _recognition()
    with pytest.raises(ValueError, match="re-enrol"):
        rec.reload(ListView(_gallery("other:2"), {}, 9))
    assert rec.lists.version == 7
