"""RGB + thermal benchmarks (`make bench`), 1 thread everywhere; prints tables.

- per-stage cost at 640x480 for 1, 3 and 6 faces (detector, O-Net, the cadenced finder on a
  frame between detections, registration + canthus, decide);
- end to end, 640x480 @ 15 fps + 160x120 @ 9 fps, 1, 3, 6 and 12 faces swaying in view (a
  2 s cycle with sensor noise), recognition off and on, the detector on every frame
  (`rgb.detect_every = 1`) against the adaptive cadence (edge.vision.cadence), measured in the
  same run, so the ratio holds on any machine;
- the synthetic gate scene (`synthesize_rgb`, people walking up and leaving) replayed the way
  `gate-edge replay` does it, recognition on, cadence 1 against adaptive;
- O-Net against Lucas-Kanade optical flow as the follower between detections (bench_follow);
- peak RSS of a `run`-like process (a child that loads the detector, O-Net and the embedder
  and replays a scene with recognition on).
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import math  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from edge.app.wiring import pipeline_params  # noqa: E402
from edge.config import validate  # noqa: E402
from edge.core.detections import Detections  # noqa: E402
from edge.core.evidence import Evidence  # noqa: E402
from edge.core.types import (  # noqa: E402
    RgbFrame,
    RgbStreamMeta,
    StreamInfo,
    ThermalFrame,
    ThermalStreamMeta,
)
from edge.pipeline.recognition import ListView, Recognition  # noqa: E402
from edge.pipeline.rgb_thermal import FaceFinder, RgbThermalPipeline  # noqa: E402
from edge.thermal.canthus import CanthusSampler  # noqa: E402
from edge.vision.cadence import CadencedFinder  # noqa: E402
from edge.vision.geometry import inner_canthi, map_points  # noqa: E402
from edge.vision.landmarks import FaceAnalyzer  # noqa: E402

H_RGB_TO_THERMAL = np.array([[0.25, 0.0, 0.0], [0.0, 0.25, 0.0], [0.0, 0.0, 1.0]])
FPS = 15.0
CYCLE = 30  # frames of the sway cycle (2 s)
SWAY_PX = 4.0
DETECT_EVERY = 6  # the config's default


def _portrait() -> np.ndarray:
    import matplotlib.cbook as cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        data = np.frombuffer(f.read(), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    return img[int(0.05 * h) : int(0.75 * h), int(0.2 * w) : int(0.8 * w)]  # head and shoulders


def _layout(n_faces: int) -> tuple[int, int, int]:
    """Columns, rows and portrait width for n faces in a 640x480 frame."""
    cols = {1: 1, 3: 3, 6: 3}.get(n_faces, 4)
    rows = math.ceil(n_faces / cols)
    tile_w = 240 if n_faces == 1 else 640 // cols
    face = _portrait()
    aspect = face.shape[0] / face.shape[1]
    side = int(min(tile_w - 10 - 2 * SWAY_PX, 230, (480 // rows - 10) / aspect))
    return cols, rows, side


def scene(n_faces: int, phase: int = 0, noise: np.random.Generator | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """A 640x480 BGR frame with `n_faces` portraits, each swayed by up to SWAY_PX at `phase`
    (frames of the CYCLE), and a matching 160x120 counts frame."""
    bgr = np.full((480, 640, 3), 150, np.uint8)
    temp_c = np.full((120, 160), 22.0, np.float32)
    cols, rows, side = _layout(n_faces)
    face = _portrait()
    crop = cv2.resize(face, (side, int(side * face.shape[0] / face.shape[1])))
    tile_w, tile_h = (240 if n_faces == 1 else 640 // cols), 480 // rows
    for i in range(n_faces):
        r, c = divmod(i, cols)
        dx = round(SWAY_PX * math.sin(2 * math.pi * phase / CYCLE + i))
        x0, y0 = 5 + int(SWAY_PX) + c * tile_w + dx, 5 + r * tile_h
        ch = min(crop.shape[0], 480 - y0)
        bgr[y0 : y0 + ch, x0 : x0 + side] = crop[:ch]
        temp_c[y0 // 4 : (y0 + ch) // 4, x0 // 4 : (x0 + side) // 4] = 34.0
    if noise is not None:
        bgr = np.clip(bgr + noise.normal(0, 2, bgr.shape), 0, 255).astype(np.uint8)
    counts = np.round((temp_c + 273.15) * 100).astype(np.uint16)
    return bgr, counts


def _ms(fn: Callable[[], object], repeats: int = 30) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3


def _decide_once(evidence: Evidence, faces: Detections, clock_ns: list[int]) -> None:
    clock_ns[0] += 66_000_000
    evidence.record(faces, np.full(faces.count, 35.0, np.float32), True, clock_ns[0])


def bench_stages(analyzer: FaceAnalyzer) -> None:
    print("\n## RGB + thermal: milliseconds per 640x480 frame per stage (median, 1 thread)\n")
    print("| faces found | detect | landmarks | cadenced, between detections "
          "| registration + canthus hot loop | decide |")
    print("|---|---|---|---|---|---|")
    params = pipeline_params(validate({}, "bench"))
    sampler = CanthusSampler(3, 2)
    for n in (1, 3, 6):
        bgr, counts = scene(n)
        temp_c = (counts / 100.0 - 273.15).astype(np.float32)
        det = analyzer.detector.detect_raw(bgr)
        landmarks, _ = analyzer.refiner.refine(bgr, det.boxes)
        evidence = Evidence(params.screening.evidence("canthus", params.tracker))
        decide_step = partial(_decide_once, evidence, det, [0])
        # A still frame: the finder detects once per DETECT_EVERY calls, the median is a follow.
        finder = CadencedFinder(analyzer, detect_every=DETECT_EVERY, fps=FPS)
        row = [
            _ms(lambda bgr=bgr: analyzer.detector.detect_raw(bgr)),
            _ms(lambda bgr=bgr, b=det.boxes: analyzer.refiner.refine(bgr, b)),
            _ms(lambda bgr=bgr, f=finder: f.analyze(bgr)),
            _ms(lambda t=temp_c, lm=landmarks: sampler(
                t, map_points(H_RGB_TO_THERMAL, inner_canthi(lm)))),
            _ms(decide_step),
        ]
        print(f"| {det.count} | " + " | ".join(f"{v:.2f}" for v in row) + " |")


def recognition(gallery_size: int = 1000) -> Recognition:
    """The real embedder against a gallery of random templates (nobody in view is enrolled)."""
    from edge.identity.gallery import Gallery
    from edge.vision.embedder import FaceEmbedder, face_quality

    embedder = FaceEmbedder(threads=1)
    rng = np.random.default_rng(0)
    templates = rng.normal(0, 1, (gallery_size, 128)).astype(np.float32)
    templates /= np.linalg.norm(templates, axis=1, keepdims=True)
    subjects = [f"r-{i:05d}" for i in range(gallery_size)]
    gallery = Gallery(subjects, np.arange(gallery_size, dtype=np.int32), templates,
                      embedder.model_id)
    return Recognition(embedder, ListView(gallery, {}), quality=face_quality)


def _footage(n_faces: int) -> list[RgbFrame | ThermalFrame]:
    """10 s: 150 RGB frames (the sway cycle, noisy) and 90 thermal frames, merged by time."""
    rng = np.random.default_rng(n_faces)
    cycle = [scene(n_faces, k, rng) for k in range(CYCLE)]
    frames: list[RgbFrame | ThermalFrame] = [
        RgbFrame(i, i * 1_000_000_000 // 15, cycle[i % CYCLE][0]) for i in range(150)]
    frames += [ThermalFrame(i, i * 1_000_000_000 // 9 + 1, cycle[0][1]) for i in range(90)]
    frames.sort(key=lambda f: f.t_ns)
    return frames


def _replay_s(finder: FaceFinder, frames: list[RgbFrame | ThermalFrame],
              rec: Recognition | None) -> float:
    params = pipeline_params(validate({}, "bench"))
    meta = StreamInfo(
        "synthetic", ThermalStreamMeta(160, 120, "centikelvin", fps=9.0),
        rgb=RgbStreamMeta(640, 480, FPS), rgb_to_thermal=H_RGB_TO_THERMAL,
    )
    pipeline = RgbThermalPipeline(params, meta, finder, recognition=rec)
    t0 = time.perf_counter()
    for frame in frames:
        pipeline.process(frame)
    pipeline.finish()
    return time.perf_counter() - t0


def bench_end_to_end(analyzer: FaceAnalyzer, rec: Recognition) -> dict[tuple[int, bool], float]:
    print("\n## RGB + thermal end to end (640x480 @ 15 fps + 160x120 @ 9 fps, 10 s of footage, "
          "faces swaying, 1 thread): x real time\n")
    print("| faces in view | recognition | cadence 1 | adaptive | adaptive / cadence 1 "
          "| detector runs (adaptive, of 150) |")
    print("|---|---|---|---|---|---|")
    out = {}
    for n in (1, 3, 6, 12):
        frames = _footage(n)
        for with_rec in (False, True):
            r = rec if with_rec else None
            every_s = min(_replay_s(analyzer, frames, r) for _ in range(2))
            runs = []
            for _ in range(2):
                finder = CadencedFinder(analyzer, detect_every=DETECT_EVERY, fps=FPS)
                runs.append((_replay_s(finder, frames, r), finder.detections))
            adaptive_s, detections = min(runs)
            out[(n, with_rec)] = every_s / adaptive_s
            print(f"| {n} | {'on' if with_rec else 'off'} | {10.0 / every_s:.1f}x "
                  f"| {10.0 / adaptive_s:.1f}x | {every_s / adaptive_s:.2f} | {detections} |")
    return out


def bench_gate_scene(scene_dir: Path, lists_dir: Path) -> None:
    """The synthetic gate scene replayed as `gate-edge replay --lists` does (decoding the
    recording included), cadence 1 against adaptive, recognition on."""
    from edge.app.replay import replay

    print("\n## Synthetic gate scene (12 people walking up alone and in pairs, 640x480 @ 15 fps "
          "+ 160x120 @ 9 fps), replay with recognition on, 1 thread\n")
    print("| rgb.detect_every | footage s | wall s | x real time | decisions |")
    print("|---|---|---|---|---|")
    for every in (1, DETECT_EVERY):
        settings = validate({"rgb": {"detect_every": every}}, "bench")
        best = min((replay(settings, scene_dir, publish=False, lists_dir=lists_dir)
                    for _ in range(2)), key=lambda r: r.wall_s)
        print(f"| {every} | {best.footage_s:.1f} | {best.wall_s:.2f} "
              f"| {best.footage_s / best.wall_s:.1f}x | {len(best.decisions)} |")


def make_gate_scene(folder: Path) -> tuple[Path, Path]:
    from edge.identity.store import ListStore
    from edge.sim.rgb import synthesize_rgb
    from edge.sim.rgb_plan import RgbSceneSpec

    synthesize_rgb(folder / "scene", RgbSceneSpec(people=12, seed=31))
    ListStore.open(folder / "lists").close()  # empty: everyone a stranger, all embedded
    return folder / "scene", folder / "lists"


def rss_child(scene_dir: str, lists_dir: str) -> int:
    """A `run`-like process: every model loaded (detector, O-Net, embedder), a scene
    replayed with recognition on; prints its peak RSS in MiB."""
    from edge.app.replay import replay

    replay(validate({}, "bench"), Path(scene_dir), publish=False, lists_dir=Path(lists_dir))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return 0


def peak_rss_mib(scene_dir: Path, lists_dir: Path) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", str(scene_dir), str(lists_dir)],
        check=True, capture_output=True, text=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def main() -> int:
    if sys.argv[1:2] == ["--rss-child"]:
        return rss_child(sys.argv[2], sys.argv[3])
    cv2.setNumThreads(1)
    analyzer = FaceAnalyzer(threads=1, min_face_px=40)
    bench_stages(analyzer)
    ratios = bench_end_to_end(analyzer, recognition())
    with tempfile.TemporaryDirectory() as tmp:
        scene_dir, lists_dir = make_gate_scene(Path(tmp))
        bench_gate_scene(scene_dir, lists_dir)
        from bench_follow import bench_followers

        bench_followers(scene_dir)
        rss = peak_rss_mib(scene_dir, lists_dir)
    print(f"\npeak RSS of a run-like process (detector, O-Net and embedder loaded, recognition "
          f"on): {rss:.0f} MiB")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this benchmark process: {peak_mib:.0f} MiB")
    print(f"6 faces, recognition on: adaptive cadence {ratios[(6, True)]:.2f}x cadence 1")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
