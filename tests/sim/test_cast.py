"""Identity roles in RGB + thermal scenes (edge.sim.cast): role counts, the photo split (a
scene never shows a photo that enrolled its subject), strangers never enrolled, group photos
never cast, the expected identity events; then a real identity scene from ../shared/data/faces
(labels.json and enroll.json agree)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.errors import ConfigError
from edge.sim.cast import (
    QUARANTINED,
    RESIDENT,
    STRANGER,
    Member,
    cast,
    enroll_plan,
    expected_events,
)
from edge.sim.faces import HeadCrop
from edge.sim.rgb import RgbSceneSpec, synthesize_rgb
from tests.shared import shared_data_dir

UNTIL = "2099-12-31T23:59:59Z"


def _crop(name: str, identity: str, *, faces: int = 1, eye_px: float = 80.0) -> HeadCrop:
    return HeadCrop(name, identity, np.zeros((8, 8, 3), np.uint8), np.zeros((5, 2), np.float32),
                    (0.0, 0.0, 8.0, 8.0), (0, 0, 0), Path(f"/faces/{name}.jpg"), faces, eye_px)


def _library() -> list[HeadCrop]:
    """Identities A-F with 1 to 4 photos; a group photo; one photo too small to enrol."""
    crops = []
    for identity, n in zip("ABCDEF", (4, 3, 2, 2, 1, 1), strict=True):
        crops += [_crop(f"{identity.lower()}{k}", identity) for k in range(n)]
    crops.append(_crop("group", "group", faces=3))
    crops.append(_crop("c_small", "C", eye_px=20.0))
    return crops


def _counts(residents: int, quarantined: int, strangers: int) -> dict[str, int]:
    return {RESIDENT: residents, QUARANTINED: quarantined, STRANGER: strangers}


@pytest.mark.parametrize("seed", range(20))
def test_roles_and_photo_split(seed: int) -> None:
    crops = _library()
    result = cast(_counts(2, 1, 2), crops, 40.0, UNTIL, np.random.default_rng(seed))
    roles = [m.role for m in result.members]
    assert sorted(roles) == sorted([RESIDENT] * 2 + [QUARANTINED] + [STRANGER] * 2)
    identities = [m.identity for m in result.members]
    assert len(set(identities)) == len(identities), "every person is somebody else"
    assert "group" not in identities, "a group photo is never cast"
    enrolled = {m.identity for m in result.enrolled}
    for m in result.members:
        assert crops[m.crop].identity == m.identity
        if m.role == STRANGER:
            assert m.subject is None and m.enroll == () and m.identity not in enrolled
            continue
        assert m.enroll, "an enrolled subject has enrolment photos"
        assert m.crop not in m.enroll, "the scene never shows an enrolment photo"
        assert all(crops[e].identity == m.identity for e in m.enroll)
        assert all(crops[e].eye_px >= 40.0 and crops[e].faces_in_photo == 1 for e in m.enroll)
        others = {i for i, c in enumerate(crops) if c.identity == m.identity} - {m.crop}
        usable = {e for e in others if crops[e].eye_px >= 40.0}
        assert set(m.enroll) == usable, "every other usable photo enrols"
    assert [m.subject for m in result.enrolled] == ["resident-0001", "resident-0002",
                                                    "resident-0003"]


def test_a_too_small_photo_is_shown_rather_than_enrolled() -> None:
    """G has one usable photo and one too small to enrol: G can only be shown small."""
    crops = [_crop("a0", "A"), _crop("a1", "A"), _crop("g_small", "G", eye_px=20.0),
             _crop("g_big", "G")]
    for seed in range(10):
        result = cast(_counts(2, 0, 0), crops, 40.0, UNTIL, np.random.default_rng(seed))
        (g,) = [m for m in result.members if m.identity == "G"]
        assert crops[g.crop].subject == "g_small" and g.enroll == (3,)


def test_same_seed_same_cast_and_different_seeds_differ() -> None:
    crops = _library()
    runs = [cast(_counts(2, 1, 1), crops, 40.0, UNTIL, np.random.default_rng(s))
            for s in (5, 5, 6, 7, 8)]
    assert runs[0] == runs[1]
    assert len({r.members for r in runs[1:]}) > 1


@pytest.mark.parametrize(
    ("counts", "needle"),
    [
        (_counts(4, 1, 0), "need 5 identities with 2 or more usable photos"),
        (_counts(2, 1, 4), "and 7 identities in all"),
    ],
)
def test_too_few_identities_is_one_clear_line(counts: dict[str, int], needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        cast(counts, _library(), 40.0, UNTIL, np.random.default_rng(0))
    assert needle in str(caught.value) and "the faces folder has 4 and 6" in str(caught.value)


def test_expected_events() -> None:
    resident = Member(RESIDENT, "resident-0001", "A", 0, (1,))
    quarantined = Member(QUARANTINED, "resident-0002", "B", 4, (5,))
    stranger = Member(STRANGER, None, "E", 9, ())
    assert expected_events(resident, "screening", False) == ["screening"]
    assert expected_events(resident, "fever", True) == ["fever", "pass.granted"]
    assert expected_events(quarantined, "screening", False) == ["screening", "quarantine.breach"]
    assert expected_events(quarantined, "screening", True) == [
        "screening", "quarantine.breach", "pass.denied:quarantined"]
    assert expected_events(stranger, "fever", True) == ["fever"]


def test_enroll_plan_lists_photos_and_quarantine() -> None:
    crops = _library()
    result = cast(_counts(1, 1, 1), crops, 40.0, UNTIL, np.random.default_rng(3))
    plan = enroll_plan(result, crops)
    assert [s["id"] for s in plan["subjects"]] == ["resident-0001", "resident-0002"]
    for subject, member in zip(plan["subjects"], result.enrolled, strict=True):
        assert subject["kind"] == "resident"
        assert subject["photos"] == [f"/faces/{crops[e].subject}.jpg" for e in member.enroll]
        assert subject["scene_photo"] == f"{crops[member.crop].subject}.jpg"
        assert subject["scene_photo"] not in {Path(p).name for p in subject["photos"]}
        want = UNTIL if member.role == QUARANTINED else None
        assert subject["quarantine_until"] == want


def test_roles_must_add_up_to_people() -> None:
    with pytest.raises(ConfigError, match="people = 5 but residents"):
        RgbSceneSpec(people=5, residents=2, strangers=2)
    with pytest.raises(ConfigError, match="strangers"):
        RgbSceneSpec(people=1, residents=2, strangers=-1)
    assert not RgbSceneSpec().with_roles and RgbSceneSpec(people=1, strangers=1).with_roles


def test_identity_scene_from_real_photos(tmp_path: Path, models_ready: None) -> None:
    faces = shared_data_dir("faces")
    spec = RgbSceneSpec(people=6, residents=3, quarantined=1, strangers=2, faces_dir=faces,
                        seed=3, grant_by_face=True, enroll_min_eye_px=40.0)
    summary = synthesize_rgb(tmp_path / "scene", spec)
    labels = json.loads((tmp_path / "scene" / "labels.json").read_text())
    plan = json.loads((tmp_path / "scene" / "enroll.json").read_text())
    people = labels["people"]
    by_id = {s["id"]: s for s in plan["subjects"]}
    assert summary.enroll_plan == tmp_path / "scene" / "enroll.json"
    assert list(summary.enrolled) == list(by_id) and len(by_id) == 4
    assert sorted(p["role"] for p in people) == sorted(
        [RESIDENT] * 3 + [QUARANTINED] + [STRANGER] * 2)
    assert labels["identity"]["grant_residents_by_face"] is True
    for p in people:
        temperature = "fever" if p["fever"] else "screening"
        if p["role"] == STRANGER:
            assert p["subject"] is None and p["expect"] == [temperature]
            continue
        subject = by_id[p["subject"]]
        assert subject["role"] == p["role"] and subject["identity"] == p["identity"]
        assert subject["scene_photo"] == p["photo"] + ".jpg"
        assert p["photo"] + ".jpg" not in {Path(x).name for x in subject["photos"]}
        assert all(Path(x).is_file() for x in subject["photos"])
        extra = (["quarantine.breach", "pass.denied:quarantined"] if p["role"] == QUARANTINED
                 else ["pass.granted"])
        assert p["expect"] == [temperature, *extra]
    strangers = {p["identity"] for p in people if p["role"] == STRANGER}
    assert not strangers & {s["identity"] for s in plan["subjects"]}
