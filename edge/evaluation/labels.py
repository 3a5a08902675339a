"""labels.json, schema-checked before `eval` replays anything (docs/recording-format.md):
one line naming the file, the person (index from 0, and label) and the key, exit 3.

Identity keys: `subject` (the enrolled id the person must be recognised as, or null),
`role` (`resident`, `quarantined`, `stranger`, `worker`, `visitor`: present, it says the
subject is ground truth and eval scores recognition for that person), `pass` (null, or the
pass the person shows: `case`, `holder` (whom its decision names), ...), and `expect`
entries, each an event type of docs/mqtt.md, `pass.denied:<reason>`, or alternatives joined
by `|`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.errors import RecordingError

TEMPERATURE_EVENTS = ("screening", "fever", "recheck")
ACCESS_EVENTS = ("pass.granted", "pass.denied", "quarantine.breach")
# docs/mqtt.md / DESIGN section 4: why a pass or a face is refused.
DENIAL_REASONS = ("expired", "not_yet_valid", "revoked", "bad_signature", "wrong_gate",
                  "holder_mismatch", "quarantined", "health_code", "unreadable",
                  "unknown_subject")
ENROLLED_ROLES = ("resident", "quarantined", "worker", "visitor")


def check_expect_entry(entry: str) -> str | None:
    """Why an `expect` entry is not one eval can score, or None when it is."""
    for alt in entry.split("|"):
        kind, _, reason = alt.partition(":")
        if kind not in TEMPERATURE_EVENTS + ACCESS_EVENTS:
            return (f"unknown event type {kind!r}; one of "
                    f"{', '.join(TEMPERATURE_EVENTS + ACCESS_EVENTS)}")
        if reason and kind != "pass.denied":
            return f"{alt!r}: only pass.denied takes a :reason"
        if reason and reason not in DENIAL_REASONS:
            return f"{alt!r}: unknown denial reason; one of {', '.join(DENIAL_REASONS)}"
    return None


class _Person(BaseModel):
    """One labels.json person: the keys eval uses (docs/recording-format.md); extras kept."""

    model_config = ConfigDict(extra="allow", strict=True)

    label: str = Field(min_length=1)
    enter_ns: int
    exit_ns: int
    temp_c: float | None = Field(None, allow_inf_nan=False, ge=20.0, le=50.0)
    expect: list[str] = []
    head_box: list[float] | None = Field(None, min_length=4, max_length=4)
    head_box_rgb: list[float] | None = Field(None, min_length=4, max_length=4)
    subject: str | None = Field(None, min_length=1)
    role: Literal["resident", "quarantined", "stranger", "worker", "visitor"] | None = None

    @field_validator("expect")
    @classmethod
    def _known_events(cls, expect: list[str]) -> list[str]:
        for i, entry in enumerate(expect):
            problem = check_expect_entry(entry)
            if problem is not None:
                raise ValueError(f"entry {i} {entry!r}: {problem}")
        return expect

    @model_validator(mode="after")
    def _consistent(self) -> _Person:
        if self.exit_ns < self.enter_ns:
            raise ValueError(f"exit_ns {self.exit_ns} is before enter_ns {self.enter_ns}")
        if self.role == "stranger" and self.subject is not None:
            raise ValueError(f"role stranger with subject {self.subject!r}: a stranger is "
                             "never enrolled (subject null)")
        if self.role in ENROLLED_ROLES and self.subject is None:
            raise ValueError(f"role {self.role} needs the subject it must be recognised as")
        access = [e for e in self.expect
                  if any(a.partition(":")[0] in ACCESS_EVENTS for a in e.split("|"))]
        shown = (self.model_extra or {}).get("pass")
        if shown is not None and not (isinstance(shown, dict) and isinstance(
                shown.get("case"), str) and isinstance(shown.get("holder"), str | None)):
            raise ValueError("pass must be null or an object with case (string) and holder "
                             "(string or null)")
        holder = shown.get("holder") if isinstance(shown, dict) else None
        # A stranger showing somebody's pass: the pass decision names the pass holder.
        needs_subject = [e for e in access if holder is None or "quarantine.breach" in e]
        if needs_subject and self.role is not None and self.subject is None:
            raise ValueError(f"expect {needs_subject[0]!r} names a subject, but subject is null")
        return self


class _Labels(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    people: list[_Person]


def _label_error(path: Path, data: object, exc: ValidationError) -> str:
    """One line: the file, the person (index and label) and the key that is missing or bad."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(err["loc"])
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    if len(loc) < 2 or loc[0] != "people" or not isinstance(loc[1], int):
        what = "required key people is missing" if err["type"] == "missing" and loc == (
            "people",) else f"{'.'.join(map(str, loc)) or 'top level'}: {err['msg']}"
        return f"{path}: {what}{more}"
    index = loc[1]
    person = data["people"][index] if isinstance(data, dict) else None
    label = person.get("label") if isinstance(person, dict) else None
    who = f"person {index}" + (f" ({label!r})" if isinstance(label, str) else "")
    key = ".".join(str(p) for p in loc[2:])
    if err["type"] == "missing":
        return f"{path}: {who}: required key {key} is missing{more}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if not key:
        return f"{path}: {who}: {msg}{more}"
    value = repr(err["input"])
    value = value if len(value) <= 60 else value[:57] + "..."
    return f"{path}: {who}: {key} = {value}: {msg}{more}"


def load_labels(folder: Path) -> list[dict[str, Any]]:
    """labels.json's people, schema-checked: RecordingError (exit 3) with one line naming the
    file, the person (index from 0, and label) and the missing or bad key."""
    path = folder / "labels.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordingError(f"{path}: no labels.json, nothing to evaluate against") from None
    except (OSError, ValueError) as exc:
        raise RecordingError(f"{path}: unreadable labels: {exc}") from None
    try:
        _Labels.model_validate(data)
    except ValidationError as exc:
        raise RecordingError(_label_error(path, data, exc)) from None
    people: list[dict[str, Any]] = data["people"]
    return people
