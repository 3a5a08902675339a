"""The cached models load in onnxruntime with the shapes the manifest records.

The cached models come from `make models` (run by `make test` before pytest). Without a
cache the tests that need it skip (and fail under CI=true).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge import models
from edge.models import ModelError

# ---------------------------------------------------------------------------- onnxruntime


def _concrete(shape: tuple[int | str, ...], batch: int) -> tuple[int, ...]:
    return tuple(batch if isinstance(d, str) else d for d in shape)


@pytest.mark.parametrize("name", ["blazeface_full_range", "onet", "blazeface_back_256"])
def test_models_run_in_onnxruntime_with_the_recorded_shapes(cache: Path, name: str) -> None:
    from edge.vision.ort import session

    spec = models.get_spec(name)
    if not (cache / spec.file).exists() and not spec.default:
        pytest.skip(f"optional model {name} not fetched (gate-edge models fetch --fallback)")
    sess = session(name, directory=cache)
    assert [(i.name, tuple(i.shape)) for i in sess.get_inputs()] == [
        (t.name, t.shape) for t in spec.inputs
    ]
    assert [o.name for o in sess.get_outputs()] == [t.name for t in spec.outputs]
    batch = 2 if any(isinstance(d, str) for d in spec.inputs[0].shape) else 1
    feed = {t.name: np.zeros(_concrete(t.shape, batch), np.float32) for t in spec.inputs}
    outputs = sess.run(None, feed)
    for out, t in zip(outputs, spec.outputs, strict=True):
        assert out.shape == _concrete(t.shape, batch), (name, t.name)
        assert out.dtype == np.float32 and np.isfinite(out).all()


def test_session_rejects_bad_threads_and_unloadable_files(cache: Path, tmp_path: Path) -> None:
    from edge.vision.ort import session, session_options

    assert session_options(2).intra_op_num_threads == 2
    with pytest.raises(ValueError, match="threads = 0"):
        session_options(0)
    with pytest.raises(ModelError, match="'onet' is missing"):
        session("onet", directory=tmp_path)
