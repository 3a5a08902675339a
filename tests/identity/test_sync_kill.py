"""The store survives SIGKILL in the middle of a big change: after reopening it holds the old
list or the new one, never a mix (a child process is killed inside the transaction)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from edge.identity.store import ListStore
from tests.identity import kill_child
from tests.identity.lists_helpers import contents, entries, snapshot_parts


def _base(folder: Path, kind: str) -> Path:
    with ListStore.open(folder) as store:
        for part in snapshot_parts(entries(kill_child.SUBJECTS, seed=10), version=10):
            assert store.apply(part).applied
        if kind == "snapshot":  # every part of 11 but the last one is staged
            for part in snapshot_parts(entries(kill_child.SUBJECTS, seed=11), version=11)[:-1]:
                assert store.apply(part).applied
    return folder


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Per kind: the prepared folder, the old and new contents, progress calls of the change."""
    out: dict[str, Any] = {}
    for kind in ("snapshot", "update"):
        base = _base(tmp_path_factory.mktemp(kind) / "lists", kind)
        dry = tmp_path_factory.mktemp(kind + "-dry") / "lists"
        shutil.copytree(base, dry)
        calls = kill_child.count_progress(dry, kind)
        with ListStore.open(base) as old, ListStore.open(dry) as new:
            out[kind] = (base, contents(old), contents(new), calls)
    return out


@pytest.mark.parametrize("kind", ["snapshot", "update"])
@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.95])
def test_sigkill_inside_the_transaction_keeps_the_old_list(
    states: dict[str, Any], tmp_path: Path, kind: str, fraction: float
) -> None:
    base, old, new, calls = states[kind]
    assert old[0] == 10 and new[0] == 11 and old != new and calls > 50
    folder = tmp_path / "lists"
    shutil.copytree(base, folder)
    spilled = kill_child.kill_inside(folder, kind, calls, fraction)
    if fraction >= 0.5:  # by then the change has pushed uncommitted pages into the WAL
        assert spilled > 100_000
    with ListStore.open(folder, create=False) as store:
        assert contents(store) == old
        assert store.apply(kill_child.big_change(kind)).applied  # still usable: apply again
        assert contents(store) == new
