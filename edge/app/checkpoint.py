"""The live gate's crash checkpoint: the t_ns of the last frame fully processed, and the
boxes of people already decided and still in view, so a restart neither skips footage nor
measures the same person twice. A small JSON file replaced atomically."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]


class Checkpoint:
    """Written at most every `every_s` seconds, and at once when forced (after a decision)."""

    def __init__(self, path: Path | None, every_s: float = 1.0) -> None:
        self.path = path
        self._every_s = every_s
        self._last_write = 0.0

    def load(self) -> tuple[int | None, list[Box]]:
        if self.path is None or not self.path.exists():
            return None, []
        try:
            doc = json.loads(self.path.read_text())
            boxes = [(int(b[0]), int(b[1]), int(b[2]), int(b[3])) for b in doc.get("decided", [])]
            return int(doc["t_ns"]), boxes
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("ignoring unreadable checkpoint %s: %s", self.path, exc)
            return None, []

    def save(self, t_ns: int, decided: list[Box], force: bool = False) -> None:
        now = time.monotonic()
        if self.path is None or (not force and now - self._last_write < self._every_s):
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"t_ns": t_ns, "decided": [list(b) for b in decided]}))
        os.replace(tmp, self.path)
        self._last_write = now
