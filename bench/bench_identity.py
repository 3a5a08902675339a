"""Identity benchmarks, run on demand; prints tables, asserts nothing.

1 thread (BLAS pinned), as on a loaded 2-core gate box.
  - match: Gallery.nearest (one matrix product, squared-distance expansion) for 1k, 10k and
    100k templates of 128-D, K = 1 and 6 queries, against a per-row Python loop (target: 100k
    templates in under 10 ms);
  - the distance error if templates travelled as float16 instead of float32.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from edge.identity.gallery import Gallery  # noqa: E402

DIM = 128


def _best_ms(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def _loop_nearest(templates: np.ndarray, rows: np.ndarray,
                  queries: np.ndarray) -> list[tuple[int, float]]:
    """The naive way: one distance per template row, in Python."""
    out = []
    for q in queries:
        best, best_row = float("inf"), -1
        for i in range(templates.shape[0]):
            d = float(np.sqrt(np.sum((templates[i] - q) ** 2)))
            if d < best:
                best, best_row = d, i
        out.append((int(rows[best_row]), best))
    return out


def _embeddings(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-length 128-D vectors with dlib-like spread (face distances around 0.3 to 1.0)."""
    e = rng.normal(0.0, 1.0, (n, DIM)).astype(np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def bench_match() -> None:
    print("\n## Gallery match (128-D, 1 thread; best of 20, Python loop: 1 run)\n")
    print("| templates | K | Gallery.nearest ms | per-row Python loop ms | speed-up "
          "| same answer |")
    print("|---|---|---|---|---|---|")
    rng = np.random.default_rng(1)
    for m in (1_000, 10_000, 100_000):
        templates = _embeddings(rng, m)
        subjects = m // 4
        rows = (np.arange(m) % subjects).astype(np.int32)
        gallery = Gallery([f"s{i}" for i in range(subjects)], rows, templates, "bench")
        for k in (1, 6):
            queries = _embeddings(rng, k)
            fast_ms = _best_ms(lambda g=gallery, q=queries: g.nearest(q), 20)
            start = time.perf_counter()
            naive = _loop_nearest(templates, rows, queries)
            loop_ms = (time.perf_counter() - start) * 1e3
            index, distance = gallery.nearest(queries)
            same = [int(i) for i in index] == [i for i, _ in naive] and np.allclose(
                distance, [d for _, d in naive], atol=1e-5)
            print(f"| {m:,} | {k} | {fast_ms:.2f} | {loop_ms:,.0f} | {loop_ms / fast_ms:,.0f}x "
                  f"| {'yes' if same else 'NO'} |")


def bench_float16() -> None:
    print("\n## Templates as float16 on the wire? (2,000 unit 128-D vectors, all pairs)\n")
    e32 = _embeddings(np.random.default_rng(2), 2000)
    e16 = e32.astype(np.float16).astype(np.float32)
    d32 = np.sqrt(np.maximum(2.0 - 2.0 * (e32 @ e32.T), 0.0))
    d16 = np.sqrt(np.maximum(
        (e16 * e16).sum(1)[:, None] + (e16 * e16).sum(1)[None] - 2.0 * (e16 @ e16.T), 0.0))
    change = np.abs(d32 - d16)
    print("| bytes per template f32 / f16 | max distance change | 99.9th percentile |")
    print("|---|---|---|")
    print(f"| {DIM * 4} / {DIM * 2} | {change.max():.2e} | {np.quantile(change, 0.999):.2e} |")


if __name__ == "__main__":
    bench_match()
    bench_float16()
