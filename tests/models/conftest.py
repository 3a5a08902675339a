"""Model-store fixtures: a clean verification memo per test, and the real model cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge import models
from tests.shared import in_ci


@pytest.fixture(autouse=True)
def _fresh_verification() -> Iterator[None]:
    models.forget_verified()
    yield
    models.forget_verified()


@pytest.fixture(scope="module")
def cache() -> Path:
    """The real model cache, every default model verified; skip (fail in CI) when absent."""
    where = models.models_dir()
    problems = models.check_models(where)
    if problems:
        if in_ci():
            pytest.fail(f"CI=true requires the models (make models): {problems[0]}")
        pytest.skip(f"models not fetched ({problems[0]})")
    return where
