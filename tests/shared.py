"""Locating the real test data in <repo>/../shared/data (never copied into the project)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def skip_or_fail(reason: str) -> None:
    """Skip locally; under CI=true a missing prerequisite is a failure, never a silent skip."""
    if in_ci():
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def shared_data_dir(*parts: str) -> Path:
    """Return <repo>/../shared/data[/parts...]; skip the calling test if it is absent (fail
    under CI=true).

    Example: `cptv_dir = shared_data_dir("thermal", "cptv")`.
    """
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        skip_or_fail(f"real test data not found at {path} (the project expects ../shared/data "
                     "next to the repository; see ../shared/data/README.md)")
    return path


def require_models() -> None:
    """Skip (fail under CI=true) unless the face models are fetched and verified."""
    from edge.models import check_models

    if problems := check_models():
        skip_or_fail("face models missing (run `gate-edge models`): " + "; ".join(problems))
