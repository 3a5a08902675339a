"""Enrolment: face templates from photos into a list store (`gate-edge enroll`, and the lists
`gate-edge synth` builds from a scene's enroll.json). The same code runs on the backend before
it pushes a store to its gates.

A photo enrols only when it shows exactly one face, large enough that the embedder's aligned
chip is made of the photo's own pixels (MIN_EYE_DISTANCE_PX: 54 px between the eye
centres); anything else is refused with one line naming the photo, and nothing is written:
every photo is checked and embedded first, then all templates go into the store in one edit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from edge.core.detections import Detections
from edge.errors import ConfigError
from edge.vision.align import CHIP_TEMPLATE
from edge.vision.types import LEFT_EYE, RIGHT_EYE

if TYPE_CHECKING:
    from edge.identity.store import ListStore

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

# The smallest eye-centre distance (photo pixels) a face must have to enrol: the embedder's
# own. It sees a 150 x 150 chip aligned on the landmarks (edge.vision.align) with the eye
# centres CHIP_EYE_PX (54.5) apart; a face whose eyes are closer is upscaled into the chip,
# and interpolated pixels carry nothing the photo did not. Measured on the 41 single-face
# photos of ../shared/data/faces downscaled (INTER_AREA) until their eyes are N px apart,
# the median distance of the template to the full-resolution one is 0.042 at 64 px, 0.055
# at 56, 0.067 at 48, 0.089 at 40, 0.120 at 32, 0.172 at 24 and 0.264 at 16 (p90 0.07,
# 0.07, 0.10, 0.12, 0.15, 0.20, 0.32), against a match threshold of 0.5: the loss grows at
# every step below the chip's size, and an enrolment template is paid for by every match
# the gate makes with it, so enrolment asks for a face the chip need not invent.
CHIP_EYE_PX = float(np.hypot(*(CHIP_TEMPLATE[RIGHT_EYE] - CHIP_TEMPLATE[LEFT_EYE])))
MIN_EYE_DISTANCE_PX = float(np.floor(CHIP_EYE_PX))
PLAN_FORMAT = "gate-edge-enroll-plan"


class FaceFinder(Protocol):
    """edge.vision.landmarks.FaceAnalyzer: faces with 5 landmarks."""

    def analyze(self, bgr: U8) -> Detections: ...


class Embedder(Protocol):
    """edge.vision.embedder.FaceEmbedder."""

    model_id: str

    def embed(self, bgr: U8, landmarks: F32) -> F32: ...


@dataclass(frozen=True)
class PhotoFace:
    """The one face of an accepted photo."""

    photo: Path
    eye_px: float  # eye-centre distance, photo pixels
    box: tuple[float, float, float, float]  # x, y, w, h


@dataclass(frozen=True)
class EnrollResult:
    subject_id: str
    kind: str
    model_id: str
    faces: tuple[PhotoFace, ...]  # one per photo, in the order given
    templates: int  # the subject's templates of model_id in the store now
    list_version: int  # the store's version after the edit


def _refuse(photo: Path, why: str) -> ConfigError:
    return ConfigError(f"{photo}: {why}; nothing enrolled")


def read_photo(photo: Path) -> U8:
    """The photo as (H, W, 3) uint8 BGR; ConfigError naming it when it cannot be read."""
    if not photo.is_file():
        raise _refuse(photo, "no such file")
    image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    if image is None:
        raise _refuse(photo, "not an image OpenCV can read (JPEG, PNG, ...)")
    return np.ascontiguousarray(image, dtype=np.uint8)


def check_face(photo: Path, faces: Detections) -> PhotoFace:
    """The photo's single face, or ConfigError (one line naming the photo) when it has none,
    several, or one too small for recognition."""
    n = len(faces.boxes)
    if n == 0:
        raise _refuse(photo, "no face found (a frontal, well-lit photo of one person)")
    if n > 1:
        raise _refuse(photo, f"{n} faces found; enrol from a photo of this person alone")
    eyes = faces.landmarks[0]
    eye_px = float(np.hypot(*(eyes[RIGHT_EYE] - eyes[LEFT_EYE])))
    if eye_px < MIN_EYE_DISTANCE_PX:
        raise _refuse(photo, f"face too small: eyes {eye_px:.0f} px apart, at least "
                             f"{MIN_EYE_DISTANCE_PX:.0f} px needed (a closer or larger photo)")
    x, y, w, h = (float(v) for v in faces.boxes[0])
    return PhotoFace(photo, eye_px, (x, y, w, h))


def enroll_photos(
    store: ListStore, subject_id: str, kind: str, photos: Sequence[Path], *,
    analyzer: FaceFinder, embedder: Embedder,
) -> EnrollResult:
    """One template per photo for `subject_id` (created with `kind` if new; templates add to
    the subject's existing ones). Every photo is checked and embedded before the store is
    touched: a refused photo (ConfigError) leaves the store as it was."""
    if not photos:
        raise ConfigError("no photo given: enrol from at least one photo")
    found: list[PhotoFace] = []
    templates: list[F32] = []
    for photo in photos:
        image = read_photo(Path(photo))
        faces = analyzer.analyze(image)
        found.append(check_face(Path(photo), faces))
        templates.append(embedder.embed(image, faces.landmarks[:1]))
    store.enroll(subject_id, kind, np.concatenate(templates).astype(np.float32),
                 embedder.model_id)
    held = store.templates(subject_id).get(embedder.model_id)
    return EnrollResult(subject_id, kind, embedder.model_id, tuple(found),
                        0 if held is None else len(held), store.version)


@dataclass(frozen=True)
class BuiltLists:
    lists: Path
    subjects: int
    templates: int
    model_id: str
    version: int


def read_plan(plan: Path) -> list[dict[str, Any]]:
    """enroll.json's subjects (docs/recording-format.md), ConfigError in one line if bad."""
    try:
        data = json.loads(plan.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{plan}: unreadable enrolment plan: {exc}") from None
    subjects = data.get("subjects") if isinstance(data, dict) else None
    if not isinstance(subjects, list) or not all(
            isinstance(s, dict) and isinstance(s.get("id"), str)
            and isinstance(s.get("photos"), list) for s in subjects):
        raise ConfigError(f"{plan}: not an enrolment plan ({{\"subjects\": [{{\"id\", \"kind\", "
                          "\"photos\", \"quarantine_until\"}]})")
    return subjects


def build_lists(
    plan: Path, lists: Path, *, analyzer: FaceFinder | None = None,
    embedder: Embedder | None = None,
) -> BuiltLists:
    """The list store `lists` for an enrolment plan: each subject enrolled from its photos
    (replacing what an earlier build put there), quarantines as planned. The models are
    loaded when not given (ModelError when the embedder is missing)."""
    from datetime import datetime

    from edge.identity.store import ListStore

    subjects = read_plan(plan)
    if embedder is None:
        from edge.vision.embedder import FaceEmbedder

        embedder = FaceEmbedder(threads=1)
    if analyzer is None:
        from edge.vision.landmarks import FaceAnalyzer

        analyzer = FaceAnalyzer(threads=1)
    templates = 0
    with ListStore.open(lists) as store:
        for s in subjects:
            if store.subject(s["id"]) is not None:
                store.remove_subject(s["id"])  # a rebuild: the plan is the truth
            result = enroll_photos(store, s["id"], str(s.get("kind", "resident")),
                                   [Path(p) for p in s["photos"]], analyzer=analyzer,
                                   embedder=embedder)
            templates += result.templates
            if s.get("quarantine_until"):
                until = datetime.fromisoformat(str(s["quarantine_until"]).replace("Z", "+00:00"))
                store.set_quarantine(s["id"], until)
        return BuiltLists(lists, len(subjects), templates, embedder.model_id, store.version)
