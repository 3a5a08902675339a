"""Converting BlazeFace's .tflite to ONNX (tflite2onnx: fetch time only, the `models` extra)."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from edge.models.errors import ModelError


def convert_tflite(data: bytes, work: Path) -> bytes:
    """ONNX bytes of a .tflite model: tflite2onnx, then a canonical (deterministic) form.

    tflite2onnx emits initializers and value_info in a different order on every run; sorting
    them by name and serialising deterministically makes the bytes (and the sha256) stable.
    """
    try:
        t2o = importlib.import_module("tflite2onnx")
        onnx = importlib.import_module("onnx")
    except ImportError as exc:
        raise ModelError(
            f"converting .tflite needs tflite2onnx at fetch time ({exc}): "
            "pip install 'gate-edge[models]' (make setup does)"
        ) from None
    src, dst = work / "model.tflite", work / "model.onnx"
    src.write_bytes(data)
    quiet = logging.getLogger("tflite2onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "float16 not supported/tested yet": checked in tests
    try:
        t2o.convert(str(src), str(dst))
    except Exception as exc:
        raise ModelError(f"tflite2onnx could not convert the model: {exc}") from None
    finally:
        quiet.setLevel(level)
    model = onnx.load(str(dst))
    graph = model.graph
    for field in (graph.initializer, graph.value_info):
        items = sorted(field, key=lambda t: t.name)
        del field[:]
        field.extend(items)
    return bytes(model.SerializeToString(deterministic=True))
