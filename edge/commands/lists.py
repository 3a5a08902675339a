"""Argument schemas of the list commands, `lists.snapshot` and `lists.update` (docs/lists.md).

The gate validates a command's arguments with these models before its handler runs, and
`gate-edge push` validates with the same ones before signing (COMMAND_ARGS). Strict: no
unknown field, no string-to-number conversion, every list and string bounded. The whole
envelope is at most 16,384 bytes, so a full list travels as a snapshot in parts.

What the gate does with them (staging, versions, gaps) is edge.identity.sync; the handler the
composition root registers converts `args.model_dump()` with
`edge.identity.sync.change_from_args(name, ...)` and applies it to the store; a refused
change raises `edge.commands.handlers.CommandRejected(reason)` with one of LIST_REASONS.

Pass trust sections (schema 2 of the store): `trust` / `revoked` in a snapshot part,
`trust_add` / `trust_remove` / `revoke_add` / `revoke_remove` in an update, all optional
(absent = empty). Checked here: base64, sizes, kinds, nothing twice, nothing both added and
removed. The gate also parses each key (edge.identity.trustlists): a DER that is not an
Ed25519 key / a P-256 or RSA certificate is `bad_args` there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["LIST_REASONS", "ListsSnapshotArgs", "ListsUpdateArgs", "RevocationArgs",
           "SubjectArgs", "TemplateArgs", "TrustArgs"]

ID_PATTERN = r"^[A-Za-z0-9_.:@+-]{1,64}$"  # = edge.identity.db.ID_PATTERN
UTC_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$"
MAX_VERSION = 2**53 - 1  # exact in every JSON implementation
MAX_DIM = 1024  # floats per template
MAX_DATA_CHARS = (MAX_DIM * 4 + 2) // 3 * 4  # base64 of MAX_DIM float32
MAX_TEMPLATES = 16  # per subject
MAX_SUBJECTS = 1000  # per message (the 16 KiB envelope allows far fewer with templates)
MAX_PARTS = 10_000
LIST_REASONS = ("version_gap", "stale_version", "bad_args")
KID_BYTES = 8  # sha256(DER)[:8]
HASH_BYTES = 16  # revocation hashes: sha256[:16]
MAX_DER_BYTES = 4096  # one key or certificate
MAX_TRUST = 64  # keys per message
MAX_KIDS = 1000  # kids removed per update
MAX_HASHES = 1000  # hashes per revocation entry
REVOCATION_KINDS = ("compound", "dcc-uci", "dcc-country-uci", "dcc-signature")


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError(f"{what}: not standard base64") from None


def _kid(value: str) -> str:
    if len(_b64(value, "kid")) != KID_BYTES:
        raise ValueError(f"a kid is {KID_BYTES} bytes (12 base64 characters)")
    return value

SubjectId = Annotated[str, Field(pattern=ID_PATTERN)]
UtcTime = Annotated[str, Field(pattern=UTC_PATTERN, max_length=40)]
BaseVersion = Annotated[int, Field(ge=0, le=MAX_VERSION)]
Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]
Kid = Annotated[str, Field(min_length=12, max_length=12), AfterValidator(_kid)]


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


class TrustArgs(BaseModel):
    """A trusted pass signer: `compound` = Ed25519 SubjectPublicKeyInfo DER, `dcc` = X.509
    signer certificate DER; standard base64. Its kid is computed by the gate."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    kind: Literal["compound", "dcc"]
    der: str = Field(min_length=4, max_length=(MAX_DER_BYTES + 2) // 3 * 4)

    @field_validator("der")
    @classmethod
    def _base64(cls, value: str) -> str:
        _b64(value, "der")
        return value

    def kid(self) -> bytes:
        return hashlib.sha256(_b64(self.der, "der")).digest()[:KID_BYTES]


class RevocationArgs(BaseModel):
    """Revoked hashes of one kind: base64 of 1 to MAX_HASHES concatenated 16-byte values."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    kind: Literal["compound", "dcc-uci", "dcc-country-uci", "dcc-signature"]
    hashes: str = Field(min_length=24, max_length=(MAX_HASHES * HASH_BYTES + 2) // 3 * 4)

    @field_validator("hashes")
    @classmethod
    def _whole_hashes(cls, value: str) -> str:
        if len(_b64(value, "hashes")) % HASH_BYTES:
            raise ValueError(f"not a whole number of {HASH_BYTES}-byte hashes")
        return value

    def values(self) -> set[bytes]:
        raw = _b64(self.hashes, "hashes")
        return {raw[i:i + HASH_BYTES] for i in range(0, len(raw), HASH_BYTES)}


Revoked = Annotated[list[RevocationArgs], Field(max_length=len(REVOCATION_KINDS))]


class ListsSnapshotArgs(BaseModel):
    """`lists.snapshot`: part `part` (1-based) of `parts` of the full list at `version`."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    version: Version
    part: int = Field(ge=1, le=MAX_PARTS)
    parts: int = Field(ge=1, le=MAX_PARTS)
    subjects: list[SubjectArgs] = Field(max_length=MAX_SUBJECTS)
    trust: list[TrustArgs] = Field(default_factory=list, max_length=MAX_TRUST)
    revoked: Revoked = Field(default_factory=list)

    @model_validator(mode="after")
    def _part_in_range(self) -> ListsSnapshotArgs:
        if self.part > self.parts:
            raise ValueError(f"part {self.part} is beyond parts ({self.parts})")
        _unique([s.id for s in self.subjects], "subjects")
        _unique([base64.b64encode(t.kid()).decode() for t in self.trust], "trust", "key")
        _unique([r.kind for r in self.revoked], "revoked", "kind")
        return self


class ListsUpdateArgs(BaseModel):
    """`lists.update`: from `base_version` to `version`; upsert subjects, remove ids."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    base_version: BaseVersion
    version: Version
    upsert: list[SubjectArgs] = Field(default_factory=list, max_length=MAX_SUBJECTS)
    remove: list[SubjectId] = Field(default_factory=list, max_length=MAX_SUBJECTS)
    trust_add: list[TrustArgs] = Field(default_factory=list, max_length=MAX_TRUST)
    trust_remove: list[Kid] = Field(default_factory=list, max_length=MAX_KIDS)
    revoke_add: Revoked = Field(default_factory=list)
    revoke_remove: Revoked = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> ListsUpdateArgs:
        if self.version <= self.base_version:
            raise ValueError(f"version {self.version} must be above base_version "
                             f"{self.base_version}")
        _unique([s.id for s in self.upsert], "upsert")
        _unique(self.remove, "remove")
        if both := set(self.remove) & {s.id for s in self.upsert}:
            raise ValueError(f"subject {sorted(both)[0]!r} is both upserted and removed")
        self._trust_consistent()
        return self

    def _trust_consistent(self) -> None:
        added = [base64.b64encode(t.kid()).decode() for t in self.trust_add]
        _unique(added, "trust_add", "key")
        _unique(self.trust_remove, "trust_remove", "kid")
        if both := set(added) & {base64.b64encode(_b64(k, "kid")).decode()
                                 for k in self.trust_remove}:
            raise ValueError(f"key {sorted(both)[0]} is both added and removed")
        _unique([r.kind for r in self.revoke_add], "revoke_add", "kind")
        _unique([r.kind for r in self.revoke_remove], "revoke_remove", "kind")
        removed = {r.kind: r.values() for r in self.revoke_remove}
        for r in self.revoke_add:
            if r.values() & removed.get(r.kind, set()):
                raise ValueError(f"a {r.kind} hash is both revoked and un-revoked")


def _unique(ids: list[str], where: str, what: str = "subject") -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise ValueError(f"{where}: {what} {value!r} appears twice")
        seen.add(value)


def _check_calendar(value: str) -> None:
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)", value)
    assert m is not None  # the pattern matched already
    year, month, day, hour, minute, second = (int(g) for g in m.groups())
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise ValueError(f"not a real time: {exc}") from None
