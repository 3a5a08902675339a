"""RGB + thermal benchmarks (`make bench`): per-stage cost at 640x480 and end-to-end speed
for 640x480 @ 15 fps + 160x120 @ 9 fps with 1, 3 and 6 faces in view. 1 thread."""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import resource  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402

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
from edge.pipeline.rgb_thermal import RgbThermalPipeline  # noqa: E402
from edge.thermal.canthus import CanthusSampler  # noqa: E402
from edge.vision.geometry import inner_canthi, map_points  # noqa: E402
from edge.vision.landmarks import FaceAnalyzer  # noqa: E402

H_RGB_TO_THERMAL = np.array([[0.25, 0.0, 0.0], [0.0, 0.25, 0.0], [0.0, 0.0, 1.0]])


def _portrait() -> np.ndarray:
    import matplotlib.cbook as cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        data = np.frombuffer(f.read(), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    return img[int(0.05 * h) : int(0.75 * h), int(0.2 * w) : int(0.8 * w)]  # head and shoulders


def scene(n_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """A 640x480 BGR frame with `n_faces` portraits and a matching 160x120 counts frame."""
    bgr = np.full((480, 640, 3), 150, np.uint8)
    temp_c = np.full((120, 160), 22.0, np.float32)
    face = _portrait()
    cols = 3 if n_faces > 1 else 1
    tile_w = 640 // cols if n_faces > 1 else 240
    for i in range(n_faces):
        r, c = divmod(i, cols)
        side = min(tile_w - 10, 230)
        crop = cv2.resize(face, (side, int(side * face.shape[0] / face.shape[1])))
        x0, y0 = 5 + c * tile_w, 5 + r * 240
        ch = min(crop.shape[0], 480 - y0)
        bgr[y0 : y0 + ch, x0 : x0 + side] = crop[:ch]
        temp_c[y0 // 4 : (y0 + ch) // 4, x0 // 4 : (x0 + side) // 4] = 34.0
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
    print("| faces found | detect | landmarks | registration + canthus hot loop | decide |")
    print("|---|---|---|---|---|")
    params = pipeline_params(validate({}, "bench"))
    sampler = CanthusSampler(3, 2)
    for n in (1, 3, 6):
        bgr, counts = scene(n)
        temp_c = (counts / 100.0 - 273.15).astype(np.float32)
        det = analyzer.detector.detect_raw(bgr)
        landmarks, _ = analyzer.refiner.refine(bgr, det.boxes)
        evidence = Evidence(params.screening.evidence("canthus", params.tracker))
        decide_step = partial(_decide_once, evidence, det, [0])

        row = [
            _ms(lambda bgr=bgr: analyzer.detector.detect_raw(bgr)),
            _ms(lambda bgr=bgr, b=det.boxes: analyzer.refiner.refine(bgr, b)),
            _ms(lambda t=temp_c, lm=landmarks: sampler(
                t, map_points(H_RGB_TO_THERMAL, inner_canthi(lm)))),
            _ms(decide_step),
        ]
        print(f"| {det.count} | " + " | ".join(f"{v:.2f}" for v in row) + " |")


def bench_end_to_end(analyzer: FaceAnalyzer) -> None:
    print("\n## RGB + thermal end to end (640x480 @ 15 fps + 160x120 @ 9 fps, 10 s of footage)\n")
    print("| faces in view | RGB frames/s | x real time |")
    print("|---|---|---|")
    params = pipeline_params(validate({}, "bench"))
    meta = StreamInfo(
        "synthetic", ThermalStreamMeta(160, 120, "centikelvin", fps=9.0),
        rgb=RgbStreamMeta(640, 480, 15.0), rgb_to_thermal=H_RGB_TO_THERMAL,
    )
    for n in (1, 3, 6):
        bgr, counts = scene(n)
        pipeline = RgbThermalPipeline(params, meta, analyzer)
        frames = [RgbFrame(i, i * 1_000_000_000 // 15, bgr) for i in range(150)]
        frames += [ThermalFrame(i, i * 1_000_000_000 // 9 + 1, counts) for i in range(90)]
        frames.sort(key=lambda f: f.t_ns)
        t0 = time.perf_counter()
        for frame in frames:
            pipeline.process(frame)
        wall_s = time.perf_counter() - t0
        print(f"| {n} | {150 / wall_s:.1f} | {10.0 / wall_s:.2f}x |")


def main() -> int:
    cv2.setNumThreads(1)
    analyzer = FaceAnalyzer(threads=1, min_face_px=40)
    bench_stages(analyzer)
    bench_end_to_end(analyzer)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of the RGB + thermal benchmark process: {peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
