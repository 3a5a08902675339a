"""The one exception type of edge.models (kept apart so every module can raise it)."""

from __future__ import annotations

from edge.errors import EdgeError


class ModelError(EdgeError):
    """A model is missing, corrupt, or could not be fetched, bundled or installed."""

    exit_code = 5
