"""Scoring a replay against labels.json: per person expected vs measured, and a summary.

Pure apart from reading labels.json: the replay itself is edge.app.wiring.replay, the same path
as production.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        return self.events[0].temperature.body_c if self.events else None

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


def load_labels(folder: Path) -> list[dict[str, Any]]:
    path = folder / "labels.json"
    try:
        people = json.loads(path.read_text(encoding="utf-8"))["people"]
    except FileNotFoundError:
        raise RecordingError(f"{path}: no labels.json, nothing to evaluate against") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RecordingError(f"{path}: unreadable labels: {exc}") from None
    if not isinstance(people, list):
        raise RecordingError(f"{path}: 'people' must be a list")
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
            if d.temperature.site == "canthus":
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
