"""What a state directory that cannot be written means, in one line, and what to do about it.

Shared by the outbox (a commit or an open that failed) and `gate-edge check` (an installer's
look before the gate starts). Never says "move the outbox aside": that would restart `seq` and
strand the unsent events.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

_LOW = 1 << 20  # under 1 MiB free: SQLite's "disk I/O error" is then a full disk


def write_failure_message(path: str, exc: BaseException, *, running: bool = True) -> str:
    """What went wrong with the outbox file `path` and what to do, in one line. `running`:
    the gate keeps measuring (the live gate's Committer adds how many it can hold)."""
    text = str(exc) or type(exc).__name__
    folder = str(Path(path).parent)
    then = ("the gate keeps measuring; decisions are held in memory until it is writable"
            if running else "the gate cannot start until then")
    return (
        f"outbox {path}: cannot write ({text}); {_hint(folder, exc)}; {then}. Keep the outbox "
        "file: it holds the unsent events and the event numbering"
    )


def _hint(folder: str, exc: BaseException) -> str:
    low = (str(exc) or "").lower()
    code = getattr(exc, "errno", None)
    if "full" in low or code == errno.ENOSPC or _free_bytes(folder) < _LOW:
        return f"free space on the filesystem of state.dir {folder}"
    if ("readonly" in low or "read-only" in low or code in (errno.EROFS, errno.EACCES,
                                                            errno.EPERM)
            or _read_only(folder) or "permission" in low):
        return f"make state.dir {folder} writable again (remount read-write, fix permissions)"
    return f"check the disk and the permissions of state.dir {folder}"


def state_dir_problem(state_dir: Path) -> str | None:
    """Why the gate (running as this user) could not write `state_dir`, or None when it can:
    `gate-edge check` fails on it, although `run` would start degraded (decisions held in
    memory). A folder that does not exist yet is fine when its nearest parent is writable
    (the gate creates it); nothing is created here."""
    existing = state_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    what = "state.dir" if existing == state_dir else f"state.dir's parent {existing}"
    if not existing.is_dir():
        return f"state.dir {state_dir}: {existing} is not a directory"
    if _read_only(str(existing)):
        return (f"state.dir {state_dir}: {what} is on a read-only filesystem; remount it "
                "read-write or choose another state.dir")
    if not os.access(existing, os.W_OK | os.X_OK):
        return (f"state.dir {state_dir}: {what} is not writable by this user (uid "
                f"{os.getuid()}); fix its permissions or owner")
    outbox = state_dir / "outbox.sqlite3"
    if outbox.exists() and not os.access(outbox, os.R_OK | os.W_OK):
        return f"state.dir {state_dir}: {outbox} is not writable by this user; fix its owner"
    if (free := _free_bytes(str(existing))) < _LOW:
        return (f"state.dir {state_dir}: the filesystem is full ({free // 1024} KiB free); "
                "free space on it")
    return None


def free_bytes(folder: Path) -> int:
    """Bytes free for this user on the filesystem of `folder` (or its nearest parent)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return _free_bytes(str(folder))


def _free_bytes(folder: str) -> int:
    try:
        st = os.statvfs(folder)
    except OSError:
        return _LOW
    return st.f_bavail * st.f_frsize


def _read_only(folder: str) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False
