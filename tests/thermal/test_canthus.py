"""The canthus sampler (edge.thermal.canthus) against its naive loop."""

from __future__ import annotations

import numpy as np

from edge.thermal.canthus import CanthusSampler, canthus_naive_c
from edge.vision.geometry import inner_canthi, map_points

TRUE_H = np.array([[0.26, 0.01, 12.0], [-0.008, 0.27, 6.0], [1e-5, 2e-5, 1.0]])


def test_canthus_sampler_matches_the_naive_loop_and_finds_the_hot_spot() -> None:
    rng = np.random.default_rng(3)
    temp_c = rng.normal(33.0, 0.05, (120, 160)).astype(np.float32)
    landmarks = np.zeros((6, 5, 2), np.float32)
    landmarks[:, 0] = rng.uniform([100, 100], [500, 300], (6, 2))
    landmarks[:, 1] = landmarks[:, 0] + [60, 0]
    canthi = map_points(TRUE_H, inner_canthi(landmarks))
    for x, y in np.rint(canthi[2]).astype(int):
        temp_c[y - 1 : y + 2, x - 1 : x + 2] = 36.0  # face 2's inner eye corners
    got = CanthusSampler(3, 2, statistic="local-mean")(temp_c, canthi)
    assert np.allclose(got, canthus_naive_c(temp_c, canthi), atol=1e-5)
    assert abs(got[2] - 36.0) < 1e-4 and got[np.arange(6) != 2].max() < 34.0
