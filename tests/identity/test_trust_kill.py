"""SIGKILL in the middle of a big trust change (200,000 revocation hashes swapped by a
snapshot, or 250,000 changed by an update): the reopened store holds the old keys and hashes
or the new ones, never a mix (the child process of test_sync_kill, other changes)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from edge.identity.store import ListStore
from tests.identity import kill_child
from tests.identity.lists_helpers import contents
from tests.identity.trust_helpers import trust_contents

KINDS = ("revocations", "revoke-update")


def _everything(store: ListStore) -> tuple[Any, ...]:
    return contents(store), trust_contents(store), store.trust_serial


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Per kind: the prepared folder, the old and new contents, progress calls of the change."""
    out: dict[str, Any] = {}
    for kind in KINDS:
        base = tmp_path_factory.mktemp(kind) / "lists"
        with ListStore.open(base) as store:
            for part in kill_child.trust_snapshot(10):
                assert store.apply(part).applied
            if kind == "revocations":  # every part of 11 but the last one is staged
                for part in kill_child.trust_snapshot(11)[:-1]:
                    assert store.apply(part).applied
        dry = tmp_path_factory.mktemp(kind + "-dry") / "lists"
        shutil.copytree(base, dry)
        calls = kill_child.count_progress(dry, kind)
        with ListStore.open(base) as old, ListStore.open(dry) as new:
            out[kind] = (base, _everything(old), _everything(new), calls)
    return out


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.95])
def test_sigkill_inside_a_trust_change_keeps_the_old_trust(
    states: dict[str, Any], tmp_path: Path, kind: str, fraction: float
) -> None:
    base, old, new, calls = states[kind]
    assert old[0][0] == 10 and new[0][0] == 11 and old[1] != new[1] and calls > 50
    folder = tmp_path / "lists"
    shutil.copytree(base, folder)
    spilled = kill_child.kill_inside(folder, kind, calls, fraction)
    if fraction >= 0.5:  # uncommitted pages of the change were already in the WAL file
        assert spilled > 100_000
    with ListStore.open(folder, create=False) as store:
        assert _everything(store) == old
        assert store.apply(kill_child.big_change(kind)).applied  # still usable: apply again
        assert _everything(store)[:2] == new[:2]
