"""The RGB -> thermal mapping the canthus hot loop relies on (edge.pipeline.rgb_thermal)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.pipeline.rgb_thermal import upright_matrix
from edge.vision.geometry import map_points


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_upright_matrix_agrees_with_numpy_rotation(rotate: int) -> None:
    raw = np.zeros((120, 160), np.uint8)
    raw[30, 50] = 1
    upright = np.rot90(raw, k=-(rotate // 90))
    (y,), (x,) = np.nonzero(upright)
    mapped = map_points(upright_matrix(rotate, (120, 160)), np.array([[50.0, 30.0]], np.float32))
    assert np.allclose(mapped[0], [x, y])
