"""Identity roles for RGB + thermal scenes (edge.sim.rgb): who among the people walking up is an
enrolled resident, a resident under home quarantine, or a stranger, which library photo each
one shows, and which photos enrol the residents.

The split never shows an enrolment photo in the scene: a recogniser that matches the scene
face has matched a different photo of the same person, as at a real gate. For each enrolled
identity the scene photo is drawn at random (seeded) among its photos that leave at least one
enrolment photo; every other usable photo of the identity enrols it. A photo enrols only when
it shows exactly one face whose eye centres are at least `min_enroll_eye_px` apart (the CLI
passes enrolment's own minimum, so nothing the plan picks is refused later). Strangers are
identities never enrolled. Photos of several faces (group photos) are never cast: nobody
labelled who is in them. Every person is a different identity, so nobody can be recognised as
somebody else in the scene by construction.

Pure planning: no pipeline or identity-store convention; `enroll_plan` is plain JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edge.errors import ConfigError
from edge.sim.faces import HeadCrop

RESIDENT, QUARANTINED, STRANGER = "resident", "quarantined", "stranger"
VISITOR = "visitor"  # enrolled (kind visitor: a face to check a pass against), needs a pass
ROLES = (RESIDENT, QUARANTINED, STRANGER, VISITOR)
SUBJECT_FORMAT = "resident-{:04d}"  # like the examples of DESIGN section 9
VISITOR_FORMAT = "visitor-{:04d}"


@dataclass(frozen=True)
class Member:
    """One person of the scene, in order of appearance."""

    role: str  # RESIDENT, QUARANTINED or STRANGER
    subject: str | None  # enrolled subject id; None for a stranger
    identity: str  # identity group (identities.csv) of the photo shown
    crop: int  # library index of the photo shown in the scene
    enroll: tuple[int, ...]  # library indices of the enrolment photos (empty for a stranger)


@dataclass(frozen=True)
class Cast:
    members: tuple[Member, ...]
    quarantine_until: str  # ISO 8601 UTC end of the quarantined residents' home quarantine

    @property
    def enrolled(self) -> list[Member]:
        return [m for m in self.members if m.subject is not None]


def _enrollable(crop: HeadCrop, min_eye_px: float) -> bool:
    return crop.faces_in_photo == 1 and crop.eye_px >= min_eye_px


def _scene_choices(photos: list[int], crops: list[HeadCrop], min_eye_px: float) -> list[int]:
    """Photos that can be shown while the identity's other photos still enrol it."""
    return [s for s in photos
            if any(_enrollable(crops[e], min_eye_px) for e in photos if e != s)]


def cast(counts: dict[str, int], crops: list[HeadCrop], min_enroll_eye_px: float,
         quarantine_until: str, rng: np.random.Generator) -> Cast:
    """Members for `counts` (role -> how many), shuffled into an order of appearance.

    ConfigError (one line) when the library has too few identities for the roles."""
    by_who: dict[str, list[int]] = {}
    for i, crop in enumerate(crops):
        if crop.faces_in_photo == 1:
            by_who.setdefault(crop.identity, []).append(i)
    who = sorted(by_who)
    choices = {w: _scene_choices(by_who[w], crops, min_enroll_eye_px) for w in who}
    can_enrol = [w for w in who if choices[w]]
    visitors = counts.get(VISITOR, 0)
    n_enrol = counts[RESIDENT] + counts[QUARANTINED] + visitors
    n_people = n_enrol + counts[STRANGER]
    if n_enrol > len(can_enrol) or n_people > len(who):
        raise ConfigError(
            f"synth: {counts[RESIDENT]} residents + {counts[QUARANTINED]} quarantined + "
            + (f"{visitors} visitors + " if visitors else "")
            + f"{counts[STRANGER]} strangers need {n_enrol} identities with 2 or more usable "
            f"photos and {n_people} identities in all (every person is somebody else); the faces "
            f"folder has {len(can_enrol)} and {len(who)} (identities.csv groups photos)")
    enrolled = [can_enrol[int(i)] for i in rng.permutation(len(can_enrol))[:n_enrol]]
    rest = [w for w in who if w not in enrolled]
    strangers = [rest[int(i)] for i in rng.permutation(len(rest))[:counts[STRANGER]]]
    roles = ([RESIDENT] * counts[RESIDENT] + [QUARANTINED] * counts[QUARANTINED]
             + [VISITOR] * visitors)
    people: list[tuple[str, str]] = list(zip(roles, enrolled, strict=True))
    people += [(STRANGER, w) for w in strangers]
    members: list[Member] = []
    for k in rng.permutation(len(people)):
        role, identity = people[int(k)]
        if role == STRANGER:
            photos = by_who[identity]
            members.append(Member(role, None, identity, photos[int(rng.integers(len(photos)))], ()))
            continue
        options = choices[identity]
        shown = options[int(rng.integers(len(options)))]
        enrol = tuple(e for e in by_who[identity]
                      if e != shown and _enrollable(crops[e], min_enroll_eye_px))
        if role == VISITOR:
            subject = VISITOR_FORMAT.format(sum(m.role == VISITOR for m in members) + 1)
        else:
            subject = SUBJECT_FORMAT.format(
                sum(m.subject is not None and m.role != VISITOR for m in members) + 1)
        members.append(Member(role, subject, identity, shown, enrol))
    return Cast(tuple(members), quarantine_until)


def expected_events(member: Member, temperature: str, grant_by_face: bool) -> list[str]:
    """The events a member must cause: the temperature decision; a breach for a quarantined
    resident; where the site admits residents by face, a pass granted to a resident and
    refused to a quarantined one (`pass.denied:quarantined`). Strangers and visitors (who need
    a pass: edge.sim.passes adds its decision): nothing more."""
    events = [temperature]
    if member.role == QUARANTINED:
        events.append("quarantine.breach")
    if grant_by_face and member.role in (RESIDENT, QUARANTINED):
        events.append("pass.granted" if member.role == RESIDENT else "pass.denied:quarantined")
    return events


def enroll_plan(the_cast: Cast, crops: list[HeadCrop]) -> dict[str, Any]:
    """enroll.json: who to enrol from which photos (absolute paths), and the quarantines."""
    subjects = []
    for m in the_cast.enrolled:
        shown = crops[m.crop].photo
        subjects.append({
            "id": m.subject, "kind": VISITOR if m.role == VISITOR else "resident",
            "photos": [str(p.resolve()) for e in m.enroll if (p := crops[e].photo) is not None],
            "quarantine_until": the_cast.quarantine_until if m.role == QUARANTINED else None,
            "identity": m.identity, "role": m.role,
            "scene_photo": shown.name if shown is not None else None})
    return {"format": "gate-edge-enroll-plan", "version": 1, "subjects": subjects}
