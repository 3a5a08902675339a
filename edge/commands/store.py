"""What commands leave behind across restarts: applied settings and the replay memory.

One small JSON file in `state.dir`, `commands.json`, replaced atomically and durably on every
change (write a temporary file, fsync it, rename it over the old one, fsync the folder), so
a kill or a power cut leaves either the old or the new file, never half of one:

    {"schema": "gate-edge/command-state/1",
     "settings": {"screening.set": {"args": {"threshold_c": 37.5}, "id": "<ULID>",
                                    "applied": "2026-12-01T16:20:00.000Z"}},
     "seen": {"<ULID>": [issued_ns, last_valid_ns], ...}, "watermark_ns": -1}

Why a file of its own rather than a table in the outbox's SQLite file: the commands package
stays independent of the transport (it imports neither the outbox nor paho); the writes come
from the command thread and from the pipeline thread between frames, never from the event
commit path; it is written only for accepted commands (a flood of refused messages writes
nothing), so one fsync per write costs nothing; and an operator can read it, or delete it to
return to the config's values, without touching the events still waiting in the outbox.

`settings`: the arguments of the last applied command of each name, merged key by key (a
`screening.set` with only `skin_offset_c` keeps an earlier `threshold_c`). At start the config
is the base and these are applied over it. `seen`: the ids the verifier accepted, with the
last time they could still be accepted; expired ones are dropped at every write, so the file
holds at most what the verifier's bounded memory holds.

A store without a path (no `state.dir`) keeps everything in memory. A write that fails (full
disk, read-only folder) is logged at ERROR and the state stays in memory; a file that cannot
be read at start is logged and ignored (the gate starts with the config's values).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from edge.transport.events import iso_utc_ms

log = logging.getLogger("edge.commands")

STORE_FILENAME = "commands.json"
STORE_SCHEMA = "gate-edge/command-state/1"

SeenIds = dict[str, tuple[int, int]]  # id -> (issued_ns, last valid ns), oldest first


class CommandStore:
    """Thread-safe; every change is written before the method returns (when there is a path)."""

    def __init__(self, path: Path | None, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.path = path
        self._clock_ns = clock_ns
        self._lock = threading.Lock()
        self._settings: dict[str, dict[str, Any]] = {}
        self._seen: SeenIds = {}
        self._watermark_ns = -1
        self._write_failing = False
        if path is not None and path.exists():
            self._load(path)

    @classmethod
    def open(cls, state_dir: Path | None) -> CommandStore:
        return cls(None if state_dir is None else Path(state_dir) / STORE_FILENAME)

    # -- settings (pipeline thread) ---------------------------------------------------------

    def settings(self) -> dict[str, dict[str, Any]]:
        """Command name -> its merged arguments, in the order they were first applied."""
        with self._lock:
            return {name: dict(entry["args"]) for name, entry in self._settings.items()}

    def record_applied(self, name: str, args: Mapping[str, Any], command_id: str) -> None:
        """An applied command: merge its arguments (None means "unchanged") and write."""
        with self._lock:
            entry = self._settings.pop(name, {"args": {}})
            merged = {**entry["args"], **{k: v for k, v in args.items() if v is not None}}
            self._settings[name] = {
                "args": merged, "id": command_id, "applied": iso_utc_ms(self._clock_ns()),
            }
            self._write_locked()

    def forget(self, name: str) -> None:
        """Drop a command's stored settings (they no longer validate)."""
        with self._lock:
            if self._settings.pop(name, None) is not None:
                self._write_locked()

    def info(self) -> dict[str, object]:
        """For the retained `info` message: `{"screening.threshold_c": 37.5, ...,
        "source": "command <id> at <ts>"}`, or `{"source": "config"}` when none applies."""
        with self._lock:
            entries = list(self._settings.items())
        out: dict[str, object] = {}
        for name, entry in entries:
            group = name.split(".")[0]
            out.update({f"{group}.{key}": value for key, value in entry["args"].items()})
        if not entries:
            return {"source": "config"}
        last = max((entry for _, entry in entries), key=lambda e: str(e["applied"]))
        out["source"] = f"command {last['id']} at {last['applied']}"
        return out

    # -- replay memory (command thread) -----------------------------------------------------

    def load_seen(self) -> tuple[SeenIds, int]:
        with self._lock:
            return dict(self._seen), self._watermark_ns

    def save_seen(self, ids: Mapping[str, tuple[int, int]], watermark_ns: int,
                  now_ns: int) -> None:
        """Remember `ids` still valid at `now_ns` (expired ones are harmless) and the
        watermark, and write."""
        with self._lock:
            self._seen = {k: (int(v[0]), int(v[1])) for k, v in ids.items() if v[1] >= now_ns}
            self._watermark_ns = int(watermark_ns)
            self._write_locked()

    # -- file -------------------------------------------------------------------------------

    def _load(self, path: Path) -> None:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or doc.get("schema") != STORE_SCHEMA:
                raise ValueError(f"not a {STORE_SCHEMA} document")
            settings = {str(n): {"args": dict(e["args"]), "id": str(e["id"]),
                                 "applied": str(e["applied"])}
                        for n, e in dict(doc.get("settings", {})).items()}
            seen = {str(k): (int(v[0]), int(v[1])) for k, v in dict(doc.get("seen", {})).items()}
            watermark = int(doc.get("watermark_ns", -1))
        except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
            log.error("command state %s cannot be read (%s): starting with the config's "
                      "settings and no replay memory; the file is replaced at the next "
                      "accepted command", path, exc)
            return
        self._settings, self._seen, self._watermark_ns = settings, seen, watermark

    def _write_locked(self) -> None:
        if self.path is None:
            return
        doc = {"schema": STORE_SCHEMA, "settings": self._settings,
               "seen": {k: list(v) for k, v in self._seen.items()},
               "watermark_ns": self._watermark_ns}
        try:
            write_atomic(self.path, json.dumps(doc, separators=(",", ":")).encode("utf-8"))
        except OSError as exc:
            if not self._write_failing:
                log.error("command state %s cannot be written (%s): applied settings and the "
                          "replay memory are kept in memory only until it works; free space "
                          "or fix the permissions of state.dir", self.path, exc)
            self._write_failing = True
            return
        if self._write_failing:
            log.info("command state %s written again", self.path)
        self._write_failing = False


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: temporary file, fsync, rename, fsync the folder."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
