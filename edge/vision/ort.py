"""onnxruntime sessions for the cached, verified models (CPU only, quiet, few threads).

Measured on a 2-core box: several sessions with 2 threads each ran 2.5x
slower than with 1 thread, so every session defaults to one intra-op thread, one inter-op
thread and sequential execution; idle worker threads do not spin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnxruntime

from edge.models import ModelError, model_path

_QUIET = 3  # onnxruntime severities: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal
onnxruntime.set_default_logger_severity(_QUIET)


def session_options(threads: int = 1) -> Any:
    """SessionOptions: `threads` intra-op threads, 1 inter-op, sequential, errors-only log."""
    if threads < 1:
        raise ValueError(f"threads = {threads}: must be at least 1")
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = _QUIET
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def session(name: str, threads: int = 1, directory: Path | None = None) -> Any:
    """An onnxruntime.InferenceSession (CPUExecutionProvider) for a manifest model.

    The file comes from edge.models.model_path (sha256 verified once per process); input and
    output names, shapes and layouts are in models/manifest.json. Example:
    `sess = session("onet"); box, landmarks, prob = sess.run(None, {"input_3": crops})`.
    """
    path = model_path(name, directory)
    try:
        return onnxruntime.InferenceSession(
            str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own, unexported exception types
        raise ModelError(f"model {name!r}: onnxruntime cannot load {path}: {exc}") from None
