"""The gallery's one-product match against a brute-force reference, and its input checks."""

from __future__ import annotations

import numpy as np
import pytest

from edge.identity.gallery import Gallery, Match


def _gallery(rng: np.random.Generator, m: int, d: int = 128, subjects: int = 0) -> Gallery:
    n = subjects or m
    rows = np.concatenate([np.arange(n), rng.integers(0, n, m - n)]).astype(np.int32)
    templates = rng.normal(0, 0.1, (m, d)).astype(np.float32)
    return Gallery([f"s{i}" for i in range(n)], rows, templates, "model-a")


def _reference(g: Gallery, templates: np.ndarray, rows: np.ndarray,
               queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dist = np.linalg.norm(templates[None].astype(np.float64) - queries[:, None], axis=2)
    best = dist.argmin(axis=1)
    return rows[best], dist.min(axis=1)


@pytest.mark.parametrize(("m", "k"), [(1, 1), (7, 3), (1000, 6), (5000, 1)])
def test_nearest_matches_brute_force(m: int, k: int) -> None:
    rng = np.random.default_rng(m * 10 + k)
    subjects = max(1, m // 3)
    rows = np.concatenate([np.arange(subjects), rng.integers(0, subjects, m - subjects)])
    rows = rows.astype(np.int32)
    templates = rng.normal(0, 0.1, (m, 128)).astype(np.float32)
    g = Gallery([f"s{i}" for i in range(subjects)], rows, templates, "model-a")
    queries = rng.normal(0, 0.1, (k, 128)).astype(np.float32)
    index, distance = g.nearest(queries)
    want_index, want_distance = _reference(g, templates, rows, queries)
    assert index.dtype == np.int32 and distance.dtype == np.float32
    assert index.shape == distance.shape == (k,)
    np.testing.assert_array_equal(index, want_index)
    np.testing.assert_allclose(distance, want_distance, atol=2e-5)


def test_several_templates_per_subject_and_exact_hits() -> None:
    templates = np.array([[0, 0], [10, 0], [0, 10], [1, 1]], np.float32)
    g = Gallery(["alice", "bob"], np.array([0, 1, 1, 0], np.int32), templates, "m")
    index, distance = g.nearest(np.array([[9, 1], [0, 9.5], [1, 1]], np.float32))
    assert [g.subject(int(i)) for i in index] == ["bob", "bob", "alice"]
    np.testing.assert_allclose(distance, [np.sqrt(2), 0.5, 0.0], atol=1e-6)
    # A query equal to a template: rounding in the expansion must not give NaN.
    assert g.match(np.array([10, 0], np.float32)) == Match("bob", 0.0)
    assert (g.size, g.dim, g.subjects, g.model_id) == (4, 2, ("alice", "bob"), "m")


def test_big_norms_do_not_go_negative() -> None:
    """|q|^2 + |t|^2 - 2 q.t cancels badly for large, nearly equal vectors: clamped to 0."""
    t = np.full((3, 128), 1000.0, np.float32)
    g = Gallery(["a"], np.zeros(3, np.int32), t, "m")
    _, distance = g.nearest(t[:1] + np.float32(1e-4))
    assert np.isfinite(distance).all() and distance[0] >= 0.0


def test_empty_gallery() -> None:
    g = Gallery.empty("m", dim=4)
    index, distance = g.nearest(np.zeros((2, 4), np.float32))
    assert index.tolist() == [-1, -1] and np.isinf(distance).all()
    assert g.match(np.zeros(4, np.float32)) is None
    with pytest.raises(IndexError, match="subject index -1"):
        g.subject(-1)
    assert (g.size, g.dim, g.subjects) == (0, 4, ())
    assert Gallery.empty().dim == 128


def test_no_queries() -> None:
    g = _gallery(np.random.default_rng(0), 10)
    index, distance = g.nearest(np.zeros((0, 128), np.float32))
    assert index.shape == distance.shape == (0,)


@pytest.mark.parametrize(("queries", "message"), [
    (np.zeros((2, 64), np.float32),
     "queries have D=64 but the gallery of model 'model-a' holds D=128"),
    (np.zeros(128, np.float32), "queries must be a 2-D"),
    (np.zeros((1, 128), np.float64), "queries must be float32"),
])
def test_bad_queries_are_named(queries: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _gallery(np.random.default_rng(0), 5).nearest(queries)


def test_an_empty_gallery_still_checks_the_dimension() -> None:
    with pytest.raises(ValueError, match="D=3 but"):
        Gallery.empty("m", 128).nearest(np.zeros((1, 3), np.float32))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"templates": np.zeros((2, 4), np.float64)}, "templates must be float32"),
    ({"templates": np.zeros(4, np.float32)}, "templates must be a 2-D"),
    ({"row_subject": np.zeros(3, np.int32)}, r"row_subject must have shape \(2,\)"),
    ({"row_subject": np.zeros(2, np.int64)}, "row_subject must be int32"),
    ({"row_subject": np.array([0, 2], np.int32)}, "row_subject values must index subjects"),
    ({"subjects": ["a", "a"]}, "subjects must be unique"),
    ({"templates": np.array([[0, 0, 0, np.nan]] * 2, np.float32)}, "must be finite"),
])
def test_bad_construction_is_named(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"subjects": ["a", "b"], "row_subject": np.array([0, 1], np.int32),
                               "templates": np.zeros((2, 4), np.float32), "model_id": "m"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Gallery(**args)  # type: ignore[arg-type]


def test_the_gallery_does_not_change_when_the_input_does() -> None:
    templates = np.zeros((2, 4), np.float32)
    rows = np.array([0, 1], np.int32)
    g = Gallery(["a", "b"], rows, templates, "m")
    templates[0] = 5.0
    rows[0] = 1
    index, distance = g.nearest(np.zeros((1, 4), np.float32))
    assert index[0] == 0 and distance[0] == 0.0
