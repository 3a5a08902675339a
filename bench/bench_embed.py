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
    """Median wall time of `repeats` calls, ms."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


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
    print(f"\n## Per stage ({len(photos)} one-face photos, 1 thread; median ms)\n")
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


def bench_replay(faces: Path) -> None:
    from edge.app.replay import replay

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scene"
        subprocess.run([sys.executable, "-m", "edge", "synth", str(out), "--rgb", "--faces",
                        str(faces), "--residents", "4", "--strangers", "2", "--quarantined",
                        "1"], check=True, stdout=subprocess.DEVNULL)
        settings = Settings()
        best: dict[str, float] = {"off": 0.0, "on": 0.0}
        decided: dict[str, int] = {}
        footage_s = 0.0
        for _ in range(3):  # interleaved: both see the same load on the box
            for name, lists in (("off", None), ("on", out / "lists")):
                result = replay(settings, out, publish=False, lists_dir=lists)
                footage_s = result.footage_s
                best[name] = max(best[name], result.footage_s / result.wall_s)
                decided[name] = sum(d.match is not None for d in result.decisions)
        print("\n## End to end: RGB + thermal replay of a synthetic identity scene "
              f"({footage_s:.0f} s of 640x480 + thermal, 7 people; best of 3, offline)\n")
        print("| recognition | x real time | decisions with a match |")
        print("|---|---|---|")
        for name in ("off", "on"):
            print(f"| {name} | {best[name]:.1f}x | {decided[name]} |")


if __name__ == "__main__":
    faces_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else FACES
    bench_stages(faces_dir)
    bench_replay(faces_dir)
