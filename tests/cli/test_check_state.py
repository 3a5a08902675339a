"""`gate-edge check` looks at state.dir (issue 9): `run` would start degraded on one it cannot
write, so `check`, the installer's command, fails (exit 2) and says what is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.shared import REPO_ROOT


def _check(tmp_path: Path, state: Path) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "gate.toml"
    config.write_text(f'[state]\ndir = "{state}"\n')
    return subprocess.run(
        [sys.executable, "-m", "edge", "check", "--config", str(config), "--no-broker"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )


def test_check_passes_a_state_dir_it_can_create(tmp_path: Path) -> None:
    proc = _check(tmp_path, tmp_path / "var" / "gate-edge")
    assert proc.returncode == 0, proc.stderr
    assert "state: ok (" in proc.stdout and "MB free" in proc.stdout
    assert not (tmp_path / "var").exists()  # check creates nothing


def test_check_fails_a_state_dir_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "var").write_text("a file where a folder must be")
    proc = _check(tmp_path, tmp_path / "var" / "gate-edge")
    assert proc.returncode == 2
    assert "config: ok" in proc.stdout and "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.startswith("state: ")]
    assert len(lines) == 1 and "is not a directory" in lines[0]
    assert "run would start degraded" in lines[0]
