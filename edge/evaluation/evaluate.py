"""Scoring a replay against labels.json: per person expected vs measured, and a summary.

Pure apart from reading labels.json: the replay itself is edge.app.wiring.replay, the same path
as production.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.core.types import Decision, StreamInfo
from edge.errors import RecordingError
from edge.thermal.front import rotate_roi


@dataclass(slots=True)
class PersonResult:
    label: str
    expect: list[str]
    true_c: float | None
    events: list[Decision] = field(default_factory=list)

    @property
    def measured_c(self) -> float | None:
        temps = [e.temperature for e in self.events if e.temperature is not None]
        return temps[0].body_c if temps else None

    @property
    def error_c(self) -> float | None:
        if self.measured_c is None or self.true_c is None:
            return None
        return self.measured_c - self.true_c

    @property
    def ok(self) -> bool:
        """Exactly the expected events (`a|b` means either), one per expected entry."""
        got = [d.type for d in self.events]
        if len(got) != len(self.expect):
            return False
        return all(g in e.split("|") for g, e in zip(sorted(got), sorted(self.expect), strict=True))


@dataclass(slots=True)
class EvalReport:
    people: list[PersonResult]
    unmatched: list[Decision]

    @property
    def fever_counts(self) -> dict[str, int]:
        tp = fp = fn = 0
        for p in self.people:
            want = any("fever" in e.split("|") and "screening" not in e for e in p.expect)
            got = any(d.type == "fever" for d in p.events)
            tp += want and got
            fp += got and not want
            fn += want and not got
        fp += sum(d.type == "fever" for d in self.unmatched)
        return {"tp": tp, "fp": fp, "fn": fn}

    @property
    def max_abs_error_c(self) -> float | None:
        errors = [abs(p.error_c) for p in self.people if p.error_c is not None]
        return max(errors) if errors else None

    @property
    def all_ok(self) -> bool:
        return not self.unmatched and all(p.ok for p in self.people)


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

    @model_validator(mode="after")
    def _in_order(self) -> _Person:
        if self.exit_ns < self.enter_ns:
            raise ValueError(f"exit_ns {self.exit_ns} is before enter_ns {self.enter_ns}")
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


def _centre(box: list[int] | tuple[int, int, int, int]) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def match(
    decisions: list[Decision], people: list[dict[str, Any]], meta: StreamInfo, rotate_deg: int
) -> EvalReport:
    """Attribute each decision to the labelled person in view at that time whose head (if
    labelled) is nearest; decisions nobody was in view for are `unmatched`."""
    results = [
        PersonResult(str(p["label"]), list(p.get("expect", [])), p.get("temp_c")) for p in people
    ]
    raw_hw = (meta.thermal.height, meta.thermal.width) if meta.thermal else (0, 0)
    unmatched: list[Decision] = []
    for d in decisions:
        cands = [
            i
            for i, p in enumerate(people)
            if int(p["enter_ns"]) - 500_000_000 <= d.t_ns <= int(p["exit_ns"]) + 1_000_000_000
        ]
        if not cands:
            unmatched.append(d)
            continue

        def distance(i: int, d: Decision = d) -> float:
            # RGB + thermal decisions carry an RGB box; thermal-only ones a thermal box.
            if d.bbox_frame == "rgb":
                box = people[i].get("head_box_rgb")
                centre = _centre(tuple(box)) if box else None
            else:
                box = people[i].get("head_box")
                centre = (
                    _centre(rotate_roi(tuple(box), raw_hw, rotate_deg))  # type: ignore[arg-type]
                    if box and raw_hw != (0, 0)
                    else None
                )
            if centre is None:
                return 0.0
            dx, dy = _centre(d.bbox)
            return (centre[0] - dx) ** 2 + (centre[1] - dy) ** 2

        results[min(cands, key=distance)].events.append(d)
    return EvalReport(results, unmatched)


def summary_table(report: EvalReport) -> str:
    """The summary as a small Markdown table (people, events, error, fever confusion)."""
    fc = report.fever_counts
    errors = [abs(p.error_c) for p in report.people if p.error_c is not None]
    mae = sum(errors) / len(errors) if errors else float("nan")
    measured = sum(1 for p in report.people if p.events)
    rows = [
        ("people (labelled)", str(len(report.people))),
        ("people expected to be measured", str(sum(1 for p in report.people if p.expect))),
        ("events", str(sum(len(p.events) for p in report.people) + len(report.unmatched))),
        ("people measured", str(measured)),
        ("unmatched events", str(len(report.unmatched))),
        ("temperature MAE / max (C)", f"{mae:.3f} / {report.max_abs_error_c or float('nan'):.3f}"),
        ("fever TP / FP / FN", f"{fc['tp']} / {fc['fp']} / {fc['fn']}"),
        ("verdict", "PASS" if report.all_ok else "FAIL"),
    ]
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def format_report(report: EvalReport) -> str:
    lines = [f"{'person':<8} {'expect':<12} {'got':<20} {'true':>6} {'measured':>9} {'error':>6}"]
    for p in report.people:
        got = ",".join(d.type for d in p.events) or "-"
        true = f"{p.true_c:.2f}" if p.true_c is not None else "-"
        meas = f"{p.measured_c:.2f}" if p.measured_c is not None else "-"
        err = f"{p.error_c:+.2f}" if p.error_c is not None else "-"
        flag = "" if p.ok else "  <-- MISMATCH"
        expect = ",".join(p.expect) or "(none)"
        lines.append(f"{p.label:<8} {expect:<12} {got:<20} {true:>6} {meas:>9} {err:>6}{flag}")
    for d in report.unmatched:
        lines.append(f"unmatched {d.type} track {d.track} at t_ns {d.t_ns}")
    fc = report.fever_counts
    errors = [abs(p.error_c) for p in report.people if p.error_c is not None]
    mae = sum(errors) / len(errors) if errors else float("nan")
    lines.append(
        f"people {len(report.people)}  events {sum(len(p.events) for p in report.people)}"
        f"  unmatched {len(report.unmatched)}  temp MAE {mae:.3f} C"
        f"  max {report.max_abs_error_c or float('nan'):.3f} C"
        f"  fever TP {fc['tp']} FP {fc['fp']} FN {fc['fn']}"
        f"  -> {'PASS' if report.all_ok else 'FAIL'}"
    )
    return "\n".join(lines)
