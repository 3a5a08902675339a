"""Recognition benchmarks, run on demand; prints tables, asserts nothing. 1 thread (onnxruntime
and BLAS), as on a loaded 2-core gate box. Uses the photos of ../shared/data/faces.

  - detector + O-Net landmarks (FaceAnalyzer.analyze) per photo, at the photo's own size and
    downscaled to 640 px wide (a gate frame);
  - alignment (edge.vision.align.align_faces) per face: one face of each photo, and 6 faces of
    a 640x480 frame;
  - embedding (FaceEmbedder.embed_chips) per face at batch 1 and 6;
  - end to end: replay of a synthetic RGB + thermal identity scene (`gate-edge synth --rgb
    --faces ... --residents 4 --strangers 2 --quarantined 1`) with recognition on (its lists)
    and off, interleaved in the same run, best of 3 each.

    python bench/bench_embed.py [FACES_DIR]
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from edge.app.enrollment import read_photo  # noqa: E402
from edge.config import Settings  # noqa: E402
from edge.vision.align import align_faces  # noqa: E402
from edge.vision.embedder import FaceEmbedder  # noqa: E402
from edge.vision.landmarks import FaceAnalyzer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FACES = REPO.parent / "shared" / "data" / "faces"
GATE_WIDTH_PX = 640


def _ms(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of `repeats` calls, ms: the box is shared, the minimum is the cost."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def _photos(faces: Path, analyzer: FaceAnalyzer) -> list[tuple[np.ndarray, np.ndarray]]:
    """(BGR photo, its one face's (1, 5, 2) landmarks) for every one-face photo."""
    out = []
    for path in sorted(faces.glob("img*.jpg")):
        bgr = read_photo(path)
        det = analyzer.analyze(bgr)
        if len(det.boxes) == 1:
            out.append((bgr, det.landmarks[:1]))
    return out


def _gate_frame(bgr: np.ndarray) -> np.ndarray:
    scale = GATE_WIDTH_PX / bgr.shape[1]
    size = (GATE_WIDTH_PX, max(1, round(bgr.shape[0] * scale)))
    return np.asarray(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), np.uint8)


def bench_stages(faces: Path) -> None:
    analyzer, embedder = FaceAnalyzer(threads=1), FaceEmbedder(threads=1)
    photos = _photos(faces, analyzer)
    print(f"\n## Per stage ({len(photos)} one-face photos, 1 thread; best of 3-50 runs, then "
          "median and max over photos)\n")
    print("| stage | unit | median ms | max ms |")
    print("|---|---|---|---|")
    full = [_ms(lambda b=b: analyzer.analyze(b), 3) for b, _ in photos]
    frames = [_gate_frame(b) for b, _ in photos]
    small = [_ms(lambda f=f: analyzer.analyze(f), 3) for f in frames]
    print(f"| detector + landmarks | photo at its size ({min(b.shape[1] for b, _ in photos)}-"
          f"{max(b.shape[1] for b, _ in photos)} px wide) | {np.median(full):.1f} "
          f"| {max(full):.1f} |")
    print(f"| detector + landmarks | photo at {GATE_WIDTH_PX} px wide | {np.median(small):.1f} "
          f"| {max(small):.1f} |")
    align = [_ms(lambda b=b, m=m: align_faces(b, m), 5) for b, m in photos]
    print(f"| alignment | face (of a photo at its size) | {np.median(align):.2f} "
          f"| {max(align):.2f} |")
    frame = np.full((480, 640, 3), 128, np.uint8)
    six = np.stack([m[0] * np.float32(0.3) + np.float32([100 * k, 150]) for k, (_, m) in
                    enumerate(photos[:6])]).astype(np.float32)
    six_ms = _ms(lambda: align_faces(frame, six), 50) / 6
    print(f"| alignment | face (6 in a 640x480 frame) | {six_ms:.2f} | - |")
    chips = np.concatenate([align_faces(b, m) for b, m in photos[:6]])
    for batch in (1, 6):
        per_face = [_ms(lambda c=chips[k : k + batch]: embedder.embed_chips(c), 20) / batch
                    for k in range(0, 6, batch)]
        print(f"| embedding | face, batch {batch} | {np.median(per_face):.2f} "
              f"| {max(per_face):.2f} |")


class _EmbedMeter:
    """Counts the faces FaceEmbedder embeds and the time it spends, across instances."""

    def __init__(self) -> None:
        self.faces, self.seconds = 0, 0.0
        self._original = FaceEmbedder.embed_chips

    def __enter__(self) -> _EmbedMeter:
        original, meter = self._original, self

        def embed_chips(embedder: FaceEmbedder, chips: np.ndarray) -> np.ndarray:
            start = time.perf_counter()
            try:
                return original(embedder, chips)
            finally:
                meter.seconds += time.perf_counter() - start
                meter.faces += len(chips)

        FaceEmbedder.embed_chips = embed_chips  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        FaceEmbedder.embed_chips = self._original  # type: ignore[method-assign]


def bench_replay(faces: Path, rounds: int = 5) -> None:
    from edge.app.replay import replay

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scene"
        subprocess.run([sys.executable, "-m", "edge", "synth", str(out), "--rgb", "--faces",
                        str(faces), "--residents", "4", "--strangers", "2", "--quarantined",
                        "1"], check=True, stdout=subprocess.DEVNULL)
        settings = Settings()
        best: dict[str, float] = {"off": 0.0, "on": 0.0}
        decided: dict[str, int] = {}
        footage_s, embedded = 0.0, (0, 0.0)
        for _ in range(rounds):  # interleaved: both see the same load on the box
            for name, lists in (("off", None), ("on", out / "lists")):
                with _EmbedMeter() as meter:
                    result = replay(settings, out, publish=False, lists_dir=lists)
                footage_s = result.footage_s
                best[name] = max(best[name], result.footage_s / result.wall_s)
                decided[name] = sum(d.match is not None for d in result.decisions)
                if lists is not None:
                    embedded = (meter.faces, meter.seconds)
        print("\n## End to end: RGB + thermal replay of a synthetic identity scene "
              f"({footage_s:.0f} s of 640x480 + thermal, 7 people; best of {rounds}, "
              "offline)\n")
        print("| recognition | x real time | decisions with a match |")
        print("|---|---|---|")
        for name in ("off", "on"):
            print(f"| {name} | {best[name]:.1f}x | {decided[name]} |")
        print(f"\nwith recognition on: {embedded[0]} faces embedded, {embedded[1] * 1e3:.0f} ms "
              f"in the embedder ({embedded[1] / footage_s:.2%} of the footage's duration)")


if __name__ == "__main__":
    faces_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else FACES
    bench_stages(faces_dir)
    bench_replay(faces_dir)
