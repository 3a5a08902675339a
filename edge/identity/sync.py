"""Applying list changes from the backend: snapshots in parts, increments, versions and gaps.

Rules (docs/lists.md):
- `lists.snapshot` part p of n at version V is staged (table `snapshot_parts`); when all n
  parts of V are there, the store's subjects and templates are replaced by them in the same
  transaction that stores the last part, and the store becomes `backend` at version V. Parts
  may come in any order; a repeated part replaces the staged one; a part of a newer snapshot
  discards the staged parts of older ones; a part with another n discards the staged parts of
  V. Refused as `stale_version`: V <= the store's version (on a backend store) or V older
  than a snapshot being staged.
- `lists.update` from B to V is applied only when B == the store's version and V > it.
  V <= the store's version: `stale_version`. B != the store's version (or a store that never
  had a snapshot): `version_gap`, and the store is marked `snapshot_needed` until a
  snapshot arrives or an update brings it to the version that was missing.
- Anything malformed (duplicate ids, templates of one model with two lengths) is
  `bad_args`. A refused change changes no subject, template or version.

Every change is one SQLite transaction (edge.identity.db.transaction): all or nothing, also
when the process is killed in the middle.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from edge.identity import db
from edge.identity.wire import (
    SNAPSHOT,
    UPDATE,
    ListChange,
    ListSnapshot,
    ListUpdate,
    SubjectEntry,
    change_from_args,
    subject_from_wire,
    subject_to_wire,
)

__all__ = [
    "REASONS", "SNAPSHOT", "UPDATE", "ApplyResult", "ListChange", "ListSnapshot", "ListUpdate",
    "apply_change", "change_from_args", "snapshot_args",
]

log = logging.getLogger("edge.identity")

REASONS = ("version_gap", "stale_version", "bad_args")
# Room for a signed envelope around the arguments: 16,384 bytes minus at most ~450 of
# envelope fields (64-character site and gate, signature, ids, times), with margin.
ARGS_BUDGET_BYTES = 15 * 1024


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """`applied` False: refused with `reason` (one of REASONS), nothing changed. `version`:
    the store's list version afterwards. `detail`: one line for the log."""

    applied: bool
    reason: str | None
    version: int
    detail: str = ""


def apply_change(conn: sqlite3.Connection, change: ListChange, now_ns: int) -> ApplyResult:
    """Apply `change` in one transaction (the caller holds the connection's lock)."""
    with db.transaction(conn):
        meta = db.read_meta(conn)
        if isinstance(change, ListSnapshot):
            return _snapshot_part(conn, change, meta, now_ns)
        return _update(conn, change, meta, now_ns)


def _refuse(reason: str, version: int, detail: str) -> ApplyResult:
    log.warning("list change refused: %s: %s", reason, detail)
    return ApplyResult(False, reason, version, detail)


def _snapshot_part(conn: sqlite3.Connection, change: ListSnapshot, meta: db.Meta,
                   now_ns: int) -> ApplyResult:
    v = change.version
    if not 1 <= change.part <= change.parts:
        return _refuse("bad_args", meta.version, f"part {change.part} of {change.parts}")
    if meta.origin == "backend" and v <= meta.version:
        conn.execute("DELETE FROM snapshot_parts WHERE version <= ?", (meta.version,))
        return _refuse("stale_version", meta.version,
                       f"snapshot {v}, the store holds version {meta.version}")
    (newest,) = conn.execute("SELECT MAX(version) FROM snapshot_parts").fetchone()
    if newest is not None and newest > v:
        return _refuse("stale_version", meta.version,
                       f"snapshot {v} while snapshot {newest} is being received")
    if problem := _check_entries(change.subjects, {}):
        return _refuse("bad_args", meta.version, f"snapshot {v} part {change.part}: {problem}")
    conn.execute("DELETE FROM snapshot_parts WHERE version < ? OR (version = ? AND parts != ?)",
                 (v, v, change.parts))
    text = json.dumps([subject_to_wire(s) for s in change.subjects], separators=(",", ":"))
    conn.execute("INSERT OR REPLACE INTO snapshot_parts VALUES (?, ?, ?, ?, ?)",
                 (v, change.part, change.parts, text, now_ns))
    (have,) = conn.execute("SELECT COUNT(*) FROM snapshot_parts WHERE version = ?",
                           (v,)).fetchone()
    if have < change.parts:
        return ApplyResult(True, None, meta.version,
                           f"snapshot {v}: part {change.part} staged ({have}/{change.parts})")
    return _swap(conn, v, now_ns, meta)


def _swap(conn: sqlite3.Connection, version: int, now_ns: int, meta: db.Meta) -> ApplyResult:
    rows = conn.execute("SELECT subjects FROM snapshot_parts WHERE version = ? ORDER BY part",
                        (version,)).fetchall()
    conn.execute("DELETE FROM snapshot_parts WHERE version <= ?", (version,))
    subjects = [subject_from_wire(entry) for (text,) in rows for entry in json.loads(text)]
    if problem := _check_entries(subjects, {}):
        return _refuse("bad_args", meta.version, f"snapshot {version}: {problem}")
    conn.execute("DELETE FROM templates")
    conn.execute("DELETE FROM subjects")
    _write_subjects(conn, subjects, now_ns)
    db.write_meta(conn, version=version, updated_ns=now_ns, origin="backend",
                  snapshot_needed=False, last_gap=None)
    n_templates = sum(len(s.templates or ()) for s in subjects)
    log.info("list snapshot %d applied: %d subjects, %d templates (was version %d)",
             version, len(subjects), n_templates, meta.version)
    return ApplyResult(True, None, version,
                       f"snapshot {version}: {len(subjects)} subjects, {n_templates} templates")


def _update(conn: sqlite3.Connection, change: ListUpdate, meta: db.Meta,
            now_ns: int) -> ApplyResult:
    v, base = change.version, change.base_version
    if meta.origin == "backend" and v <= meta.version:
        return _refuse("stale_version", meta.version,
                       f"update to {v}, the store holds version {meta.version}")
    if meta.origin != "backend" or base != meta.version or v <= base:
        gap = {"at_ns": now_ns, "version": meta.version, "base_version": base, "got_version": v}
        db.write_meta(conn, version=meta.version, updated_ns=meta.updated_ns,
                      snapshot_needed=True, last_gap=gap)
        why = ("the store has no snapshot from the backend yet" if meta.origin != "backend"
               else f"update {base} -> {v}, the store holds version {meta.version}")
        return _refuse("version_gap", meta.version, why + "; a snapshot is needed")
    replaced = {s.id for s in change.upsert if s.templates is not None} | set(change.remove)
    problem = _check_entries(change.upsert, _kept_dims(conn, replaced))
    if not problem and len(set(change.remove)) != len(change.remove):
        problem = "an id is removed twice"
    if not problem and (both := set(change.remove) & {s.id for s in change.upsert}):
        problem = f"subject {sorted(both)[0]!r} is both upserted and removed"
    if problem:
        return _refuse("bad_args", meta.version, f"update {base} -> {v}: {problem}")
    removed = sum(db.delete_subject(conn, sid) for sid in change.remove)
    for entry in change.upsert:
        if entry.templates is not None:
            conn.execute("DELETE FROM templates WHERE subject_id = ?", (entry.id,))
    _write_subjects(conn, change.upsert, now_ns)
    caught_up = meta.last_gap is None or v >= int(meta.last_gap.get("got_version", 0))
    db.write_meta(conn, version=v, updated_ns=now_ns,
                  snapshot_needed=meta.snapshot_needed and not caught_up)
    return ApplyResult(True, None, v, f"update {base} -> {v}: {len(change.upsert)} upserted, "
                                      f"{removed} of {len(change.remove)} removed")


def _kept_dims(conn: sqlite3.Connection, replaced: set[str]) -> dict[str, int]:
    """D per model over the stored templates the change keeps (not those it replaces)."""
    dims = db.model_dims(conn)
    if not replaced:
        return dims
    marks = ",".join("?" * len(replaced))
    kept = conn.execute(
        f"SELECT model_id, length(embedding) FROM templates WHERE subject_id NOT IN ({marks}) "
        "GROUP BY model_id", sorted(replaced)).fetchall()
    return {str(model): int(size) // 4 for model, size in kept}


def _check_entries(subjects: Sequence[SubjectEntry], dims: dict[str, int]) -> str | None:
    """Why these entries cannot be stored together (with templates of lengths `dims`)."""
    dims = dict(dims)
    seen: set[str] = set()
    for s in subjects:
        if s.id in seen:
            return f"subject {s.id!r} appears twice"
        seen.add(s.id)
        for t in s.templates or ():
            d = dims.setdefault(t.model_id, t.embedding.shape[0])
            if d != t.embedding.shape[0]:
                return (f"subject {s.id!r}: a {t.embedding.shape[0]}-D template of model "
                        f"{t.model_id!r}, whose templates are {d}-D")
    return None


def _write_subjects(conn: sqlite3.Connection, subjects: Iterable[SubjectEntry],
                    now_ns: int) -> None:
    updated = db.iso_ns(now_ns)
    for s in subjects:
        db.put_subject(conn, (s.id, s.kind, db.iso(s.quarantine_until), s.health,
                              db.iso(s.health_at), updated))
        for t in s.templates or ():
            db.put_templates(conn, s.id, t.model_id, t.embedding.reshape(1, -1), updated)


# -- the backend side -----------------------------------------------------------------------


def snapshot_args(subjects: Sequence[SubjectEntry], version: int,
                  budget_bytes: int = ARGS_BUDGET_BYTES) -> list[dict[str, Any]]:
    """The `lists.snapshot` arguments of the full list `subjects` at `version`, in as few
    parts as fit `budget_bytes` of canonical JSON each (an empty list is one empty part)."""
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    reserve = 96  # {"parts":..,"part":..,"version":..,"subjects":[]} with 20-digit numbers
    for subject in subjects:
        wire = subject_to_wire(subject)
        n = len(json.dumps(wire, sort_keys=True, separators=(",", ":"))) + 1
        if reserve + n > budget_bytes:
            raise ValueError(f"subject {subject.id!r} alone is {n} bytes of JSON, over the "
                             f"{budget_bytes}-byte part budget: send fewer templates")
        if chunks[-1] and reserve + size + n > budget_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(wire)
        size += n
    return [{"version": version, "part": i, "parts": len(chunks), "subjects": chunk}
            for i, chunk in enumerate(chunks, start=1)]

