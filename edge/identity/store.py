"""The list store: who may be recognised, their status, their face templates (docs/lists.md).

A folder holding `lists.sqlite` (edge.identity.db). Two ways to fill it, never mixed:

- **local** (a new store): the CLI edits it (`enroll`, `quarantine`, `health`); every edit
  is its own transaction and raises the list version by one. This is the store a site without
  a backend runs on, and the store a backend keeps and pushes to its gates.
- **backend**: the first `lists.snapshot` from the backend replaces whatever the store held
  and makes it a backend store, at the backend's version; from then on only the backend's
  signed changes edit it (`apply`), and local edits are refused with a message saying so (a
  local edit would be silently undone by the next snapshot).

It also holds the pass trust roots and revocations (edge.identity.trustlists; read through
edge.identity.trust.StoreTrust), edited the same two ways. The gate reads `version` to know
when to rebuild its gallery; `version`, `updated_ns`,
`snapshot_needed` and `counts()` are read from the file at each call, so another process's
edit is seen. One connection, guarded by a lock: any thread may call any method.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edge.errors import IdentityError
from edge.identity import db, trustlists
from edge.identity.gallery import Gallery
from edge.identity.sync import ApplyResult, ListChange, apply_change
from edge.identity.trustlists import Revocations, TrustedKey

__all__ = ["ListStore", "Subject"]

log = logging.getLogger("edge.identity")


@dataclass(frozen=True, slots=True)
class Subject:
    id: str
    kind: str  # resident | worker | visitor
    quarantine_until: datetime | None  # UTC; home quarantine in force before this instant
    health: str | None  # green | yellow | red
    health_at: datetime | None

    def quarantined_at(self, now: datetime) -> bool:
        return self.quarantine_until is not None and now < self.quarantine_until


class ListStore:
    def __init__(self, directory: Path, conn: Any,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.directory = Path(directory)
        self._conn = conn
        self._lock = threading.RLock()
        self._clock_ns = clock_ns
        self._counted: tuple[int | None, dict[str, int]] = (None, {})  # trust_serial, counts

    @classmethod
    def open(cls, directory: Path, *, create: bool = True) -> ListStore:
        """The store in `directory` (created, mode 0700 / 0600, unless `create` is False);
        IdentityError with one line when it cannot be used."""
        return cls(Path(directory), db.connect(Path(directory), create=create))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ListStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- state ------------------------------------------------------------------------------

    def _meta(self) -> db.Meta:
        with self._lock:
            return db.read_meta(self._conn)

    @property
    def version(self) -> int:
        return self._meta().version

    @property
    def updated_ns(self) -> int:
        """When the list last changed (ns since the epoch; 0 for a store never edited)."""
        return self._meta().updated_ns

    @property
    def snapshot_needed(self) -> bool:
        return self._meta().snapshot_needed

    @property
    def origin(self) -> str:
        """"local" (CLI-edited) or "backend" (synced)."""
        return self._meta().origin

    @property
    def last_gap(self) -> dict[str, int] | None:
        """The last refused increment: {at_ns, version, base_version, got_version}."""
        return self._meta().last_gap

    def subjects(self) -> list[Subject]:
        with self._lock:
            rows = self._conn.execute("SELECT id, kind, quarantine_until, health, health_at "
                                      "FROM subjects ORDER BY id").fetchall()
        return [_subject(row) for row in rows]

    def subject(self, subject_id: str) -> Subject | None:
        with self._lock:
            row = self._conn.execute("SELECT id, kind, quarantine_until, health, health_at "
                                     "FROM subjects WHERE id = ?", (subject_id,)).fetchone()
        return None if row is None else _subject(row)

    def templates(self, subject_id: str) -> dict[str, NDArray[np.float32]]:
        """model id -> (K, D) templates of one subject (for `lists show` and the backend)."""
        with self._lock:
            rows = self._conn.execute("SELECT model_id, embedding FROM templates WHERE "
                                      "subject_id = ? ORDER BY id", (subject_id,)).fetchall()
        by_model: dict[str, list[bytes]] = {}
        for model_id, blob in rows:
            by_model.setdefault(str(model_id), []).append(bytes(blob))
        return {m: _matrix(blobs) for m, blobs in by_model.items()}

    def counts(self, now: datetime | None = None) -> dict[str, int]:
        """subjects, templates, quarantined (at `now`, default the clock), health_green /
        health_yellow / health_red / health_none, and per kind (resident, worker, visitor)."""
        at = db.iso(now) if now is not None else db.iso_ns(self._clock_ns())
        with self._lock:
            (templates,) = self._conn.execute("SELECT COUNT(*) FROM templates").fetchone()
            (quarantined,) = self._conn.execute(
                "SELECT COUNT(*) FROM subjects WHERE quarantine_until > ?", (at,)).fetchone()
            health = dict(self._conn.execute(
                "SELECT COALESCE(health, 'none'), COUNT(*) FROM subjects GROUP BY 1").fetchall())
            kinds = dict(self._conn.execute(
                "SELECT kind, COUNT(*) FROM subjects GROUP BY kind").fetchall())
        out = {"subjects": sum(kinds.values()), "templates": int(templates),
               "quarantined": int(quarantined)}
        out.update({f"health_{h}": int(health.get(h, 0)) for h in (*db.HEALTH, "none")})
        out.update({k: int(kinds.get(k, 0)) for k in db.KINDS})
        out.update(self._trust_counts())
        return out

    def _trust_counts(self) -> dict[str, int]:
        """Counting a million revocations takes ~0.1 s: cached until trust_serial moves."""
        with self._lock:
            serial = trustlists.serial(self._conn)
            if self._counted[0] != serial:
                self._counted = (serial, trustlists.counts(self._conn))
            return dict(self._counted[1])

    # -- pass trust -------------------------------------------------------------------------

    @property
    def trust_serial(self) -> int:
        """Raised by every change to the trusted keys or revocations (never lowered)."""
        with self._lock:
            return trustlists.serial(self._conn)

    def trusted(self) -> list[TrustedKey]:
        """The trusted pass signers (compound keys and DCC certificates), by kid."""
        with self._lock:
            return trustlists.read_keys(self._conn)

    def revoked(self, kind: str) -> bytes:
        """Every revoked hash of `kind`, concatenated 16-byte values in memcmp order."""
        with self._lock:
            return trustlists.read_revoked(self._conn, kind)

    def trust_lists(self) -> tuple[list[TrustedKey], list[Revocations]]:
        """Every trusted key and every kind's hashes, read in one transaction: what
        `snapshot_args(..., trust=, revoked=)` sends (`gate-edge push lists`)."""
        with self._lock, db.transaction(self._conn):
            keys = trustlists.read_keys(self._conn)
            revoked = [Revocations(k, trustlists.read_revoked(self._conn, k))
                       for k in trustlists.REVOCATION_KINDS]
        return keys, [r for r in revoked if r.hashes]

    def add_trusted(self, keys: list[TrustedKey]) -> None:
        """Trust these pass signers (made by edge.identity.trust.trusted_key: kid checked)."""
        if problem := trustlists.keys_problem(keys):
            raise IdentityError(problem)
        with self._local_edit() as (conn, _now):
            trustlists.put_keys(conn, keys, self._clock_ns())
            trustlists.bump(conn)

    def remove_trusted(self, kid: bytes) -> None:
        with self._local_edit() as (conn, _now):
            if not trustlists.delete_keys(conn, [kid]):
                raise IdentityError(f"{self.directory}: no trusted key "
                                    f"{trustlists.kid_to_wire(kid)}")
            trustlists.bump(conn)

    def revoke(self, revoked: list[Revocations], *, undo: bool = False) -> int:
        """Add (or, with `undo`, remove) revocation hashes; how many were new (or gone)."""
        with self._local_edit() as (conn, _now):
            n = (trustlists.delete_revocations(conn, revoked) if undo
                 else trustlists.put_revocations(conn, revoked, self._clock_ns()))
            trustlists.bump(conn)
        return n

    def gallery(self, model_id: str, *, empty_dim: int = 128) -> Gallery:
        """Every template of `model_id` as one matrix (subjects in id order). Templates of
        other models are left out, with a WARNING counting them. An empty gallery has D =
        `empty_dim`."""
        with self._lock:
            rows = self._conn.execute("SELECT subject_id, embedding FROM templates WHERE "
                                      "model_id = ? ORDER BY subject_id, id",
                                      (model_id,)).fetchall()
            others = self._conn.execute("SELECT model_id, COUNT(*) FROM templates WHERE "
                                        "model_id != ? GROUP BY model_id",
                                        (model_id,)).fetchall()
        if others:
            log.warning("list store %s: %d templates of other models ignored (%s); the gate "
                        "matches with %s: enroll those subjects again with it", self.directory,
                        sum(n for _, n in others), ", ".join(f"{m}: {n}" for m, n in others),
                        model_id)
        if not rows:
            return Gallery.empty(model_id, empty_dim)
        ids = np.array([r[0] for r in rows])
        subjects, row_subject = np.unique(ids, return_inverse=True)
        return Gallery([str(s) for s in subjects], row_subject.astype(np.int32),
                       _matrix([bytes(r[1]) for r in rows]), model_id)

    # -- local edits (CLI) ------------------------------------------------------------------

    def enroll(self, subject_id: str, kind: str, embeddings: NDArray[np.float32],
               model_id: str) -> None:
        """Add templates (K, D) of `model_id` to a subject, created with `kind` if new (an
        existing subject takes the new kind, keeps its status and other templates)."""
        embeddings = db.check_embeddings(embeddings, "embeddings")
        _check_kind(kind)
        _check_name(subject_id, "subject id")
        _check_name(model_id, "model id")
        with self._local_edit() as (conn, now):
            dims = db.model_dims(conn)
            if dims.get(model_id, embeddings.shape[1]) != embeddings.shape[1]:
                raise IdentityError(f"{self.directory}: templates of model {model_id!r} are "
                                    f"{dims[model_id]}-D here, not {embeddings.shape[1]}-D")
            row = conn.execute("SELECT quarantine_until, health, health_at FROM subjects "
                               "WHERE id = ?", (subject_id,)).fetchone() or (None, None, None)
            db.put_subject(conn, (subject_id, kind, *row, now))
            db.put_templates(conn, subject_id, model_id, embeddings, now)

    def set_quarantine(self, subject_id: str, until: datetime | None) -> None:
        """Home quarantine in force until `until` (UTC-aware), or lifted (None)."""
        until_text = _aware(until, "until")
        with self._local_edit() as (conn, now):
            self._require(conn, subject_id)
            conn.execute("UPDATE subjects SET quarantine_until = ?, updated = ? WHERE id = ?",
                         (until_text, now, subject_id))

    def set_health(self, subject_id: str, status: str, at: datetime) -> None:
        if status not in db.HEALTH:
            raise IdentityError(f"health {status!r} is not one of {', '.join(db.HEALTH)}")
        at_text = _aware(at, "at")
        with self._local_edit() as (conn, now):
            self._require(conn, subject_id)
            conn.execute("UPDATE subjects SET health = ?, health_at = ?, updated = ? "
                         "WHERE id = ?", (status, at_text, now, subject_id))

    def remove_subject(self, subject_id: str) -> None:
        """Delete a subject and every template of it."""
        with self._local_edit() as (conn, _now):
            self._require(conn, subject_id)
            db.delete_subject(conn, subject_id)

    def _require(self, conn: Any, subject_id: str) -> None:
        if conn.execute("SELECT 1 FROM subjects WHERE id = ?", (subject_id,)).fetchone() is None:
            raise IdentityError(f"{self.directory}: no subject {subject_id!r}; enroll it first")

    def _local_edit(self) -> _LocalEdit:
        return _LocalEdit(self)

    # -- sync -------------------------------------------------------------------------------

    def apply(self, change: ListChange) -> ApplyResult:
        """A backend change (edge.identity.sync), in one transaction: all or nothing."""
        with self._lock:
            return apply_change(self._conn, change, self._clock_ns())


class _LocalEdit:
    """One CLI edit: a transaction on a local store that raises the version by one."""

    def __init__(self, store: ListStore) -> None:
        self._store = store
        self._now_ns = 0

    def __enter__(self) -> tuple[Any, str]:
        store = self._store
        store._lock.acquire()
        try:
            store._conn.execute("BEGIN IMMEDIATE")
            meta = db.read_meta(store._conn)
            if meta.origin != "local":
                raise IdentityError(
                    f"{store.directory}: this list store is synced from the backend (list "
                    f"version {meta.version}); make the change on the backend and push it")
        except BaseException:
            if store._conn.in_transaction:
                store._conn.execute("ROLLBACK")
            store._lock.release()
            raise
        self._now_ns = store._clock_ns()
        self._version = meta.version
        return store._conn, db.iso_ns(self._now_ns)

    def __exit__(self, exc_type: object, *_rest: object) -> None:
        conn = self._store._conn
        try:
            if exc_type is not None:
                conn.execute("ROLLBACK")
                return
            db.write_meta(conn, version=self._version + 1, updated_ns=self._now_ns)
            conn.execute("COMMIT")
        finally:
            self._store._lock.release()


def _subject(row: tuple[Any, ...]) -> Subject:
    return Subject(str(row[0]), str(row[1]), db.parse_iso(row[2]), row[3],
                   db.parse_iso(row[4]))


def _matrix(blobs: list[bytes]) -> NDArray[np.float32]:
    sizes = {len(b) for b in blobs}
    if len(sizes) != 1 or sizes.pop() % 4:
        raise IdentityError("list store corrupt: templates of one model differ in length")
    return np.frombuffer(b"".join(blobs), "<f4").astype(np.float32).reshape(len(blobs), -1)


def _check_kind(kind: str) -> None:
    if kind not in db.KINDS:
        raise IdentityError(f"kind {kind!r} is not one of {', '.join(db.KINDS)}")


def _check_name(value: str, what: str) -> None:
    if not isinstance(value, str) or not re.fullmatch(db.ID_PATTERN, value):
        raise IdentityError(f"{what} {value!r:.80} must be 1 to 64 characters of A-Z a-z 0-9 "
                            "_ . : @ + -")


def _aware(stamp: datetime | None, what: str) -> str | None:
    try:
        return db.iso(stamp)
    except ValueError as exc:
        raise IdentityError(f"{what}: {exc}") from None

