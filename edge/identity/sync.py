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
- Pass trust travels in the same commands under the same version (edge.identity.trustlists):
  a snapshot replaces the trusted keys and revocations with its `trust` / `revoked` sections
  (absent: none), an update adds and removes keys and hashes.
- Anything malformed (duplicate ids or kids, templates of one model with two lengths, a hash
  both revoked and un-revoked) is `bad_args`. A refused change changes no subject, template,
  key, revocation or version.

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

from edge.identity import db, trustlists
from edge.identity.trustlists import (
    HASH_BYTES,
    MAX_HASHES,
    Revocations,
    TrustedKey,
    keys_problem,
    kid_to_wire,
    revocations_from_wire,
    revocations_to_wire,
    trusted_from_wire,
    trusted_to_wire,
    update_problem,
)
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
    if problem := _check_entries(change.subjects, {}) or keys_problem(change.trust):
        return _refuse("bad_args", meta.version, f"snapshot {v} part {change.part}: {problem}")
    conn.execute("DELETE FROM snapshot_parts WHERE version < ? OR (version = ? AND parts != ?)",
                 (v, v, change.parts))
    conn.execute("INSERT OR REPLACE INTO snapshot_parts (version, part, parts, subjects, "
                 "received_ns, trust, revoked) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (v, change.part, change.parts,
                  _json([subject_to_wire(s) for s in change.subjects]), now_ns,
                  _json([trusted_to_wire(k) for k in change.trust]),
                  _json([revocations_to_wire(r) for r in change.revoked])))
    (have,) = conn.execute("SELECT COUNT(*) FROM snapshot_parts WHERE version = ?",
                           (v,)).fetchone()
    if have < change.parts:
        return ApplyResult(True, None, meta.version,
                           f"snapshot {v}: part {change.part} staged ({have}/{change.parts})")
    return _swap(conn, v, now_ns, meta)


def _json(items: list[dict[str, Any]]) -> str:
    return json.dumps(items, separators=(",", ":"))


def _swap(conn: sqlite3.Connection, version: int, now_ns: int, meta: db.Meta) -> ApplyResult:
    rows = conn.execute("SELECT subjects, trust, revoked FROM snapshot_parts WHERE version = ? "
                        "ORDER BY part", (version,)).fetchall()
    conn.execute("DELETE FROM snapshot_parts WHERE version <= ?", (version,))
    subjects = [subject_from_wire(entry) for (text, _, _) in rows for entry in json.loads(text)]
    keys = [trusted_from_wire(e, "trust") for (_, text, _) in rows for e in json.loads(text)]
    revoked = [revocations_from_wire(e, "revoked") for (*_, text) in rows
               for e in json.loads(text)]
    if problem := _check_entries(subjects, {}) or keys_problem(keys):
        return _refuse("bad_args", meta.version, f"snapshot {version}: {problem}")
    conn.execute("DELETE FROM templates")
    conn.execute("DELETE FROM subjects")
    _write_subjects(conn, subjects, now_ns)
    trustlists.replace_all(conn, keys, revoked, now_ns)
    db.write_meta(conn, version=version, updated_ns=now_ns, origin="backend",
                  snapshot_needed=False, last_gap=None)
    n_templates = sum(len(s.templates or ()) for s in subjects)
    n_revoked = sum(r.count for r in revoked)
    log.info("list snapshot %d applied: %d subjects, %d templates, %d trusted keys, %d "
             "revocation hashes (was version %d)", version, len(subjects), n_templates,
             len(keys), n_revoked, meta.version)
    return ApplyResult(True, None, version,
                       f"snapshot {version}: {len(subjects)} subjects, {n_templates} templates, "
                       f"{len(keys)} trusted keys, {n_revoked} revocation hashes")


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
    problem = problem or update_problem(change.trust_add, change.trust_remove,
                                        change.revoke_add, change.revoke_remove)
    if problem:
        return _refuse("bad_args", meta.version, f"update {base} -> {v}: {problem}")
    removed = sum(db.delete_subject(conn, sid) for sid in change.remove)
    for entry in change.upsert:
        if entry.templates is not None:
            conn.execute("DELETE FROM templates WHERE subject_id = ?", (entry.id,))
    _write_subjects(conn, change.upsert, now_ns)
    trust = _apply_trust(conn, change, now_ns)
    caught_up = meta.last_gap is None or v >= int(meta.last_gap.get("got_version", 0))
    db.write_meta(conn, version=v, updated_ns=now_ns,
                  snapshot_needed=meta.snapshot_needed and not caught_up)
    return ApplyResult(True, None, v, f"update {base} -> {v}: {len(change.upsert)} upserted, "
                                      f"{removed} of {len(change.remove)} removed{trust}")


def _apply_trust(conn: sqlite3.Connection, change: ListUpdate, now_ns: int) -> str:
    """An update's trust sections (checked already); the detail to add to its result."""
    if not change.touches_trust:
        return ""
    dropped = trustlists.delete_keys(conn, change.trust_remove)
    trustlists.put_keys(conn, change.trust_add, now_ns)
    unrevoked = trustlists.delete_revocations(conn, change.revoke_remove)
    revoked = trustlists.put_revocations(conn, change.revoke_add, now_ns)
    trustlists.bump(conn)
    return (f"; keys: {len(change.trust_add)} added, {dropped} of {len(change.trust_remove)} "
            f"removed; hashes: {revoked} revoked, {unrevoked} un-revoked")


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
                  budget_bytes: int = ARGS_BUDGET_BYTES, *, trust: Sequence[TrustedKey] = (),
                  revoked: Sequence[Revocations] = ()) -> list[dict[str, Any]]:
    """The `lists.snapshot` arguments of the full list at `version` (its subjects, trusted
    pass keys and revocation hashes), in as few parts as fit `budget_bytes` of canonical JSON
    each (an empty list is one empty part). `trust` / `revoked` appear in a part only when it
    carries some, so a list without them is sent exactly as before schema 2."""
    parts = _Parts(budget_bytes)
    for subject in subjects:
        parts.add("subjects", subject_to_wire(subject), f"subject {subject.id!r}")
    for key in trust:
        parts.add("trust", trusted_to_wire(key), f"trusted key {kid_to_wire(key.kid)}")
    for kind, hashes in sorted(trustlists.by_kind(revoked).items()):
        parts.add_hashes(kind, hashes.tobytes())
    n = len(parts.chunks)
    return [{"version": version, "part": i, "parts": n,
             **{k: v for k, v in chunk.items() if v or k == "subjects"}}
            for i, chunk in enumerate(parts.chunks, start=1)]


class _Parts:
    """Greedy packing of wire items into parts of at most `budget` bytes of JSON."""

    RESERVE = 96  # {"parts":..,"part":..,"version":..,"subjects":[]} with 20-digit numbers

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.chunks: list[dict[str, list[dict[str, Any]]]] = []
        self._next()

    def _next(self) -> None:
        self.chunks.append({"subjects": [], "trust": [], "revoked": []})
        self.size = self.RESERVE

    def _cost(self, key: str, n: int) -> int:
        """Bytes of an item of n bytes under `key` in the current part (a new key's name)."""
        opens = key != "subjects" and not self.chunks[-1][key]
        return n + 1 + (len(key) + 6 if opens else 0)  # ,"key":[] and the item's comma

    def add(self, key: str, item: dict[str, Any], what: str) -> None:
        n = len(json.dumps(item, sort_keys=True, separators=(",", ":")))
        if self.RESERVE + n + len(key) + 7 > self.budget:
            raise ValueError(f"{what} alone is {n} bytes of JSON, over the {self.budget}-byte "
                             "part budget: send fewer templates")
        if self.size + self._cost(key, n) > self.budget:
            self._next()
        self.size += self._cost(key, n)
        self.chunks[-1][key].append(item)

    def add_hashes(self, kind: str, raw: bytes) -> None:
        """`raw` (16-byte hashes of one kind) cut into entries that fill the parts."""
        empty = len(json.dumps({"hashes": "", "kind": kind}, separators=(",", ":")))
        at = 0
        while at < len(raw):
            room = self.budget - self.size - self._cost("revoked", empty)
            fit = min(3 * (room // 4) // HASH_BYTES, MAX_HASHES, (len(raw) - at) // HASH_BYTES)
            if fit < 1:
                if not any(self.chunks[-1].values()):
                    raise ValueError(f"a {self.budget}-byte part holds no revocation hash")
                self._next()
                continue
            item = revocations_to_wire(Revocations(kind, raw[at:at + fit * HASH_BYTES]))
            self.size += self._cost("revoked", empty + len(item["hashes"]))
            self.chunks[-1]["revoked"].append(item)
            at += fit * HASH_BYTES
            if at < len(raw):  # one entry per kind and part (the schema's rule)
                self._next()
