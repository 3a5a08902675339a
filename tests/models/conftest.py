"""Model-store fixtures: a clean verification memo per test, and the real model cache."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge import models


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


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
        if _in_ci():
            pytest.fail(f"CI=true requires the models (make models): {problems[0]}")
        pytest.skip(f"models not fetched ({problems[0]})")
    return where
