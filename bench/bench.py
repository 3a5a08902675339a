"""Benchmarks, run on demand (`make bench`); prints tables, asserts nothing.

1 thread everywhere (OpenCV and BLAS pinned), as on a loaded 2-core gate box.
  - replay throughput (frames/s, multiple of real time) for the real kiosk footage in
    ../shared/data/thermal/cptv and for a synthetic 640x512 recording;
  - the hot loop per frame for 1, 10 and 30 faces, vectorised vs a per-face Python loop;
  - decision latency of `gate-edge run` on real-time replays, and under overload
    (bench/bench_latency.py).
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tomllib  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from edge.app.replay import replay  # noqa: E402
from edge.config import validate  # noqa: E402
from edge.sim.thermal import SceneSpec, synthesize  # noqa: E402
from edge.thermal.face_max import FaceMaxLocalMean, FacePeak, face_stat_naive_c  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "thermal" / "cptv"


def _replay_row(name: str, path: Path, raw: dict[str, object], repeats: int = 3) -> str:
    settings = validate(raw, "bench")
    best = None
    for _ in range(repeats):
        result = replay(settings, path, publish=False)
        if best is None or result.wall_s < best.wall_s:
            best = result
    assert best is not None
    fps = best.thermal_frames / best.wall_s
    x_rt = best.footage_s / best.wall_s
    return f"| {name} | {best.thermal_frames} | {fps:,.0f} | {x_rt:,.1f}x | {len(best.decisions)} |"


def bench_replay() -> None:
    print("\n## Replay throughput (offline pipeline, 1 thread, best of 3)\n")
    print("| recording | frames | frames/s | x real time | events |")
    print("|---|---|---|---|---|")
    kiosk = tomllib.loads((REPO / "configs" / "thermal-kiosk.toml").read_text())
    if SHARED.is_dir():
        for path in sorted(SHARED.glob("*.cptv")):
            print(_replay_row(f"kiosk {path.name[:20]} (160x120 @ 9 fps)", path, kiosk))
    else:
        print(f"| (kiosk footage skipped: {SHARED} absent) | | | | |")
    with tempfile.TemporaryDirectory() as tmp:
        # 256x192 @ 25 fps: the P2 Pro / TC001 thermal-only kiosk (issue 13's second scene).
        for w, h, fps, people in ((160, 120, 9.0, 24), (256, 192, 25.0, 12), (640, 512, 9.0, 8)):
            scene = Path(tmp) / f"s{w}"
            synthesize(scene, SceneSpec(people=people, width=w, height=h, fps=fps, seed=1))
            name = f"synthetic {w}x{h} @ {fps:g} fps, {people} people"
            print(_replay_row(name, scene, {}))


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def _faces_frame(n_faces: int, rng: np.random.Generator) -> Arrays:
    """A 640x512 frame with `n_faces` 40x48 face regions labelled 1..n."""
    temp_c = rng.normal(24.0, 0.1, (512, 640)).astype(np.float32)
    labels = np.zeros((512, 640), dtype=np.int32)
    cols = 12
    for i in range(n_faces):  # setup only, not timed
        y, x = 20 + (i // cols) * 60, 10 + (i % cols) * 52
        temp_c[y : y + 48, x : x + 40] += 10.0
        labels[y : y + 48, x : x + 40] = i + 1
    return temp_c, labels, np.arange(1, n_faces + 1, dtype=np.int32)


def _time_ms(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def bench_hot_loop() -> None:
    print("\n## Hot loop per 640x512 frame (best of N)\n")
    print("| faces | peak (default) ms | 3x3 local-mean max ms"
          " | local mean, per-face Python loop ms | loop / local mean |")
    print("|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    stat, peak = FaceMaxLocalMean(3), FacePeak()
    for n in (1, 10, 30):
        temp_c, labels, ids = _faces_frame(n, rng)
        fast_peak = _time_ms(partial(peak, temp_c, labels, ids), 50)
        fast = _time_ms(partial(stat, temp_c, labels, ids), 50)
        slow = _time_ms(partial(face_stat_naive_c, temp_c, labels, ids), 1 if n > 1 else 3)
        same = np.allclose(stat(temp_c, labels, ids), face_stat_naive_c(temp_c, labels, ids))
        assert same, "vectorised and naive hot loops disagree"
        print(f"| {n} | {fast_peak:.2f} | {fast:.2f} | {slow:,.0f} | {slow / fast:,.0f}x |")


def bench_outbox_drain(n_events: int = 5000) -> None:
    """A backlog left by an outage: how fast a reconnecting gate empties its outbox."""
    from edge.sim.broker import PrivateBroker
    from edge.transport.events import event_body
    from edge.transport.mqtt import BrokerOptions, Publisher
    from edge.transport.outbox import Outbox

    print(f"\n## Outbox drain (SQLite WAL, synchronous=FULL, QoS 1, {n_events} events)\n")
    print("| step | events/s |")
    print("|---|---|")
    with tempfile.TemporaryDirectory() as tmp, PrivateBroker() as broker:
        outbox = Outbox(Path(tmp) / "outbox.sqlite3", site="bench", gate="drain")
        t0 = time.perf_counter()
        for i in range(n_events):
            body = event_body("screening", site="bench", gate="drain", wall_ns=time.time_ns(),
                              t_ns=i, track=i)
            outbox.put("screening", body)
        put_s = time.perf_counter() - t0
        publisher = Publisher(BrokerOptions(url=broker.url), site="bench", gate="drain",
                              outbox=outbox)
        t0 = time.perf_counter()
        publisher.start()
        drained = publisher.flush(120.0)
        drain_s = time.perf_counter() - t0
        publisher.close()
        outbox.close()
    print(f"| commit to outbox (fsync each) | {n_events / put_s:,.0f} |")
    print(f"| drain backlog to broker (PUBACKed, deleted) | "
          f"{n_events / drain_s:,.0f}{'' if drained else ' (did not finish)'} |")


def main() -> int:
    cv2.setNumThreads(1)
    print(f"gate-edge bench: {os.cpu_count()} CPUs visible, OpenCV {cv2.__version__}, "
          f"numpy {np.__version__}, Python {sys.version.split()[0]}")
    bench_hot_loop()
    bench_replay()
    bench_outbox_drain()
    from bench_latency import bench_latency  # bench/ is the script's folder: on sys.path

    bench_latency()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of the benchmark process: {peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
