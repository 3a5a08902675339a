"""The child process of the SIGKILL test: applies one big list change and, at a chosen point
inside its transaction, tells the parent and waits to be killed."""

from __future__ import annotations

import threading
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from edge.identity.store import ListStore
from edge.identity.sync import ListUpdate
from edge.identity.trustlists import Revocations
from edge.identity.wire import ListChange, ListSnapshot
from tests.identity.lists_helpers import entries, entry, snapshot_parts

SUBJECTS = 1500
REVOKED = 200_000  # revocation hashes of the trust kinds below
PROGRESS_EVERY = 1000  # SQLite VM instructions between progress-handler calls


def trust_snapshot(version: int) -> list[ListSnapshot]:
    """Snapshot `version`: 50 subjects, two keys, REVOKED hashes of every kind."""
    from edge.identity.sync import change_from_args, snapshot_args
    from tests.identity.trust_helpers import compound_key, revocations

    args = snapshot_args(entries(50, seed=version), version,
                         trust=[compound_key(version), compound_key(1)],
                         revoked=revocations(REVOKED, seed=version))
    return [change_from_args("lists.snapshot", a) for a in args]  # type: ignore[misc]


def big_change(kind: str) -> ListChange:
    """`snapshot`: the last part of snapshot 11 (its arrival swaps in all 1,500 subjects);
    `update`: 10 -> 11 rewriting 1,000 subjects and removing 400. On a trust_snapshot(10)
    store: `revocations`: the last part of trust_snapshot(11) (200,000 hashes replaced by
    200,000 others); `revoke-update`: 10 -> 11 adding 150,000 hashes, removing 100,000 and
    swapping a key."""
    if kind == "snapshot":
        return snapshot_parts(entries(SUBJECTS, seed=11), version=11)[-1]
    if kind == "revocations":
        return trust_snapshot(11)[-1]
    if kind == "revoke-update":
        from tests.identity.trust_helpers import compound_key, random_hashes, revocations

        gone = revocations(REVOKED, seed=10)[0]
        return ListUpdate(10, 11, trust_add=(compound_key(3),),
                          trust_remove=(compound_key(10).kid,),
                          revoke_add=(Revocations("dcc-uci", random_hashes(150_000, seed=13)),),
                          revoke_remove=(Revocations(gone.kind, gone.hashes[:16 * 100_000]),))
    rng = np.random.default_rng(12)
    upsert = tuple(entry(i, rng, templates=3) for i in range(0, 1000))
    return ListUpdate(10, 11, upsert, tuple(f"s{i:05d}" for i in range(1100, 1500)))


def count_progress(directory: Path, kind: str) -> int:
    """How many progress calls the change makes inside its transaction (a dry run)."""
    calls = 0

    def tick() -> int:
        nonlocal calls
        calls += store._conn.in_transaction
        return 0

    with ListStore.open(directory, create=False) as store:
        store._conn.execute("PRAGMA cache_size = 20")
        store._conn.set_progress_handler(tick, PROGRESS_EVERY)
        assert store.apply(big_change(kind)).applied
    return calls


def apply_and_wait(directory: str, kind: str, stop_at: int, pipe: Connection) -> None:
    """Apply the change; at the `stop_at`-th progress call inside the transaction send
    "inside" and block until SIGKILL. A tiny page cache makes SQLite spill the
    uncommitted pages into the WAL file before that, as a big change on a small box does."""
    store = ListStore.open(Path(directory), create=False)
    store._conn.execute("PRAGMA cache_size = 20")
    calls = 0

    def tick() -> int:
        nonlocal calls
        if store._conn.in_transaction:
            calls += 1
            if calls == stop_at:
                pipe.send("inside")
                threading.Event().wait()  # until the parent's SIGKILL
        return 0

    store._conn.set_progress_handler(tick, PROGRESS_EVERY)
    result = store.apply(big_change(kind))
    pipe.send(f"finished {result.applied}")


def kill_inside(folder: Path, kind: str, calls: int, fraction: float) -> int:
    """Apply `big_change(kind)` to the store in `folder` in a child process and SIGKILL it
    `fraction` of the way through the transaction; returns the WAL file's size at the kill."""
    import multiprocessing
    import os
    import signal

    from edge.identity import db

    ctx = multiprocessing.get_context("spawn")
    parent, child_end = ctx.Pipe()
    child = ctx.Process(target=apply_and_wait,
                        args=(str(folder), kind, max(1, int(calls * fraction)), child_end))
    child.start()
    try:
        assert parent.poll(120), "the child never reached the kill point"
        assert parent.recv() == "inside"
        wal = folder / (db.FILENAME + "-wal")
        spilled = wal.stat().st_size if wal.exists() else 0
        os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
    finally:
        child.join(30)
    assert child.exitcode == -signal.SIGKILL
    return spilled
