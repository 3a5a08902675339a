"""Scoring a replay against labels.json: per person expected vs measured (temperature,
events, and who was recognised: edge.evaluation.identity_score), and a summary.

Pure apart from reading labels.json (edge.evaluation.labels): the replay itself is
edge.app.replay, the same path as production.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge.core.types import Decision, StreamInfo
from edge.evaluation import identity_score as ids
from edge.evaluation import pass_score as pss
from edge.evaluation.labels import load_labels
from edge.thermal.front import rotate_roi

__all__ = ["EvalReport", "PersonResult", "format_report", "load_labels", "match",
           "summary_table"]


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

    subject: str | None = None  # who they must be recognised as (None: nobody)
    scored: bool = False  # the label has a role: its subject is identity ground truth
    holder: str | None = None  # the holder of the pass they show (labels' pass.holder)

    @property
    def identity(self) -> str | None:
        """identity_score outcome (`right`, `missed`, ...), None when not scored."""
        return ids.outcome(self.subject, self.events) if self.scored else None

    @property
    def match_text(self) -> str:
        first = ids.temperature_decision(self.events)
        if first is None or not first.recognition:
            return "-"
        m = first.match
        return "null" if m is None else f"{m.subject} {m.distance:.2f}"

    @property
    def ok(self) -> bool:
        """Exactly the expected events (`a|b` means either, `pass.denied:reason` a reason),
        one per entry; with a role, recognised as the labelled subject (or nobody) and every
        access event about that subject (a pass decision: about the pass holder)."""
        if not ids.expect_met(self.expect, self.events):
            return False
        if self.scored and not pss.subjects_ok(self.subject, self.holder, self.events):
            return False
        return not self.scored or self.identity == ids.RIGHT


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

    @property
    def identity(self) -> ids.IdentitySummary:
        return ids.summarise([(p.subject, p.scored, p.expect, p.events) for p in self.people],
                             self.unmatched)

    @property
    def passes(self) -> pss.PassSummary:
        return pss.summarise([(p.expect, p.events) for p in self.people], self.unmatched)


def _centre(box: list[int] | tuple[int, int, int, int]) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def match(
    decisions: list[Decision], people: list[dict[str, Any]], meta: StreamInfo, rotate_deg: int
) -> EvalReport:
    """Attribute each temperature decision to the labelled person in view at that time whose
    head (if labelled) is nearest, and each access decision to the person its track's
    temperature decision went to (else the same way); decisions nobody was in view for are
    `unmatched`."""
    results = [
        PersonResult(str(p["label"]), list(p.get("expect", [])), p.get("temp_c"),
                     subject=p.get("subject"), scored="role" in p,
                     holder=(p.get("pass") or {}).get("holder"))
        for p in people
    ]
    raw_hw = (meta.thermal.height, meta.thermal.width) if meta.thermal else (0, 0)
    unmatched: list[Decision] = []
    by_track: dict[int, int] = {}
    ordered = [d for d in decisions if d.is_temperature] + [
        d for d in decisions if not d.is_temperature]
    for d in ordered:
        who = None if d.is_temperature else by_track.get(d.track)
        if who is None:
            who = _nearest(d, people, raw_hw, rotate_deg)
        if who is None:
            unmatched.append(d)
            continue
        if d.is_temperature:
            by_track.setdefault(d.track, who)
        results[who].events.append(d)
    for r in results:  # back in time order (access events were attributed second)
        r.events.sort(key=lambda d: d.t_ns)
    return EvalReport(results, unmatched)


def _nearest(d: Decision, people: list[dict[str, Any]], raw_hw: tuple[int, int],
             rotate_deg: int) -> int | None:
    """The person in view at d.t_ns whose labelled head is nearest d.bbox (None: nobody)."""
    cands = [
        i
        for i, p in enumerate(people)
        if int(p["enter_ns"]) - 500_000_000 <= d.t_ns <= int(p["exit_ns"]) + 1_000_000_000
    ]
    if not cands:
        return None

    def distance(i: int) -> float:
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

    return min(cands, key=distance)


def _temperature_stats(report: EvalReport) -> tuple[float, float]:
    errors = [abs(p.error_c) for p in report.people if p.error_c is not None]
    mae = sum(errors) / len(errors) if errors else float("nan")
    return mae, report.max_abs_error_c or float("nan")


def summary_table(report: EvalReport) -> str:
    """The summary as a small Markdown table (people, events, error, fever confusion, and
    identity when labels carry it)."""
    fc = report.fever_counts
    mae, worst = _temperature_stats(report)
    measured = sum(1 for p in report.people if any(d.is_temperature for d in p.events))
    rows = [
        ("people (labelled)", str(len(report.people))),
        ("people expected to be measured", str(sum(1 for p in report.people if p.expect))),
        ("events", str(sum(len(p.events) for p in report.people) + len(report.unmatched))),
        ("people measured", str(measured)),
        ("unmatched events", str(len(report.unmatched))),
        ("temperature MAE / max (C)", f"{mae:.3f} / {worst:.3f}"),
        ("fever TP / FP / FN", f"{fc['tp']} / {fc['fp']} / {fc['fn']}"),
        *ids.summary_rows(report.identity),
        *pss.summary_rows(report.passes),
        ("verdict", "PASS" if report.all_ok else "FAIL"),
    ]
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def format_report(report: EvalReport) -> str:
    """One line per person (with subject, match and identity outcome when labelled), the
    unmatched events, and a one-line summary."""
    scored = any(p.scored for p in report.people)
    who = f" {'subject':<14} {'match':<19} {'identity':<12}" if scored else ""
    ew = max([12, *(len(",".join(p.expect)) for p in report.people)])
    gw = max([20, *(len(",".join(map(_event_text, p.events))) for p in report.people)])
    lines = [f"{'person':<8} {'expect':<{ew}} {'got':<{gw}} {'true':>6} {'measured':>9} "
             f"{'error':>6}{who}".rstrip()]
    for p in report.people:
        got = ",".join(_event_text(d) for d in p.events) or "-"
        true = f"{p.true_c:.2f}" if p.true_c is not None else "-"
        meas = f"{p.measured_c:.2f}" if p.measured_c is not None else "-"
        err = f"{p.error_c:+.2f}" if p.error_c is not None else "-"
        flag = "" if p.ok else "  <-- MISMATCH"
        expect = ",".join(p.expect) or "(none)"
        ident = (f" {p.subject or 'stranger':<14} {p.match_text:<19} {p.identity or '-':<12}"
                 if scored else "")
        lines.append(f"{p.label:<8} {expect:<{ew}} {got:<{gw}} {true:>6} {meas:>9} {err:>6}"
                     f"{ident.rstrip()}{flag}")
    for d in report.unmatched:
        lines.append(f"unmatched {_event_text(d)} track {d.track} at t_ns {d.t_ns}")
    fc = report.fever_counts
    mae, worst = _temperature_stats(report)
    idl = report.identity
    identity = (f"  identified {idl.right}/{idl.enrolled} false accepts {idl.false_accepts}"
                f" breaches {idl.breaches_got}/{idl.breaches_expected}") if idl.scored else ""
    ps = report.passes
    if ps.expected or ps.wrong:
        identity += f"  passes right {ps.right}/{ps.expected} wrong {ps.wrong}"
    lines.append(
        f"people {len(report.people)}  events {sum(len(p.events) for p in report.people)}"
        f"  unmatched {len(report.unmatched)}  temp MAE {mae:.3f} C  max {worst:.3f} C"
        f"  fever TP {fc['tp']} FP {fc['fp']} FN {fc['fn']}{identity}"
        f"  -> {'PASS' if report.all_ok else 'FAIL'}"
    )
    return "\n".join(lines)


def _event_text(d: Decision) -> str:
    return f"{d.type}:{d.reason}" if d.reason else d.type
