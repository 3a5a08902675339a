"""List changes as plain values, and their JSON form in the `lists.*` command arguments.

The command schemas (pydantic, bounds) live in `edge.commands.lists`; this module turns the
arguments they validated (plain dicts, `model.model_dump()`) into `ListSnapshot` /
`ListUpdate`, and back (`subject_to_wire`, for the backend side and for staging snapshot
parts). It re-checks what decoding needs (types, base64, times, one length per template), so a
dict that did not come through the schema is refused with ValueError, never half-applied.

Wire format of a subject (docs/lists.md):

    {"id": "r-0042", "kind": "resident", "quarantine_until": "2026-12-14T00:00:00Z" | null,
     "health": "green" | "yellow" | "red" | null, "health_at": "...Z" | null,
     "templates": [{"model": "dlib-resnet-v1", "data": "<base64 of D float32 LE>"}] | null}
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from edge.identity.db import HEALTH, ID_PATTERN, KINDS
from edge.identity.trustlists import (
    Revocations,
    TrustedKey,
    kid_from_wire,
    revocations_from_wire,
    trusted_from_wire,
)

SNAPSHOT = "lists.snapshot"
UPDATE = "lists.update"
MAX_INT = 2**53 - 1  # versions and parts: exact in every JSON implementation
T = TypeVar("T")
_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$")


@dataclass(frozen=True, slots=True)
class Template:
    model_id: str
    embedding: NDArray[np.float32]  # (D,)


@dataclass(frozen=True, slots=True)
class SubjectEntry:
    """A subject as a change carries it. `templates` None: keep the stored ones (in an
    update; in a snapshot it means none)."""

    id: str
    kind: str
    quarantine_until: datetime | None = None
    health: str | None = None
    health_at: datetime | None = None
    templates: tuple[Template, ...] | None = None


@dataclass(frozen=True, slots=True)
class ListSnapshot:
    """Part `part` (1-based) of `parts` of the full list at `version`."""

    version: int
    part: int
    parts: int
    subjects: tuple[SubjectEntry, ...]
    trust: tuple[TrustedKey, ...] = ()
    revoked: tuple[Revocations, ...] = ()


@dataclass(frozen=True, slots=True)
class ListUpdate:
    """The change from `base_version` to `version`: upsert these subjects, remove those ids;
    add and remove trusted pass keys (by kid) and revocation hashes."""

    base_version: int
    version: int
    upsert: tuple[SubjectEntry, ...] = ()
    remove: tuple[str, ...] = ()
    trust_add: tuple[TrustedKey, ...] = ()
    trust_remove: tuple[bytes, ...] = ()
    revoke_add: tuple[Revocations, ...] = ()
    revoke_remove: tuple[Revocations, ...] = ()

    @property
    def touches_trust(self) -> bool:
        return bool(self.trust_add or self.trust_remove or self.revoke_add or self.revoke_remove)


ListChange = ListSnapshot | ListUpdate


# -- from the wire --------------------------------------------------------------------------


def change_from_args(name: str, args: Mapping[str, Any]) -> ListChange:
    """`lists.snapshot` / `lists.update` arguments (plain JSON values) as a ListChange;
    ValueError with the field's path when anything is malformed."""
    if name == SNAPSHOT:
        _keys(args, {"version", "part", "parts", "subjects", "trust", "revoked"}, "args")
        version, part, parts = (_int(args, k, "args") for k in ("version", "part", "parts"))
        if not 1 <= part <= parts:
            raise ValueError(f"args.part: {part} is not in 1..parts ({parts})")
        subjects = _list(args, "subjects", "args")
        return ListSnapshot(version, part, parts, tuple(
            subject_from_wire(s, f"subjects.{i}") for i, s in enumerate(subjects)),
            _each(args, "trust", trusted_from_wire), _each(args, "revoked", revocations_from_wire))
    if name == UPDATE:
        _keys(args, {"base_version", "version", "upsert", "remove", "trust_add", "trust_remove",
                     "revoke_add", "revoke_remove"}, "args")
        base, version = _int(args, "base_version", "args"), _int(args, "version", "args")
        return ListUpdate(base, version, _each(args, "upsert", subject_from_wire),
                          _each(args, "remove", _id), _each(args, "trust_add", trusted_from_wire),
                          _each(args, "trust_remove", kid_from_wire),
                          _each(args, "revoke_add", revocations_from_wire),
                          _each(args, "revoke_remove", revocations_from_wire))
    raise ValueError(f"{name!r} is not a list command ({SNAPSHOT}, {UPDATE})")


def subject_from_wire(entry: Any, where: str = "subject") -> SubjectEntry:
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: must be an object")
    _keys(entry, {"id", "kind", "quarantine_until", "health", "health_at", "templates"}, where)
    kind = _str(entry.get("kind"), f"{where}.kind")
    if kind not in KINDS:
        raise ValueError(f"{where}.kind: {kind!r} is not one of {', '.join(KINDS)}")
    health = entry.get("health")
    if health is not None and health not in HEALTH:
        raise ValueError(f"{where}.health: {health!r} is not one of {', '.join(HEALTH)} or null")
    health_at = parse_time(entry.get("health_at"), f"{where}.health_at")
    if (health is None) != (health_at is None):
        raise ValueError(f"{where}: health and health_at go together (both or neither)")
    raw = entry.get("templates")
    templates = None if raw is None else tuple(
        template_from_wire(t, f"{where}.templates.{i}") for i, t in enumerate(_seq(raw, where)))
    return SubjectEntry(_id(entry.get("id"), f"{where}.id"), kind,
                        parse_time(entry.get("quarantine_until"), f"{where}.quarantine_until"),
                        health, health_at, templates)


def template_from_wire(entry: Any, where: str) -> Template:
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: must be an object")
    _keys(entry, {"model", "data"}, where)
    model_id = _id(entry.get("model"), f"{where}.model")
    try:
        raw = base64.b64decode(_str(entry.get("data"), f"{where}.data"), validate=True)
    except binascii.Error:
        raise ValueError(f"{where}.data: not standard base64") from None
    if not raw or len(raw) % 4:
        raise ValueError(f"{where}.data: {len(raw)} bytes is not a whole number of float32")
    embedding = np.frombuffer(raw, "<f4").astype(np.float32)
    if not np.isfinite(embedding).all():
        raise ValueError(f"{where}.data: holds NaN or infinity")
    return Template(model_id, embedding)


def parse_time(value: Any, where: str) -> datetime | None:
    """`YYYY-MM-DDTHH:MM:SS[.fraction]Z` (UTC) or None; fractions beyond microseconds cut."""
    if value is None:
        return None
    m = _ISO.match(value) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f"{where}: must be UTC like 2026-12-14T00:00:00Z, got {value!r:.40}")
    try:
        stamp = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    micros = int((m.group(2) or "0").ljust(6, "0")[:6])
    return stamp.replace(microsecond=micros, tzinfo=UTC)


def _keys(obj: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = set(obj) - allowed
    if extra:
        raise ValueError(f"{where}: unknown field {sorted(map(str, extra))[0]!r}")


def _int(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INT:
        raise ValueError(f"{where}.{key}: must be an integer from 0 to 2**53 - 1")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: must be a non-empty string")
    return value


def _id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(ID_PATTERN, value):
        raise ValueError(f"{where}: must be 1 to 64 characters of A-Z a-z 0-9 _ . : @ + -")
    return value


def _each(args: Mapping[str, Any], key: str, parse: Callable[[Any, str], T]) -> tuple[T, ...]:
    """args[key] (a list, default empty), each item parsed with its path for errors."""
    return tuple(parse(item, f"{key}.{i}") for i, item in enumerate(_list(args, key, "args")))


def _list(obj: Mapping[str, Any], key: str, where: str) -> Sequence[Any]:
    return _seq(obj.get(key, []), f"{where}.{key}")


def _seq(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"{where}: must be a list")
    return value


# -- to the wire ----------------------------------------------------------------------------


def wire_time(stamp: datetime | None) -> str | None:
    """UTC `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` (no fraction when it is zero)."""
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        raise ValueError(f"{stamp.isoformat()} has no time zone")
    text = stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text[:-7] if text.endswith(".000000") else text) + "Z"


def subject_to_wire(subject: SubjectEntry) -> dict[str, Any]:
    templates = None if subject.templates is None else [
        {"model": t.model_id,
         "data": base64.b64encode(np.ascontiguousarray(t.embedding, "<f4").tobytes()).decode()}
        for t in subject.templates]
    return {"id": subject.id, "kind": subject.kind,
            "quarantine_until": wire_time(subject.quarantine_until), "health": subject.health,
            "health_at": wire_time(subject.health_at), "templates": templates}
