"""The list store's SQLite file: schema, migrations, transactions and the row codecs.

`DIR/lists.sqlite`, WAL journal, `synchronous=FULL` (a committed change survives a power cut),
file mode 0600 (templates are biometric data; a store found readable by others is made 0600
again at open, with a WARNING). `schema_version` holds one row; each entry of
`MIGRATIONS` brings the file one version up, inside one transaction, so an old file is
upgraded at open and a file from a newer gate-edge is refused. Migration 2 (issue 11) adds
the pass trust roots (`trusted_keys`), the revocation hashes (`revocations`), their staging
columns in `snapshot_parts`, and `meta.trust_serial` (raised by every change to either
table, so a reader reloads its in-memory index only when they changed).

Times are stored as UTC text of one fixed width, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so SQL can
compare them as strings. Embeddings are float32 little-endian BLOBs, D * 4 bytes.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edge.errors import IdentityError

log = logging.getLogger("edge.identity")

FILENAME = "lists.sqlite"
SCHEMA_VERSION = 2
KINDS = ("resident", "worker", "visitor")
HEALTH = ("green", "yellow", "red")
ORIGINS = ("local", "backend")
ID_PATTERN = r"[A-Za-z0-9_.:@+-]{1,64}"  # subject and model ids (also the command schema's)

_V1 = """
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    list_version INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('local', 'backend')),
    snapshot_needed INTEGER NOT NULL CHECK (snapshot_needed IN (0, 1)),
    last_gap TEXT
);
INSERT INTO meta VALUES (1, 0, 0, 'local', 0, NULL);
CREATE TABLE subjects (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('resident', 'worker', 'visitor')),
    quarantine_until TEXT,
    health TEXT CHECK (health IN ('green', 'yellow', 'red')),
    health_at TEXT,
    updated TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE templates (
    id INTEGER PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects(id),
    model_id TEXT NOT NULL,
    embedding BLOB NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX templates_by_model ON templates (model_id, subject_id);
CREATE INDEX templates_by_subject ON templates (subject_id);
CREATE TABLE snapshot_parts (
    version INTEGER NOT NULL,
    part INTEGER NOT NULL,
    parts INTEGER NOT NULL,
    subjects TEXT NOT NULL,
    received_ns INTEGER NOT NULL,
    PRIMARY KEY (version, part)
);
"""
# Pass trust (edge.identity.trustlists): a compound pass key (Ed25519 SubjectPublicKeyInfo DER)
# or a DCC signer certificate (X.509 DER) by kid = sha256(der)[:8]; revocations as 16-byte
# truncated SHA-256 values per kind. The primary key (kind, hash) keeps each kind's hashes in
# memcmp order, so an index is read sorted without a sort.
_V2 = """
ALTER TABLE meta ADD COLUMN trust_serial INTEGER NOT NULL DEFAULT 0;
CREATE TABLE trusted_keys (
    kid BLOB PRIMARY KEY CHECK (length(kid) = 8),
    kind TEXT NOT NULL CHECK (kind IN ('compound', 'dcc')),
    der BLOB NOT NULL,
    added_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE revocations (
    kind TEXT NOT NULL
        CHECK (kind IN ('compound', 'dcc-uci', 'dcc-country-uci', 'dcc-signature')),
    hash BLOB NOT NULL CHECK (length(hash) = 16),
    added_ns INTEGER NOT NULL,
    PRIMARY KEY (kind, hash)
) WITHOUT ROWID;
ALTER TABLE snapshot_parts ADD COLUMN trust TEXT NOT NULL DEFAULT '[]';
ALTER TABLE snapshot_parts ADD COLUMN revoked TEXT NOT NULL DEFAULT '[]';
"""
MIGRATIONS: dict[int, str] = {1: _V1, 2: _V2}  # target version -> DDL from the version below


@dataclass(frozen=True, slots=True)
class Meta:
    version: int
    updated_ns: int
    origin: str
    snapshot_needed: bool
    last_gap: dict[str, int] | None


def connect(directory: Path, *, create: bool) -> sqlite3.Connection:
    """Open (and create or upgrade) the store in `directory`; IdentityError in one line."""
    directory = Path(directory)
    path = directory / FILENAME
    if directory.exists() and not directory.is_dir():
        raise IdentityError(f"{directory}: not a directory (the list store is a folder)")
    if not path.is_file():
        if not create:
            raise IdentityError(f"{directory}: no list store ({FILENAME}) there; enroll a "
                                "subject or sync from the backend to create one")
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Created 0600 before SQLite sees it; SQLite gives -wal and -shm the same mode.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise IdentityError(f"{directory}: cannot create the list store: "
                                f"{exc.strerror or exc}") from None
    _private(path)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                               timeout=10.0)
    except sqlite3.Error as exc:
        raise IdentityError(f"{path}: cannot open the list store: {exc}") from None
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        _migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise IdentityError(f"{path}: not a readable list store ({exc})") from None
    except IdentityError:
        conn.close()
        raise
    return conn


def _private(path: Path) -> None:
    """A store readable by others (copied in, or made by hand) is made 0600 again."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
            log.warning("list store %s was readable by other users: now mode 0600", path)
    except OSError as exc:  # not ours: say so, the store still works
        log.warning("list store %s: cannot make it private (%s)", path, exc.strerror or exc)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    with transaction(conn):
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        have = 0 if row is None else int(row[0])
        if have > SCHEMA_VERSION:
            raise IdentityError(f"{path}: list store schema {have} is newer than this "
                                f"gate-edge understands ({SCHEMA_VERSION}); upgrade gate-edge")
        for target in range(have + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target].split(";"):
                if statement.strip():
                    conn.execute(statement)
        if have == 0:
            conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
        elif have < SCHEMA_VERSION:
            conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception: all or nothing."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def read_meta(conn: sqlite3.Connection) -> Meta:
    version, updated_ns, origin, needed, gap = conn.execute(
        "SELECT list_version, updated_ns, origin, snapshot_needed, last_gap FROM meta").fetchone()
    return Meta(int(version), int(updated_ns), str(origin), bool(needed),
                None if gap is None else json.loads(gap))


def write_meta(conn: sqlite3.Connection, *, version: int, updated_ns: int,
               origin: str | None = None, snapshot_needed: bool | None = None,
               last_gap: dict[str, int] | bool | None = False) -> None:
    """Set the list version and time; origin, the flag and the gap only when given
    (`last_gap=False` keeps the stored one, None clears it)."""
    conn.execute("UPDATE meta SET list_version = ?, updated_ns = ?", (version, updated_ns))
    if origin is not None:
        conn.execute("UPDATE meta SET origin = ?", (origin,))
    if snapshot_needed is not None:
        conn.execute("UPDATE meta SET snapshot_needed = ?", (int(snapshot_needed),))
    if last_gap is not False:
        text = None if last_gap is None or last_gap is True else json.dumps(last_gap)
        conn.execute("UPDATE meta SET last_gap = ?", (text,))


# -- codecs ---------------------------------------------------------------------------------


def iso(stamp: datetime | None) -> str | None:
    """UTC text of fixed width; naive datetimes are refused (their zone is a guess)."""
    if stamp is None:
        return None
    if stamp.tzinfo is None or stamp.utcoffset() is None:
        raise ValueError(f"{stamp.isoformat()} has no time zone; give UTC (…Z or +00:00)")
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_ns(t_ns: int) -> str:
    return iso(datetime.fromtimestamp(t_ns / 1e9, UTC)) or ""


def parse_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def embedding_blob(row: NDArray[np.float32]) -> bytes:
    return np.ascontiguousarray(row, dtype="<f4").tobytes()


def check_embeddings(embeddings: Any, what: str) -> NDArray[np.float32]:
    """(K, D) float32, K >= 1, finite: ValueError naming `what` otherwise."""
    if not isinstance(embeddings, np.ndarray) or embeddings.ndim != 2:
        raise ValueError(f"{what} must be a 2-D (K, D) array, got "
                         f"{getattr(embeddings, 'shape', type(embeddings).__name__)}")
    if embeddings.dtype != np.float32:
        raise ValueError(f"{what} must be float32, got {embeddings.dtype}")
    if embeddings.shape[0] < 1 or embeddings.shape[1] < 1:
        raise ValueError(f"{what} must hold at least one non-empty row, got {embeddings.shape}")
    if not np.isfinite(embeddings).all():
        raise ValueError(f"{what} must be finite (no NaN or infinity)")
    return embeddings


def model_dims(conn: sqlite3.Connection) -> dict[str, int]:
    """model id -> D of its stored templates (one D per model is an invariant)."""
    rows = conn.execute("SELECT model_id, MIN(length(embedding)), MAX(length(embedding)) "
                        "FROM templates GROUP BY model_id").fetchall()
    out = {}
    for model_id, low, high in rows:
        if low != high:
            raise IdentityError(f"list store corrupt: templates of model {model_id!r} have "
                                f"different lengths ({low} and {high} bytes)")
        out[str(model_id)] = int(low) // 4
    return out


def put_subject(conn: sqlite3.Connection, row: tuple[Any, ...]) -> None:
    """Insert or update (id, kind, quarantine_until, health, health_at, updated)."""
    conn.execute(
        "INSERT INTO subjects VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
        "kind = excluded.kind, quarantine_until = excluded.quarantine_until, "
        "health = excluded.health, health_at = excluded.health_at, updated = excluded.updated",
        row)


def put_templates(conn: sqlite3.Connection, subject_id: str, model_id: str,
                  embeddings: NDArray[np.float32], created: str) -> None:
    conn.executemany(
        "INSERT INTO templates (subject_id, model_id, embedding, created) VALUES (?, ?, ?, ?)",
        [(subject_id, model_id, embedding_blob(e), created) for e in embeddings])


def delete_subject(conn: sqlite3.Connection, subject_id: str) -> bool:
    conn.execute("DELETE FROM templates WHERE subject_id = ?", (subject_id,))
    return conn.execute("DELETE FROM subjects WHERE id = ?", (subject_id,)).rowcount > 0
