"""`PrivateBroker`: a private Mosquitto on a free loopback port, for tests, the demo and the
benchmarks; `make_test_tls` makes a throw-away CA and certificates for it.

Never a production broker: it listens on 127.0.0.1 only and keeps nothing on disk.
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from edge.errors import BrokerError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
_SEARCH_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/bin")
_INSTALL_HINT = "install it with: sudo apt-get install -y mosquitto"


@dataclass(frozen=True, slots=True)
class BrokerTls:
    """Server side TLS files; with `require_certificate` clients must present a cert."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    require_certificate: bool = False


def find_tool(name: str) -> str:
    """Path of a Mosquitto executable (PATH, then sbin dirs, which are often not on PATH)."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SEARCH_DIRS))
    if found is None:
        raise BrokerError(f"`{name}` not found on PATH or in {', '.join(_SEARCH_DIRS)}; "
                          + _INSTALL_HINT)
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class PrivateBroker:
    """`with PrivateBroker() as b: ... b.url ...` runs `mosquitto` until the block ends.

    `users` (name -> password) or `password_file` (made by mosquitto_passwd) turn off
    anonymous access unless `allow_anonymous` says otherwise; `tls` makes it an mqtts://
    listener. `stop()` then `start()` restarts it on the same port (to test reconnects).
    """

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        password_file: Path | None = None,
        allow_anonymous: bool | None = None,
        tls: BrokerTls | None = None,
        start_timeout_s: float = 10.0,
        persistence: bool = False,
    ) -> None:
        self._binary = find_tool("mosquitto")
        self._users = dict(users or {})
        self._password_file = password_file
        has_auth = bool(self._users) or password_file is not None
        self._allow_anonymous = (not has_auth) if allow_anonymous is None else allow_anonymous
        self._tls = tls
        self._start_timeout_s = start_timeout_s
        # Persistence keeps durable sessions and their queued QoS 1 messages across a
        # stop()/start(), as a production broker would (the outage tests need it).
        self._persistence = persistence
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        if not self.port:
            raise BrokerError("the private broker has not been started")
        return f"{'mqtts' if self._tls else 'mqtt'}://{HOST}:{self.port}"

    @property
    def dir(self) -> Path:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="gate-edge-broker-")
        return Path(self._tmp.name)

    @property
    def log_path(self) -> Path:
        return self.dir / "mosquitto.log"

    def log_tail(self, max_chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-max_chars:]
        except OSError:
            return ""

    def start(self) -> PrivateBroker:
        if self._proc is not None:
            return self
        attempts = 1 if self.port else 5
        for attempt in range(attempts):
            port = self.port or _free_port()
            if self._launch(port):
                self.port = port
                return self
            if attempt + 1 < attempts and "in use" in self.log_tail():
                continue  # another process took the free port between probe and bind
            break
        raise BrokerError(f"mosquitto did not start on {HOST}:{port}: {self.log_tail().strip()}")

    def _launch(self, port: int) -> bool:
        conf = self.dir / "mosquitto.conf"
        conf.write_text(self._config(port), encoding="utf-8")
        self.log_path.write_text("", encoding="utf-8")
        self._proc = subprocess.Popen(
            [self._binary, "-c", str(conf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        if self._wait_ready(port):
            return True
        self.stop()
        return False

    def _wait_ready(self, port: int) -> bool:
        """Readiness: the port accepts a TCP connection, or the process exited (False)."""
        assert self._proc is not None
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, port), timeout=0.5):
                    return True
            except OSError:
                pass
            try:
                self._proc.wait(timeout=0.02)  # doubles as the retry pause and the exit check
                return False
            except subprocess.TimeoutExpired:
                continue
        return False

    def _config(self, port: int) -> str:
        lines = [
            f"listener {port} {HOST}",
            f"allow_anonymous {'true' if self._allow_anonymous else 'false'}",
            *(
                ["persistence true", f"persistence_location {self.dir}/"]
                if self._persistence
                else ["persistence false"]
            ),
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            # As root Mosquitto drops to user "mosquitto", which cannot read our temp dir.
            f"user {getpass.getuser()}",
        ]
        password_file = self._password_file or self._write_password_file()
        if password_file is not None:
            lines.append(f"password_file {password_file}")
        if self._tls is not None:
            lines += [
                f"cafile {self._tls.ca_file}",
                f"certfile {self._tls.cert_file}",
                f"keyfile {self._tls.key_file}",
                f"require_certificate {'true' if self._tls.require_certificate else 'false'}",
            ]
        return "\n".join(lines) + "\n"

    def _write_password_file(self) -> Path | None:
        if not self._users:
            return None
        path = self.dir / "passwd"
        path.write_text("", encoding="utf-8")
        path.chmod(0o600)
        tool = find_tool("mosquitto_passwd")
        for user, password in self._users.items():
            done = subprocess.run([tool, "-b", str(path), user, password],
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise BrokerError(f"mosquitto_passwd failed for user {user!r}: "
                                  f"{done.stderr.strip() or done.stdout.strip()}")
        return path

    def stop(self) -> None:
        """Terminate (then kill) the broker; the port is kept for a later `start()`."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5.0)

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> PrivateBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def make_test_tls(directory: Path, host: str = HOST) -> BrokerTls:
    """A throwaway CA and a server certificate for `host` (IP or DNS name), via `openssl`.

    Also writes client.crt/client.key signed by the same CA for client-certificate tests.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise BrokerError("`openssl` not found; install it with: sudo apt-get install -y openssl")
    directory.mkdir(parents=True, exist_ok=True)
    d = directory
    san = f"IP:{host}" if host.replace(".", "").isdigit() or ":" in host else f"DNS:{host}"
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    steps = [
        ["req", "-x509", *key, "-days", "2", "-subj", "/CN=gate-edge test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt")],
    ]
    for name, subject, ext in (
        ("server", host, f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n"),
        ("client", "gate-edge test client", "extendedKeyUsage=clientAuth\n"),
    ):
        (d / f"{name}.ext").write_text(ext, encoding="utf-8")
        steps += [
            ["req", *key, "-subj", f"/CN={subject}", "-keyout", str(d / f"{name}.key"),
             "-out", str(d / f"{name}.csr")],
            ["x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.crt"),
             "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
             "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.crt")],
        ]
    for args in steps:
        done = subprocess.run([openssl, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BrokerError(f"openssl {args[0]} failed: {done.stderr.strip()}")
    return BrokerTls(d / "ca.crt", d / "server.crt", d / "server.key")
