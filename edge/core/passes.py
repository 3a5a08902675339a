"""The pure pass core: a verified pass shown by a person -> one access decision.

The verifier (edge.identity.passes) decides what the pass alone says (signature, validity,
revocation, gate); this module adds what only the gate knows: who is showing it (the face),
and the holder's status in the lists (quarantine, health). No I/O, no clock.

Who showed a QR code: the person whose face is nearest to the code in the frame, within
`attribute_face_widths` face widths of centre distance (a pass is held beside the face,
at chest or chin height); a code with no face that near is held for `attribute_window_s`
and given to the first face that comes near it, else dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.core.identity import SubjectStatus
from edge.core.types import AccessType, Match, PassRef

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class PassReading:
    """A decoded and verified pass, as the core sees it.

    valid / reason: the verifier's verdict on the pass alone (reason: a denial reason of
    docs/mqtt.md, None when valid). holder: the compound pass's subject id (None for an EU
    DCC, which names a person but has no subject id).
    """

    ref: PassRef
    valid: bool
    reason: str | None
    holder: str | None


@dataclass(frozen=True, slots=True)
class PassParams:
    """Pass policy (config `[passes]`, docs/passes.md).

    holder_mismatch_distance: a holder with enrolled templates whose face at the gate is
        farther than this from them (median over the person's recognised frames) is
        "clearly not the holder". 0.6 is dlib's own same-person bound, above the
        recognition threshold: between the two the face is neither recognised as the holder
        nor clearly someone else, and the pass is not refused on the face alone.
    require_listed_holder: a compound pass whose holder is not in the lists is refused
        (`unknown_subject`): the backend lists every holder so quarantine and health apply.
    accept_dcc: EU Digital COVID Certificates admit (they carry no subject id, so only the
        pass itself is checked).
    """

    holder_mismatch_distance: float = 0.6
    require_listed_holder: bool = True
    accept_dcc: bool = True
    health_allowed: tuple[str, ...] = ("green",)
    attribute_face_widths: float = 3.0
    attribute_window_s: float = 3.0
    repeat_window_s: float = 60.0


def pass_decision(
    reading: PassReading,
    match: Match | None,
    holder_status: SubjectStatus | None,
    holder_distance: float | None,
    params: PassParams,
) -> tuple[AccessType, str | None]:
    """(`pass.granted`, None) or (`pass.denied`, reason) for a pass shown by a person.

    match: who the person was recognised as (None: nobody, or recognition off).
    holder_status: the pass holder's status in the lists now (None: not listed).
    holder_distance: median distance from the person's frames to the holder's templates
        (None: the holder has no templates, or no frame of the person was embedded).
    Order: the pass itself, then whether this is its holder, then the holder's status.
    """
    if not reading.valid:
        return "pass.denied", reading.reason or "unreadable"
    if reading.ref.kind == "dcc":
        return ("pass.granted", None) if params.accept_dcc else ("pass.denied", "bad_signature")
    holder = reading.holder
    if match is not None and holder is not None and match.subject != holder:
        return "pass.denied", "holder_mismatch"  # recognised as somebody else: a lent pass
    if holder_distance is not None and holder_distance > params.holder_mismatch_distance:
        return "pass.denied", "holder_mismatch"  # the holder is enrolled; this is not them
    if holder_status is None:
        if params.require_listed_holder:
            return "pass.denied", "unknown_subject"
        return "pass.granted", None
    if holder_status.quarantined:
        return "pass.denied", "quarantined"
    if holder_status.health is not None and holder_status.health not in params.health_allowed:
        return "pass.denied", "health_code"
    return "pass.granted", None


def attribute(
    code_boxes: F32, face_boxes: F32, max_face_widths: float
) -> npt.NDArray[np.intp]:
    """(K,) index of the face each QR code belongs to, -1 when none is near enough.

    code_boxes (K, 4), face_boxes (N, 4): x, y, w, h in the same pixels. Nearest face
    centre to code centre, in units of that face's width; one matrix of distances.
    """
    k = code_boxes.shape[0]
    if k == 0 or face_boxes.shape[0] == 0:
        return np.full(k, -1, np.intp)
    code_c = code_boxes[:, :2] + code_boxes[:, 2:] / 2
    face_c = face_boxes[:, :2] + face_boxes[:, 2:] / 2
    widths = np.maximum(face_boxes[:, 2], 1.0)
    dist = np.linalg.norm(code_c[:, None, :] - face_c[None, :, :], axis=2) / widths[None, :]
    nearest = np.argmin(dist, axis=1)
    near_enough = dist[np.arange(k), nearest] <= max_face_widths
    return np.where(near_enough, nearest, -1).astype(np.intp)


def median_distance(distances: Sequence[float]) -> float | None:
    return float(np.median(np.asarray(distances, np.float64))) if distances else None
