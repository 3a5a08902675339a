"""Argument schemas of the list commands, `lists.snapshot` and `lists.update` (docs/lists.md).

The gate validates a command's arguments with these models before its handler runs, and
`gate-edge push` validates with the same ones before signing (COMMAND_ARGS). Strict: no
unknown field, no string-to-number conversion, every list and string bounded. The whole
envelope is at most 16,384 bytes, so a full list travels as a snapshot in parts.

What the gate does with them (staging, versions, gaps) is edge.identity.sync; the handler the
composition root registers converts `args.model_dump()` with
`edge.identity.sync.change_from_args(name, ...)` and applies it to the store; a refused
change raises `edge.commands.handlers.CommandRejected(reason)` with one of LIST_REASONS.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["LIST_REASONS", "ListsSnapshotArgs", "ListsUpdateArgs", "SubjectArgs",
           "TemplateArgs"]

ID_PATTERN = r"^[A-Za-z0-9_.:@+-]{1,64}$"  # = edge.identity.db.ID_PATTERN
UTC_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$"
MAX_VERSION = 2**53 - 1  # exact in every JSON implementation
MAX_DIM = 1024  # floats per template
MAX_DATA_CHARS = (MAX_DIM * 4 + 2) // 3 * 4  # base64 of MAX_DIM float32
MAX_TEMPLATES = 16  # per subject
MAX_SUBJECTS = 1000  # per message (the 16 KiB envelope allows far fewer with templates)
MAX_PARTS = 10_000
LIST_REASONS = ("version_gap", "stale_version", "bad_args")

SubjectId = Annotated[str, Field(pattern=ID_PATTERN)]
UtcTime = Annotated[str, Field(pattern=UTC_PATTERN, max_length=40)]
BaseVersion = Annotated[int, Field(ge=0, le=MAX_VERSION)]
Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]


class TemplateArgs(BaseModel):
    """One face template: base64 (standard, padded) of D float32 little-endian."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    model: str = Field(pattern=ID_PATTERN)
    data: str = Field(min_length=4, max_length=MAX_DATA_CHARS)

    @field_validator("data")
    @classmethod
    def _float32(cls, value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError("not standard base64") from None
        if len(raw) % 4:
            raise ValueError(f"{len(raw)} bytes is not a whole number of float32")
        return value


class SubjectArgs(BaseModel):
    """A subject with its status; `templates` null in an update keeps the stored ones."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    id: SubjectId
    kind: Literal["resident", "worker", "visitor"]
    quarantine_until: UtcTime | None = None
    health: Literal["green", "yellow", "red"] | None = None
    health_at: UtcTime | None = None
    templates: list[TemplateArgs] | None = Field(None, max_length=MAX_TEMPLATES)

    @model_validator(mode="after")
    def _health_with_time(self) -> SubjectArgs:
        if (self.health is None) != (self.health_at is None):
            raise ValueError("health and health_at go together (both or neither)")
        return self

    @field_validator("quarantine_until", "health_at")
    @classmethod
    def _real_time(cls, value: str | None) -> str | None:
        if value is not None:
            _check_calendar(value)
        return value


class ListsSnapshotArgs(BaseModel):
    """`lists.snapshot`: part `part` (1-based) of `parts` of the full list at `version`."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    version: Version
    part: int = Field(ge=1, le=MAX_PARTS)
    parts: int = Field(ge=1, le=MAX_PARTS)
    subjects: list[SubjectArgs] = Field(max_length=MAX_SUBJECTS)

    @model_validator(mode="after")
    def _part_in_range(self) -> ListsSnapshotArgs:
        if self.part > self.parts:
            raise ValueError(f"part {self.part} is beyond parts ({self.parts})")
        _unique([s.id for s in self.subjects], "subjects")
        return self


class ListsUpdateArgs(BaseModel):
    """`lists.update`: from `base_version` to `version`; upsert subjects, remove ids."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    base_version: BaseVersion
    version: Version
    upsert: list[SubjectArgs] = Field(default_factory=list, max_length=MAX_SUBJECTS)
    remove: list[SubjectId] = Field(default_factory=list, max_length=MAX_SUBJECTS)

    @model_validator(mode="after")
    def _consistent(self) -> ListsUpdateArgs:
        if self.version <= self.base_version:
            raise ValueError(f"version {self.version} must be above base_version "
                             f"{self.base_version}")
        _unique([s.id for s in self.upsert], "upsert")
        _unique(self.remove, "remove")
        if both := set(self.remove) & {s.id for s in self.upsert}:
            raise ValueError(f"subject {sorted(both)[0]!r} is both upserted and removed")
        return self


def _unique(ids: list[str], where: str) -> None:
    seen: set[str] = set()
    for subject_id in ids:
        if subject_id in seen:
            raise ValueError(f"{where}: subject {subject_id!r} appears twice")
        seen.add(subject_id)


def _check_calendar(value: str) -> None:
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)", value)
    assert m is not None  # the pattern matched already
    year, month, day, hour, minute, second = (int(g) for g in m.groups())
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise ValueError(f"not a real time: {exc}") from None
