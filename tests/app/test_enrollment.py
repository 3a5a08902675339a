"""Enrolment (edge.app.enrollment) with the real models and photos: refusals (no face, several
faces, too small; each one line naming the photo, nothing written), templates in the store
under the embedder's model id, and the list store built from an enrolment plan."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.app.enrollment import (
    CHIP_EYE_PX,
    MIN_EYE_DISTANCE_PX,
    build_lists,
    enroll_photos,
    read_photo,
)
from edge.errors import ConfigError
from edge.identity.store import ListStore
from edge.vision.embedder import FaceEmbedder
from edge.vision.landmarks import FaceAnalyzer
from tests.shared import shared_data_dir


@pytest.fixture(scope="module")
def models(models_ready: None) -> tuple[FaceAnalyzer, FaceEmbedder]:
    return FaceAnalyzer(threads=1), FaceEmbedder(threads=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ListStore]:
    with ListStore.open(tmp_path / "lists") as opened:
        yield opened


def _faces() -> Path:
    return shared_data_dir("faces")


def _enroll(store: ListStore, models: tuple[FaceAnalyzer, FaceEmbedder],
            photos: list[Path]) -> object:
    analyzer, embedder = models
    return enroll_photos(store, "resident-0001", "resident", photos, analyzer=analyzer,
                         embedder=embedder)


def _refused(store: ListStore, models: tuple[FaceAnalyzer, FaceEmbedder], photos: list[Path],
             bad: Path) -> str:
    before = store.version
    with pytest.raises(ConfigError) as caught:
        _enroll(store, models, photos)
    message = str(caught.value)
    assert message.startswith(f"{bad}: ") and "\n" not in message
    assert message.endswith("; nothing enrolled")
    assert store.subjects() == [] and store.version == before, "nothing written"
    return message


def test_the_minimum_is_the_chips_eye_distance() -> None:
    assert 50 <= CHIP_EYE_PX <= 60  # dlib's chip: about a third of its 150 px
    assert np.floor(CHIP_EYE_PX) == MIN_EYE_DISTANCE_PX


def test_a_blank_image_has_no_face(tmp_path: Path, store: ListStore,
                                   models: tuple[FaceAnalyzer, FaceEmbedder]) -> None:
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((480, 640, 3), 128, np.uint8))
    message = _refused(store, models, [_faces() / "img5.jpg", blank], blank)
    assert "no face found" in message


def test_a_couple_is_several_faces(store: ListStore,
                                   models: tuple[FaceAnalyzer, FaceEmbedder]) -> None:
    couple = _faces() / "couple.jpg"
    assert "2 faces found; enrol from a photo of this person alone" in _refused(
        store, models, [couple], couple)


def test_a_downscaled_face_is_too_small(tmp_path: Path, store: ListStore,
                                        models: tuple[FaceAnalyzer, FaceEmbedder]) -> None:
    image = read_photo(_faces() / "img22.jpg")  # eyes ~133 px apart
    small = tmp_path / "small.jpg"
    cv2.imwrite(str(small), cv2.resize(image, None, fx=0.25, fy=0.25,
                                       interpolation=cv2.INTER_AREA))
    message = _refused(store, models, [small], small)
    assert re.search(r"face too small: eyes 3[0-6] px apart", message), message
    assert f"at least {MIN_EYE_DISTANCE_PX:.0f} px needed" in message


def test_missing_and_unreadable_photos(tmp_path: Path, store: ListStore,
                                       models: tuple[FaceAnalyzer, FaceEmbedder]) -> None:
    missing = tmp_path / "missing.jpg"
    assert "no such file" in _refused(store, models, [missing], missing)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a jpeg")
    assert "not an image" in _refused(store, models, [junk], junk)


def test_templates_go_into_the_store_with_the_model_id(
        store: ListStore, models: tuple[FaceAnalyzer, FaceEmbedder]) -> None:
    analyzer, embedder = models
    photos = [_faces() / "img5.jpg", _faces() / "img6.jpg"]  # identity A
    result = enroll_photos(store, "resident-0001", "resident", photos, analyzer=analyzer,
                           embedder=embedder)
    assert result.templates == 2 and result.model_id == embedder.model_id
    assert [f.photo for f in result.faces] == photos
    assert all(f.eye_px >= MIN_EYE_DISTANCE_PX for f in result.faces)
    held = store.templates("resident-0001")[embedder.model_id]
    assert held.shape == (2, 128) and held.dtype == np.float32
    # A third photo of A is nearer to A's templates than a photo of somebody else (B).
    probes = []
    for name in ("img2.jpg", "img27.jpg"):
        image = read_photo(_faces() / name)
        probes.append(embedder.embed(image, analyzer.analyze(image).landmarks[:1])[0])
    same, other = (float(np.linalg.norm(held - p, axis=1).min()) for p in probes)
    assert same < 0.5 < other
    again = enroll_photos(store, "resident-0001", "resident", photos[:1], analyzer=analyzer,
                          embedder=embedder)
    assert again.templates == 3 and again.list_version == result.list_version + 1


def test_build_lists_from_a_plan_and_rebuild(tmp_path: Path,
                                             models: tuple[FaceAnalyzer, FaceEmbedder]) -> None:
    analyzer, embedder = models
    faces = _faces()
    plan = tmp_path / "enroll.json"
    plan.write_text(json.dumps({"subjects": [
        {"id": "resident-0001", "kind": "resident", "quarantine_until": None,
         "photos": [str(faces / "img5.jpg"), str(faces / "img6.jpg")]},
        {"id": "resident-0002", "kind": "resident", "quarantine_until": "2099-12-31T23:59:59Z",
         "photos": [str(faces / "img28.jpg")]},
    ]}))
    lists = tmp_path / "lists"
    for _ in range(2):  # a second build replaces, it does not add
        built = build_lists(plan, lists, analyzer=analyzer, embedder=embedder)
        assert (built.subjects, built.templates, built.model_id) == (2, 3, embedder.model_id)
    with ListStore.open(lists, create=False) as store:
        subjects = {s.id: s for s in store.subjects()}
        assert subjects["resident-0001"].quarantine_until is None
        until = subjects["resident-0002"].quarantine_until
        assert until is not None and until.year == 2099
        assert store.counts()["templates"] == 3


def test_a_bad_plan_is_one_line(tmp_path: Path) -> None:
    plan = tmp_path / "enroll.json"
    plan.write_text('{"subjects": [{"id": 7}]}')
    with pytest.raises(ConfigError, match="not an enrolment plan"):
        build_lists(plan, tmp_path / "lists")
    plan.write_text("{")
    with pytest.raises(ConfigError, match="unreadable enrolment plan"):
        build_lists(plan, tmp_path / "lists")
