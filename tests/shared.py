"""Locating the real test data in <repo>/../shared/data (never copied into the project)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_data_dir(*parts: str) -> Path:
    """Return <repo>/../shared/data[/parts...], or skip the calling test if it is absent.

    Example: `cptv_dir = shared_data_dir("thermal", "cptv")`.
    """
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real test data not found at {path} (the project expects ../shared/data "
                    "next to the repository; see ../shared/data/README.md)")
    return path
