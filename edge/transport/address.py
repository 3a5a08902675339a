"""Where a broker is and how to authenticate to it, without paho: `BrokerOptions`, URL
parsing (with credentials redacted from errors), the credentials file and the TLS context.
"""

from __future__ import annotations

import logging
import ssl
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from edge.errors import ConfigError

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    scheme: str  # "mqtt" or "mqtts"
    host: str
    port: int

    @property
    def tls(self) -> bool:
        return self.scheme == "mqtts"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def _redacted(url: str) -> str:
    scheme, sep, rest = url.strip().partition("://")
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    return f"{scheme}{sep}{netloc}{slash}{path}"


def parse_broker_url(url: str) -> BrokerAddress:
    """`mqtt://host[:1883]` or `mqtts://host[:8883]`; ConfigError naming the problem."""
    shown = _redacted(url)  # never echo a password someone put in the URL
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"broker URL {shown!r} is invalid: {exc}") from None
    if parts.scheme not in _DEFAULT_PORTS:
        raise ConfigError(f"broker URL {shown!r}: scheme must be mqtt:// or mqtts:// (TLS), "
                          "e.g. mqtt://127.0.0.1:1883")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"broker URL {shown!r}: credentials in the URL are not accepted (they leak "
            "through ps and logs); put them in a credentials file"
        )
    if not parts.hostname:
        raise ConfigError(f"broker URL {shown!r} has no host, e.g. mqtt://127.0.0.1:1883")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"broker URL {shown!r}: only scheme://host:port is allowed (no path)")
    return BrokerAddress(parts.scheme, parts.hostname, port or _DEFAULT_PORTS[parts.scheme])


@dataclass(frozen=True, slots=True)
class BrokerOptions:
    """How to reach the broker. `credentials_file` holds one line `username:password`."""

    url: str = "mqtt://127.0.0.1:1883"
    credentials_file: Path | None = None
    ca_file: Path | None = None  # mqtts: CA bundle; None = the system's trust store
    cert_file: Path | None = None  # mqtts: client certificate (with key_file)
    key_file: Path | None = None
    connect_timeout_s: float = 10.0  # TCP/TLS connect, then again for the CONNACK
    keepalive_s: int = 30
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30


def read_credentials(path: Path) -> tuple[str, str]:
    """(username, password) from `path`; errors never quote the file's content."""
    try:
        if path.stat().st_mode & 0o077:
            log.warning("credentials file %s is readable by other users; chmod 600 it", path)
        line = next((ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()), "")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read broker credentials file {path}: {exc}") from exc
    username, sep, password = line.strip().partition(":")
    if not sep or not username:
        raise ConfigError(f"broker credentials file {path}: expected one line 'username:password'")
    return username, password


def tls_context(options: BrokerOptions) -> ssl.SSLContext:
    """Verifying client context: the server certificate must match the URL's host."""
    try:
        ctx = ssl.create_default_context(cafile=str(options.ca_file) if options.ca_file else None)
        if options.cert_file is not None:
            key = str(options.key_file) if options.key_file else None
            ctx.load_cert_chain(str(options.cert_file), key)
    except (OSError, ssl.SSLError) as exc:
        files = f"ca_file={options.ca_file}, cert_file={options.cert_file}"
        raise ConfigError(
            f"TLS setup for the broker failed ({files}, key_file={options.key_file}): {exc}"
        ) from exc
    return ctx
