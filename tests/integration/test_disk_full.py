"""Full disk under a real `gate-edge run` (issue 9): the state dir is a 4 MiB tmpfs of the
gate's own (`unshare -Urm`: a user + mount namespace, no root needed where unprivileged user
namespaces are allowed; skipped elsewhere). The test fills it mid-run through
/proc/{pid}/root, keeps it full for a while, then frees it: every person's decision must
arrive exactly once, with gap-free seq, no traceback, and metrics saying degraded meanwhile.

A read-only state dir mid-run cannot be staged the same way: remounting read-only fails with
EBUSY while SQLite holds the file open for writing (the kernel's errors=remount-ro does not
ask). SQLite reports it as an OperationalError like a full disk, so the same path handles it;
its message is checked in tests/transport/test_outbox.py."""

from __future__ import annotations

import errno
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from edge.sim.thermal import SceneSpec, synthesize
from tests.integration.gate_process import Backend, Metrics, people_of, start_gate, write_config

pytestmark = [pytest.mark.fault, pytest.mark.broker]

TMPFS = "size=4m,mode=0700"


def _private_tmpfs(state: Path) -> list[str]:
    """The command prefix that runs the gate with `state` on its own small tmpfs."""
    script = f'mount -t tmpfs -o {TMPFS} tmpfs "$0" && exec "$@"'
    return ["unshare", "-Urm", "sh", "-c", script, str(state)]


def _tmpfs_available(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    done = subprocess.run([*_private_tmpfs(probe), "true"], capture_output=True, timeout=10)
    return done.returncode == 0


def _fill(folder: Path) -> int:
    """Write a filler file until the filesystem is full; returns the bytes written."""
    written = 0
    with (folder / "filler").open("wb", buffering=0) as f:
        for chunk in (1 << 16, 1 << 12, 512):
            block = b"\0" * chunk
            while True:
                try:
                    f.write(block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
                written += chunk
    return written


def test_disk_full_mid_run_then_freed_every_decision_arrives_once(
    tmp_path: Path, broker: Any
) -> None:
    if not _tmpfs_available(tmp_path):
        pytest.skip("no unprivileged user + mount namespace here (unshare -Urm)")
    scene = tmp_path / "scene"
    people = synthesize(scene, SceneSpec(people=12, passers=0, seed=31)).people
    state = tmp_path / "state"
    state.mkdir()
    config = write_config(tmp_path / "gate.toml", broker.url, "full", scene, state, speed=2.0)
    backend = Backend(broker.url, "full")
    metrics = Metrics(broker.url, "full")
    log = tmp_path / "gate.log"
    gate = start_gate(config, log, prefix=_private_tmpfs(state))
    try:
        assert backend.wait_for(lambda ev: len(ev) >= 1, 60.0), "no event before the disk filled"
        seen_by_gate = Path(f"/proc/{gate.pid}/root") / str(state).lstrip("/")
        filled = _fill(seen_by_gate)
        full_at = len(backend.events)
        # Keep the disk full until the gate reports that it holds at least two decisions in
        # memory: people keep being decided while nothing can be written.
        assert metrics.wait_for(lambda m: m.get("held_events", 0) >= 2, 60.0), "nothing held"
        assert gate.poll() is None, "the gate died on a full disk"
        held_during = len(backend.events) - full_at
        (seen_by_gate / "filler").unlink()
        assert gate.wait(120.0) == 0, log.read_text()[-3000:]
        assert backend.wait_for(lambda ev: len({e["id"] for e in ev}) >= people, 30.0)
    finally:
        if gate.poll() is None:
            gate.kill()
        metrics.close()
        backend.close()
    text = log.read_text()
    degraded = [m for m in metrics.seen if m.get("state") == "degraded"]
    unique = {e["id"]: e for e in backend.events}
    by_person = people_of(list(unique.values()), scene)
    print(f"\ndisk full ({filled / 1e6:.1f} MB filler): events during {held_during}, "
          f"metrics degraded {len(degraded)}, max held "
          f"{max((m['held_events'] for m in degraded), default=0)}, distinct ids {len(unique)}, "
          f"duplicates by id {len(backend.events) - len(unique)}, people {people}")
    assert "Traceback" not in text and "aside" not in text
    assert "database or disk is full" in text and "free space" in text
    assert "writable again" in text
    assert degraded and all(m["outbox_error"] for m in degraded)
    assert max(m["held_events"] for m in degraded) >= 2, "no decision was held in memory"
    assert sorted(e["seq"] for e in unique.values()) == list(range(1, len(unique) + 1))
    assert "?" not in by_person and all(len(ids) == 1 for ids in by_person.values())
    assert len(by_person) == people == len(unique)
