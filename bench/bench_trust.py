"""Pass trust benchmarks (list store, issue 11), run on demand; prints a table, asserts nothing.

For N revocation hashes (default 1,000,000; `python -m bench.bench_trust 200000`):
  - lookup of one 16-byte hash: a Python set of bytes against the sorted (N,) void-16 numpy
    array + np.searchsorted that StoreTrust uses (RevocationIndex), and StoreTrust.is_revoked
    end to end (with its trust_serial check, one SQLite read); the memory each takes;
  - building each from the store (what a reload costs);
  - the list sync: snapshot parts for N hashes, staging one part, the swap when the last
    part arrives (fresh, and a re-sent list with 1 % changed), the store file size.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge.identity.store import ListStore
from edge.identity.sync import change_from_args, snapshot_args
from edge.identity.trust import RevocationIndex, StoreTrust
from edge.identity.trustlists import Revocations


def _per_call_us(fn: Callable[[bytes], object], queries: list[bytes], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for q in queries:
            fn(q)
        best = min(best, time.perf_counter() - start)
    return best / len(queries) * 1e6


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def lookups(store: ListStore, raw: bytes, n: int) -> None:
    hits = [raw[i * 16:i * 16 + 16] for i in range(0, n, max(1, n // 1000))]
    queries = hits + [os.urandom(16) for _ in range(len(hits))]
    tracemalloc.start()
    t_set, as_set = _timed(lambda: {raw[i:i + 16] for i in range(0, len(raw), 16)})
    set_mb = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()
    t_read, stored = _timed(lambda: store.revoked("compound"))
    t_index, index = _timed(lambda: RevocationIndex(stored))  # type: ignore[arg-type]
    assert isinstance(index, RevocationIndex) and isinstance(as_set, set)
    trust = StoreTrust(store)
    t_reload, _ = _timed(lambda: trust.is_revoked("compound", [queries[0]]))
    print(f"revocation lookup, {n:,} hashes (one hash per call, half hits):")
    print(f"  python set of bytes       {_per_call_us(as_set.__contains__, queries):7.2f} us"
          f"   {set_mb:6.0f} MB   build from bytes {t_set:.2f} s")
    per_us = _per_call_us(lambda q: index.contains_any([q]), queries)
    print(f"  numpy void16 searchsorted {per_us:7.2f} us   {index.nbytes / 1e6:6.0f} MB   "
          f"read sorted from SQLite {t_read:.2f} s + "
          f"index {t_index * 1e3:.0f} ms")
    print(f"  StoreTrust.is_revoked     "
          f"{_per_call_us(lambda q: trust.is_revoked('compound', [q]), queries):7.2f} us"
          f"   (reload on a trust change: {t_reload:.2f} s)")


def sync(directory: Path, raw: bytes, n: int) -> None:
    revoked = [Revocations("compound", raw)]
    t_args, args = _timed(lambda: snapshot_args([], 5, revoked=revoked))
    assert isinstance(args, list)
    with ListStore.open(directory) as store:
        changes = [change_from_args("lists.snapshot", a) for a in args]
        start = time.perf_counter()
        for c in changes[:-1]:
            store.apply(c)
        t_stage = (time.perf_counter() - start) / max(1, len(changes) - 1)
        t_swap, _ = _timed(lambda: store.apply(changes[-1]))
        changed = raw[16 * (n // 100):] + os.urandom(16 * (n // 100))
        again = [change_from_args("lists.snapshot", a) for a in
                 snapshot_args([], 6, revoked=[Revocations("compound", changed)])]
        for c in again[:-1]:
            store.apply(c)
        t_resend, _ = _timed(lambda: store.apply(again[-1]))
        t_counts, _ = _timed(lambda: store.counts())
    size_mb = (directory / "lists.sqlite").stat().st_size / 1e6
    print(f"list sync, {n:,} hashes: {len(args)} snapshot parts of <= 15,360 bytes "
          f"(built in {t_args:.2f} s); staging a part {t_stage * 1e3:.1f} ms; swap at the "
          f"last part {t_swap:.2f} s; re-sent with 1 % changed {t_resend:.2f} s; counts() "
          f"{t_counts * 1e3:.0f} ms (then cached); store file {size_mb:.0f} MB")


def main(n: int) -> None:
    raw = np.random.default_rng(1).bytes(16 * n)
    tmp = Path(tempfile.mkdtemp(prefix="bench-trust-"))
    try:
        sync(tmp / "sync", raw, n)
        with ListStore.open(tmp / "look") as store:
            store.revoke([Revocations("compound", raw)])
            lookups(store, raw, n)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
