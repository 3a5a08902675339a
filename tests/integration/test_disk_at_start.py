"""A state dir the gate cannot write when it starts (issue 9), under a real `gate-edge run`:
`state.dir` is a folder still to be created on a 4 MiB tmpfs of the gate's own (`unshare -Urm`,
as in test_disk_full.py) that is either full (a filler file written before the gate starts)
or mounted read-only. The gate must start, measure, hold the decisions in memory and say
so (`state: degraded`, `outbox_error` in metrics, one ERROR naming the fix and the cap), then,
once the filler is deleted or the tmpfs remounted read-write (nsenter into the gate's
namespaces), create the folder, open the outbox and deliver every person's decision exactly
once, seq 1, 2, ... without a gap. Waits on the gate's metrics, never on a sleep."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from edge.sim.thermal import SceneSpec, synthesize
from tests.integration.gate_process import Backend, Metrics, people_of, start_gate, write_config
from tests.integration.test_disk_full import TMPFS, _tmpfs_available

pytestmark = [pytest.mark.fault, pytest.mark.broker]

FILL = '{ cat /dev/zero > "$0/filler"; } 2>/dev/null; '  # ENOSPC ends it: the tmpfs is full


def _unusable_tmpfs(mount: Path, fault: str) -> list[str]:
    """Run the gate with `mount` on its own tmpfs, full or read-only before it starts."""
    if fault == "full":
        script = f'mount -t tmpfs -o {TMPFS} tmpfs "$0" && {FILL}exec "$@"'
    else:
        script = f'mount -t tmpfs -o ro,{TMPFS} tmpfs "$0" && exec "$@"'
    return ["unshare", "-Urm", "sh", "-c", script, str(mount)]


def _make_usable(pid: int, mount: Path, fault: str) -> None:
    if fault == "full":
        (Path(f"/proc/{pid}/root") / str(mount).lstrip("/") / "filler").unlink()
        return
    done = subprocess.run(
        ["nsenter", "-t", str(pid), "-U", "-m", "mount", "-o", "remount,rw", str(mount)],
        capture_output=True, text=True, timeout=10,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_state_dir_unusable_at_start_then_usable_every_decision_arrives_once(
    tmp_path: Path, broker: Any, fault: str
) -> None:
    if not _tmpfs_available(tmp_path):
        pytest.skip("no unprivileged user + mount namespace here (unshare -Urm)")
    if fault == "read-only" and shutil.which("nsenter") is None:
        pytest.skip("nsenter is needed to remount the gate's tmpfs read-write")
    scene = tmp_path / "scene"
    people = synthesize(scene, SceneSpec(people=8, passers=0, seed=43)).people
    mount = tmp_path / "mount"
    mount.mkdir()
    gate_name = f"start-{fault}"
    config = write_config(tmp_path / "gate.toml", broker.url, gate_name, scene,
                          mount / "state", speed=2.0)
    backend = Backend(broker.url, gate_name)
    metrics = Metrics(broker.url, gate_name)
    info = Metrics(broker.url, gate_name, topic="info")  # retained: every version of it
    log = tmp_path / "gate.log"
    gate = start_gate(config, log, prefix=_unusable_tmpfs(mount, fault))
    try:
        # People are decided and held while nothing can be written.
        assert metrics.wait_for(lambda m: m.get("held_events", 0) >= 2, 90.0), (
            log.read_text()[-3000:])
        assert gate.poll() is None, "the gate died on an unusable state dir"
        sent_while_held = len(backend.events)
        _make_usable(gate.pid, mount, fault)
        assert gate.wait(120.0) == 0, log.read_text()[-3000:]
        assert backend.wait_for(lambda ev: len({e["id"] for e in ev}) >= people, 30.0)
        assert info.wait_for(lambda m: m.get("state") == "ok", 10.0), info.seen
    finally:
        if gate.poll() is None:
            gate.kill()
        metrics.close()
        info.close()
        backend.close()
    text = log.read_text()
    degraded = [m for m in metrics.seen if m.get("state") == "degraded"]
    unique = {e["id"]: e for e in backend.events}
    by_person = people_of(list(unique.values()), scene)
    print(f"\nstate dir {fault} at start: metrics degraded {len(degraded)} (first metrics "
          f"{metrics.seen[0].get('state')}), max held "
          f"{max((m['held_events'] for m in degraded), default=0)}, distinct ids {len(unique)}, "
          f"duplicates by id {len(backend.events) - len(unique)}, people {people}")
    assert "Traceback" not in text and "aside" not in text
    hint = "free space" if fault == "full" else "make state.dir"
    assert hint in text and "decisions are held in memory (10000 max" in text
    assert "writable again" in text
    assert sent_while_held == 0  # nothing was committed, so nothing could be sent
    assert metrics.seen[0]["state"] == "degraded"  # from the first metrics on
    states = [m.get("state") for m in info.seen]
    assert states[0] == "degraded" and info.seen[0]["outbox_error"]  # from the first info on
    assert states[-1] == "ok" and info.seen[-1]["outbox_error"] is None
    assert degraded and all(m["outbox_error"] for m in degraded)
    assert sorted(e["seq"] for e in unique.values()) == list(range(1, len(unique) + 1))
    assert "?" not in by_person and all(len(ids) == 1 for ids in by_person.values())
    assert len(by_person) == people == len(unique)
