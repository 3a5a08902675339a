"""QR decoding benchmarks (edge.vision.qr.QrReader), run on demand; prints tables, asserts
nothing. 1 thread (OpenCV and BLAS pinned), as on a loaded 2-core gate box.

  1. ms per 640x480 BGR frame (grey conversion, crop/downscale and zxing-cpp included): no code,
     one compound pass (version 7), one DCC (version 14), both at 3 px/module; whole frame, a
     320x360 ROI around the code, the whole frame downscaled to 320 px, try_invert on;
  2. the synthetic case table of tests/vision/qr_cases.py, decoded whole frame vs downscaled to
     320 px (does downscaling lose small codes?);
  3. every PNG under ../shared/data/dcc (and the base64 `2DCODE` PNG in each raw JSON): decode
     rate, exact matches with the raw JSON's `PREFIX`, ms per image (decode only, file read
     excluded).

Usage: .venv/bin/python bench/bench_qr.py [--repeats N]
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the synthetic scenes live with the tests

from edge.vision.qr import QrReader  # noqa: E402
from tests.vision.qr_cases import CASES, SEEDS  # noqa: E402
from tests.vision.qr_dcc_data import DccImage, embedded_pngs, png_files  # noqa: E402
from tests.vision.qr_scenes import COMPOUND_TEXT, DCC_TEXT, Placement, background, render  # noqa: E402

DCC_DIR = REPO.parent / "shared" / "data" / "dcc"
ROI = (120, 40, 400, 400)  # around the frame centre, where the scenes put the code


def _ms_per_call(reader: QrReader, frames: Sequence[np.ndarray], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        for frame in frames:
            start = time.perf_counter()
            reader.read(frame)
            times.append((time.perf_counter() - start) * 1e3)
    return times


def _summary(times: list[float]) -> str:
    p95 = float(np.percentile(times, 95))
    return f"{statistics.median(times):7.2f} {p95:7.2f}"


def frame_timing(repeats: int) -> None:
    scenes = {
        "no code": [background(seed) for seed in range(8)],
        "compound pass, 3 px/module": [
            render([Placement(COMPOUND_TEXT, (300 + s, 230 + s), 3.0, 5 * s)], seed=s)
            for s in range(8)],
        "DCC, 3 px/module": [
            render([Placement(DCC_TEXT, (300 + s, 230 + s), 3.0, 5 * s)], seed=s)
            for s in range(8)],
    }
    readers = {
        "whole frame": QrReader(),
        f"ROI {ROI[2]}x{ROI[3]}": QrReader(roi=ROI),
        "whole, downscaled to 320": QrReader(max_side_px=320),
        "whole, try_invert": QrReader(try_invert=True),
    }
    print("\n1. ms per 640x480 frame (median, p95), "
          f"{repeats} x 8 frames each\n")
    print(f"{'scene':30s} {'reader':26s} {'median':>7s} {'p95':>7s} decoded")
    for scene, frames in scenes.items():
        for name, reader in readers.items():
            times = _ms_per_call(reader, frames, repeats)
            decoded = sum(len(reader.read(f).decoded()) for f in frames)
            print(f"{scene:30s} {name:26s} {_summary(times)} {decoded}/{len(frames)}")


def case_table() -> None:
    readers = {"whole": QrReader(), "ROI": QrReader(roi=ROI), "320 px": QrReader(max_side_px=320)}
    print(f"\n2. synthetic cases (tests/vision/qr_cases.py): frames decoded of {SEEDS}\n")
    print(f"{'case':46s} {'px/mod':>6s} " + " ".join(f"{k:>7s}" for k in readers) + "  test bounds")
    for case in CASES:
        frames = case.frames()
        counts = [sum(case.text in r.read(f).decoded().texts for f in frames)
                  for r in readers.values()]
        print(f"{case.name:46s} {case.module_px:6.2f} "
              + " ".join(f"{c:7d}" for c in counts) + f"  {case.lo}-{case.hi} (whole)")


def _dcc_row(label: str, images: list[DccImage], reader: QrReader) -> None:
    loaded = [i for i in images if i.bgr is not None]
    times, decoded, exact, wrong, no_truth = [], 0, 0, [], 0
    for image in loaded:
        assert image.bgr is not None
        start = time.perf_counter()
        texts = reader.read(image.bgr).decoded().texts
        times.append((time.perf_counter() - start) * 1e3)
        decoded += bool(texts)
        if image.truth is None:
            no_truth += 1
        elif image.truth in texts:
            exact += 1
        else:
            wrong.append(image.name)
    unreadable = len(images) - len(loaded)
    print(f"{label:34s} {len(images):6d} {unreadable:10d} {decoded:8d} {exact:6d} "
          f"{no_truth:8d} {statistics.median(times):7.2f} {max(times):7.2f}")
    for name in wrong:
        print(f"    not matching its PREFIX: {name}")


def dcc_images() -> None:
    if not DCC_DIR.is_dir():
        print(f"\n3. skipped: {DCC_DIR} not found")
        return
    print(f"\n3. DCC test-vector QR images ({DCC_DIR}), whole image, QrReader()\n")
    print(f"{'set':34s} {'images':>6s} {'not a PNG':>10s} {'decoded':>8s} {'exact':>6s} "
          f"{'no truth':>8s} {'med ms':>7s} {'max ms':>7s}")
    pngs, embedded = png_files(DCC_DIR), embedded_pngs(DCC_DIR)
    _dcc_row("*.png files", pngs, QrReader())
    _dcc_row("2DCODE (base64 PNG in raw JSON)", embedded, QrReader())
    refused = [i.name for i in embedded if i.expect_decode is False]
    print(f"    EXPECTEDPICTUREDECODE false: {', '.join(refused) or 'none'} "
          "(should be among 'not a PNG' or undecoded)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    frame_timing(args.repeats)
    case_table()
    dcc_images()


if __name__ == "__main__":
    main()
