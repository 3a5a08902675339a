"""The DCC test-vector QR images in ../shared/data/dcc and their truth: each PNG's payload is
the `PREFIX` field of the raw JSON of the same name (AT/png/1.png <-> AT/2DCode/raw/1.json;
FR's raw files add `_Raw` or spell `-` as `_`; DE keeps its PNGs in 2DCode/png). The raw JSONs
also carry the QR as a base64 PNG in `2DCODE`. Used by tests/vision/test_qr_dcc.py and
bench/bench_qr.py."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class DccImage:
    name: str  # relative to the dcc folder
    bgr: np.ndarray | None  # None: the image could not be decoded as PNG
    truth: str | None  # PREFIX of the matching raw JSON; None: no raw file or no PREFIX
    expect_decode: bool | None = None  # EXPECTEDPICTUREDECODE of the raw JSON, when set


def _raw_for(png: Path, dcc: Path) -> Path | None:
    country = png.relative_to(dcc).parts[0]
    raw_dir = dcc / country / "2DCode" / "raw"
    for stem in (png.stem, png.stem + "_Raw", png.stem.replace("-", "_")):
        if (raw_dir / f"{stem}.json").is_file():
            return raw_dir / f"{stem}.json"
    return None


def _truth(doc: dict[str, object]) -> tuple[str | None, bool | None]:
    prefix = doc.get("PREFIX")
    expected = doc.get("EXPECTEDRESULTS")
    expect = expected.get("EXPECTEDPICTUREDECODE") if isinstance(expected, dict) else None
    return (prefix if isinstance(prefix, str) and prefix else None,
            expect if isinstance(expect, bool) else None)


def _raw_truth(raw: Path | None) -> tuple[str | None, bool | None]:
    if raw is None:
        return None, None
    return _truth(json.loads(raw.read_text(encoding="utf-8")))


def png_files(dcc: Path) -> list[DccImage]:
    """Every *.png under the dcc folder (country/png and country/2DCode/png), with truth."""
    from edge.vision.qr import read_image_file

    out = []
    for png in sorted(dcc.rglob("*.png")):
        try:
            bgr: np.ndarray | None = read_image_file(png)
        except ValueError:
            bgr = None
        out.append(DccImage(str(png.relative_to(dcc)), bgr, *_raw_truth(_raw_for(png, dcc))))
    return out


def embedded_pngs(dcc: Path) -> list[DccImage]:
    """The base64 `2DCODE` PNG of every raw JSON that has one, with its PREFIX as truth."""
    out = []
    for raw in sorted(dcc.rglob("raw/*.json")):
        try:
            doc = json.loads(raw.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        code = doc.get("2DCODE")
        if not isinstance(code, str) or not code:
            continue
        try:
            data = np.frombuffer(base64.b64decode(code), np.uint8)
        except (binascii.Error, ValueError):
            data = np.zeros(0, np.uint8)
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        out.append(DccImage(str(raw.relative_to(dcc)), bgr, *_truth(doc)))
    return out
