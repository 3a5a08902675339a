"""The command envelope on the wire (schema `gate-edge/cmd/1`, see edge.commands.verify): its
pydantic schema, the strict JSON reader both ends use, canonical JSON and command topics.

No keys and no verification here; edge.commands.verify signs and verifies envelopes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "DEFAULT_MAX_BYTES", "MAX_DEPTH", "MAX_TTL_S", "NAME_PATTERN", "SCHEMA", "canonical_json",
    "command_topic", "parse_iso_utc_ns",
]

SCHEMA = "gate-edge/cmd/1"
DEFAULT_MAX_BYTES = 16384
MAX_DEPTH = 32  # nesting of the whole envelope (args included); deeper is bad_schema
MAX_TTL_S = 7 * 86400  # longest allowed expires - issued
_NUMBER_CHARS = 40  # longer numeric literals are rejected before int()/float() see them
NS_PER_S = 1_000_000_000

TOPIC_LEVEL = r"[A-Za-z0-9_.-]{1,64}"  # same rule as config's site/gate names
NAME_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"  # a command name is one topic level
ULID_PATTERN = _ULID = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISO_UTC = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z$")


# -- envelope schema ------------------------------------------------------------------------


def parse_iso_utc_ns(text: str) -> int:
    """ns since the epoch from `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (UTC only, 'Z' suffix)."""
    m = _ISO_UTC.match(text)
    if m is None:
        raise ValueError("must be ISO-8601 UTC like 2026-11-28T13:00:00.000Z")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    stamp = datetime(year, month, day, hour, minute, second, tzinfo=UTC)  # ValueError if bad
    fraction = (m.group(7) or "").ljust(9, "0")
    return (stamp - _EPOCH) // timedelta(seconds=1) * NS_PER_S + int(fraction)


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # "schema" would shadow a BaseModel attribute, hence the alias.
    schema_: Literal["gate-edge/cmd/1"] = Field(alias="schema")
    name: str = Field(pattern=NAME_PATTERN)
    id: str = Field(pattern=_ULID)
    issued: str = Field(max_length=40)
    expires: str = Field(max_length=40)
    site: str = Field(pattern=f"^{TOPIC_LEVEL}$")
    gate: str = Field(pattern=rf"^(\*|{TOPIC_LEVEL})$")
    args: dict[str, Any]
    kid: str = Field(pattern=r"^[0-9a-f]{16}$")
    sig: str = Field(pattern=r"^[A-Za-z0-9+/]{86}==$")  # base64 of 64 bytes

    @field_validator("issued", "expires")
    @classmethod
    def _iso(cls, value: str) -> str:
        parse_iso_utc_ns(value)
        return value

    @model_validator(mode="after")
    def _lifetime(self) -> Envelope:
        issued, expires = parse_iso_utc_ns(self.issued), parse_iso_utc_ns(self.expires)
        if expires <= issued:
            raise ValueError("expires must be after issued")
        if expires - issued > MAX_TTL_S * NS_PER_S:
            raise ValueError(f"expires is more than {MAX_TTL_S} s after issued")
        return self


def describe_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "envelope"
    kind = err["type"]
    if kind == "missing":
        text = f"{where}: missing"
    elif kind == "extra_forbidden":
        text = f"unknown field {where!r}"
    elif kind == "string_pattern_mismatch":
        text = f"{where}: invalid format"
    else:
        text = f"{where}: {err['msg']}"
    more = exc.error_count() - 1
    return text + (f" (+{more} more)" if more > 0 else "")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _parse_int(text: str) -> int:
    if len(text) > _NUMBER_CHARS:
        raise ValueError(f"integer literal of {len(text)} digits")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > _NUMBER_CHARS:
        raise ValueError(f"number literal of {len(text)} characters")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _parse_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def loads_strict(text: str) -> Any:
    return json.loads(
        text, object_pairs_hook=_no_duplicates, parse_int=_parse_int, parse_float=_parse_float,
        parse_constant=_parse_constant,
    )


def json_depth(doc: Any) -> int:
    """Nesting depth of parsed JSON, iteratively (a recursive walk is what an attacker wants)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, ASCII only, no NaN."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def command_topic(prefix: str, site: str, gate: str, name: str) -> str:
    """Where a command for `gate` ("*" = every gate of the site) is published."""
    if gate == "*":
        return f"{prefix}/{site}/cmd/{name}"
    return f"{prefix}/{site}/{gate}/cmd/{name}"
