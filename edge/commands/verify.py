"""Signed commands from the backend to the gates (docs/commands.md), without paho.

Envelope, schema `gate-edge/cmd/1`, one JSON object per MQTT message:

    {"schema": "gate-edge/cmd/1", "name": "quarantine.set", "id": "<ULID>",
     "issued": "2026-11-28T13:00:00.123Z", "expires": "2026-11-28T13:05:00.123Z",
     "site": "s1", "gate": "north" | "*", "args": {...},
     "kid": "<first 16 hex of sha256(raw Ed25519 public key)>", "sig": "<base64, 64 bytes>"}

`sig` is Ed25519 over the canonical JSON of the envelope without `sig`: `json.dumps(obj,
sort_keys=True, separators=(",", ":"), ensure_ascii=True)` (no NaN/Infinity). The verifier
re-serialises what it parsed, so the sender's whitespace and key order do not matter, but
numbers must survive a round trip (floats are rendered the way Python's `repr` does; senders in
other languages should stick to integers and strings in `args`).

Topics: `{prefix}/{site}/{gate}/cmd/{name}` for one gate (envelope `gate` = that gate) and
`{prefix}/{site}/cmd/{name}` for the whole site (envelope `gate` = "*", or one gate's name:
the other gates then reject it as `not_for_this_gate`).

`CommandVerifier.verify()` never raises: every input ends as a `Command` or a `Rejection`
with one of `REASONS`, logged at WARNING with a short, sanitised summary (never the payload).
Replay protection keeps the ids of verified commands in bounded memory, persisted in the
state dir when a `seen_store` is given (edge.commands.store); see `CommandVerifier`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import ValidationError
from ulid import ULID

from edge.commands.envelope import (
    DEFAULT_MAX_BYTES,
    MAX_DEPTH,
    MAX_TTL_S,
    NAME_PATTERN,
    NS_PER_S,
    SCHEMA,
    TOPIC_LEVEL,
    ULID_PATTERN,
    Envelope,
    canonical_json,
    describe_error,
    json_depth,
    loads_strict,
    parse_iso_utc_ns,
)
from edge.commands.keys import key_id
from edge.errors import ConfigError
from edge.transport.events import iso_utc_ms

__all__ = ["REASONS", "Command", "CommandVerifier", "Reason", "Rejection", "sign_command"]

log = logging.getLogger("edge.commands")  # one logger name for every command outcome

Reason = Literal[
    "too_large", "not_utf8", "not_json", "bad_schema", "retained", "wrong_topic",
    "not_for_this_gate",
    "unknown_key", "bad_signature", "not_yet_valid", "expired", "replayed", "unknown_command",
]
REASONS: tuple[Reason, ...] = get_args(Reason)
SUMMARY_CHARS = 80


# -- results ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """A verified command. `gate` is the target in the envelope: this gate's name or "*"."""

    name: str
    id: str
    args: dict[str, Any]
    issued_ns: int
    expires_ns: int
    kid: str
    gate: str = "*"


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused; `detail` is already sanitised (printable, <= 80 chars).
    `id` and `name` are the envelope's when they parsed and are well-formed, else None."""

    reason: Reason
    detail: str
    id: str | None = None
    name: str | None = None


def summary(text: object, limit: int = SUMMARY_CHARS) -> str:
    """`text` made safe for one log line: non-printable characters (controls, bidi
    overrides, surrogates) become '?', and the result is at most `limit` characters."""
    try:
        raw = str(text)
    except Exception:  # a hostile __str__ cannot happen for our inputs, but never raise here
        return "?"
    head = raw[: limit + 1]
    clean = "".join(c if c.isprintable() else "?" for c in head)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


class _Reject(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(reason)
        self.reason: Reason = reason
        self.detail = summary(detail)


# -- signing (backend side) -------------------------------------------------------------------


def sign_command(
    private_key: Ed25519PrivateKey,
    name: str,
    args: Mapping[str, Any],
    site: str,
    gate: str = "*",
    ttl_s: float = 300.0,
    clock_ns: Callable[[], int] = time.time_ns,
    *,
    command_id: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes:
    """A signed envelope (canonical JSON bytes) valid from now for `ttl_s` seconds.

    ConfigError when a field is invalid, `args` is not JSON (NaN, non-string keys, objects)
    or the envelope would exceed `max_bytes` (what gates accept).
    """
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ConfigError(f"command ttl {ttl_s} s: must be > 0 and <= {MAX_TTL_S} s")
    now_ns = int(clock_ns())
    ms = 1_000_000
    issued_ns = now_ns // ms * ms  # the ISO stamp keeps milliseconds; stay consistent with it
    envelope: dict[str, Any] = {
        "schema": SCHEMA,
        "name": name,
        "id": command_id or str(ULID()),
        "issued": iso_utc_ms(issued_ns),
        "expires": iso_utc_ms(issued_ns + math.ceil(ttl_s * 1000) * ms),
        "site": site,
        "gate": gate,
        "args": dict(args),
        "kid": key_id(private_key.public_key()),
    }
    try:
        unsigned = canonical_json(envelope)
        loads_strict(unsigned.decode("ascii"))  # same limits as the gate: long numbers, duplicates
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"command {name!r}: args are not plain JSON: {exc}") from None
    if json_depth(envelope) > MAX_DEPTH:
        raise ConfigError(f"command {name!r}: args nested deeper than {MAX_DEPTH} levels")
    envelope["sig"] = base64.b64encode(private_key.sign(unsigned)).decode("ascii")
    try:
        Envelope.model_validate(envelope)
    except ValidationError as exc:
        raise ConfigError(f"command {name!r}: {describe_error(exc)}") from None
    signed = canonical_json(envelope)
    if len(signed) > max_bytes:
        raise ConfigError(
            f"command {name!r} is {len(signed)} bytes; gates accept at most {max_bytes}"
        )
    return signed


# -- verifying (gate side) ---------------------------------------------------------------------


class SeenStore(Protocol):
    """Where the replay memory persists (edge.commands.store.CommandStore)."""

    def load_seen(self) -> tuple[dict[str, tuple[int, int]], int]: ...

    def save_seen(self, ids: Mapping[str, tuple[int, int]], watermark_ns: int,
                  now_ns: int) -> None: ...


def _identity(doc: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """The (id, name) of a parsed envelope when well-formed, for the sender's cmd_result."""
    if doc is None:
        return None, None
    cid, name = doc.get("id"), doc.get("name")
    return (cid if isinstance(cid, str) and re.fullmatch(ULID_PATTERN, cid) else None,
            name if isinstance(name, str) and re.fullmatch(NAME_PATTERN, name) else None)


@dataclass
class _Seen:
    """Ids of verified commands, bounded. Evicting an id that could still be replayed raises
    the watermark: commands issued at or before it are then refused as replays."""

    capacity: int
    ids: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (issued, last valid)
    watermark_ns: int = -1

    def check(self, command_id: str, issued_ns: int) -> str | None:
        if command_id in self.ids:
            return f"id {command_id} was already used"
        if issued_ns <= self.watermark_ns:
            return f"issued before the replay window ({iso_utc_ms(self.watermark_ns)})"
        return None

    def add(self, command_id: str, issued_ns: int, last_valid_ns: int, now_ns: int) -> None:
        if len(self.ids) >= self.capacity:
            self.ids = {k: v for k, v in self.ids.items() if v[1] >= now_ns}  # expired: harmless
        while len(self.ids) >= self.capacity:
            oldest = next(iter(self.ids))
            issued, _ = self.ids.pop(oldest)
            self.watermark_ns = max(self.watermark_ns, issued)
        self.ids[command_id] = (issued_ns, last_valid_ns)


class CommandVerifier:
    """Checks command messages for one gate; `verify()` never raises.

    Checks, in order (the first failure is the reason): too_large, not_utf8, not_json,
    bad_schema (field named), retained (the MQTT retain flag was set), wrong_topic,
    not_for_this_gate, unknown_key, bad_signature, not_yet_valid, expired, replayed,
    unknown_command. `allowed` is the set of command names the gate implements; a name
    outside it is refused (an empty set refuses everything).

    Clock skew of `max_skew_s` is tolerated both ways. Replays: ids of verified commands
    are remembered while they could still be accepted (at most `seen_ids_max`; beyond that
    the oldest is forgotten and anything issued at or before it is refused). With a
    `seen_store` the memory is loaded at start and saved at every accepted id, so a captured
    command is refused after a restart too; without one it is per process.

    Thread-safe; meant to be called from one consumer thread (never paho's).
    """

    def __init__(
        self,
        trusted: Mapping[str, Ed25519PublicKey],
        site: str,
        gate: str,
        *,
        allowed: Collection[str],
        prefix: str = "gate",
        clock_ns: Callable[[], int] = time.time_ns,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_skew_s: float = 300.0,
        seen_ids_max: int = 10_000,
        seen_store: SeenStore | None = None,
    ) -> None:
        for value, what in ((site, "site"), (gate, "gate"), (prefix, "prefix")):
            if not re.fullmatch(TOPIC_LEVEL, value):
                raise ConfigError(f"command verifier: {what} {value!r} is not one topic level")
        for kid, key in trusted.items():
            if key_id(key) != kid:
                raise ConfigError(f"trusted key {kid!r} does not match its key (kid {key_id(key)})")
        self._trusted = dict(trusted)
        self.site, self.gate, self.prefix = site, gate, prefix
        self._allowed = frozenset(allowed)
        self._clock_ns = clock_ns
        self._max_bytes = max_bytes
        self._skew_ns = int(max_skew_s * NS_PER_S)
        self._seen = _Seen(max(1, seen_ids_max))
        self._store = seen_store
        if seen_store is not None:
            ids, self._seen.watermark_ns = seen_store.load_seen()
            now_ns = int(clock_ns())
            self._seen.ids = {k: v for k, v in ids.items() if v[1] >= now_ns}
        self._doc: dict[str, Any] | None = None  # the message being verified, once parsed
        self._lock = threading.Lock()
        self._counts: dict[str, int] = dict.fromkeys((*REASONS, "accepted"), 0)

    def stats(self) -> dict[str, int]:
        """Accepted and rejected counts, one key per reason (zeros included)."""
        with self._lock:
            counts = dict(self._counts)
        counts["rejected"] = sum(counts[r] for r in REASONS)
        return counts

    def verify(self, topic: str, payload: bytes, retained: bool = False) -> Command | Rejection:
        """A verified Command, or the Rejection (logged at WARNING, counted). `retained`: the
        message carried the MQTT retain flag (a stored copy, not a fresh send): refused."""
        with self._lock:
            self._doc = None
            try:
                result: Command | Rejection = self._verify(topic, payload, retained)
            except _Reject as exc:
                result = Rejection(exc.reason, exc.detail, *_identity(self._doc))
            except Exception as exc:  # a bug must not let a message through or kill the caller
                result = Rejection("bad_schema", summary(f"unexpected {type(exc).__name__}"))
            key = "accepted" if isinstance(result, Command) else result.reason
            self._counts[key] += 1
        if isinstance(result, Rejection):
            log.warning(
                "command rejected: %s: %s (topic %s)", result.reason, result.detail,
                summary(topic), extra={"reason": result.reason},
            )
        else:
            log.info("command accepted: %s id %s kid %s", result.name, result.id, result.kid)
        return result

    # Called with the lock held; raises _Reject.
    def _verify(self, topic: str, payload: bytes, retained: bool) -> Command:
        data = bytes(payload)
        if len(data) > self._max_bytes:
            raise _Reject("too_large", f"{len(data)} bytes > {self._max_bytes}")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Reject("not_utf8", f"invalid UTF-8 at byte {exc.start}") from None
        doc = self._doc = self._parse(text)
        env = self._schema(doc)
        if retained:
            raise _Reject("retained", "retained message: commands must be sent unretained")
        self._check_topic(topic, env)
        if env.site != self.site or env.gate not in (self.gate, "*"):
            raise _Reject("not_for_this_gate", f"for {env.site}/{env.gate}")
        key = self._trusted.get(env.kid)
        if key is None:
            raise _Reject("unknown_key", f"kid {env.kid} is not trusted")
        unsigned = {k: v for k, v in doc.items() if k != "sig"}
        try:
            sig = base64.b64decode(env.sig, validate=True)
            # Base64 leaves spare bits in the last character; a second spelling of the same
            # signature would be a different message with the same meaning: refuse it.
            if base64.b64encode(sig).decode("ascii") != env.sig:
                raise ValueError("non-canonical base64")
            key.verify(sig, canonical_json(unsigned))
        except (InvalidSignature, binascii.Error, ValueError, TypeError):
            raise _Reject("bad_signature", f"signature does not verify (kid {env.kid})") from None
        issued_ns, expires_ns = parse_iso_utc_ns(env.issued), parse_iso_utc_ns(env.expires)
        now_ns = int(self._clock_ns())
        if issued_ns > now_ns + self._skew_ns:
            raise _Reject("not_yet_valid", f"issued {env.issued}, now {iso_utc_ms(now_ns)}")
        if expires_ns < now_ns - self._skew_ns:
            raise _Reject("expired", f"expired {env.expires}, now {iso_utc_ms(now_ns)}")
        replay = self._seen.check(env.id, issued_ns)
        if replay is not None:
            raise _Reject("replayed", replay)
        self._seen.add(env.id, issued_ns, expires_ns + self._skew_ns, now_ns)
        if self._store is not None:
            self._store.save_seen(self._seen.ids, self._seen.watermark_ns, now_ns)
        if env.name not in self._allowed:
            raise _Reject("unknown_command", f"{env.name!r} is not a command this gate knows")
        return Command(env.name, env.id, dict(env.args), issued_ns, expires_ns, env.kid, env.gate)

    @staticmethod
    def _parse(text: str) -> dict[str, Any]:
        try:
            doc = loads_strict(text)
        except RecursionError:
            raise _Reject("not_json", "nested too deep to parse") from None
        except ValueError as exc:  # JSONDecodeError, and our hooks' refusals
            raise _Reject("not_json", str(exc)) from None
        except Exception as exc:
            raise _Reject("not_json", f"unparseable: {type(exc).__name__}") from None
        if not isinstance(doc, dict):
            raise _Reject("bad_schema", f"envelope: a JSON {type(doc).__name__}, not an object")
        if json_depth(doc) > MAX_DEPTH:
            raise _Reject("bad_schema", f"nested deeper than {MAX_DEPTH} levels")
        return doc

    @staticmethod
    def _schema(doc: dict[str, Any]) -> Envelope:
        try:
            return Envelope.model_validate(doc)
        except ValidationError as exc:
            raise _Reject("bad_schema", describe_error(exc)) from None

    def _check_topic(self, topic: str, env: Envelope) -> None:
        head = f"{self.prefix}/{self.site}/"
        levels = topic[len(head):].split("/") if topic.startswith(head) else []
        if len(levels) == 2 and levels[0] == "cmd":
            topic_gate, name = None, levels[1]
        elif len(levels) == 3 and levels[0] == self.gate and levels[1] == "cmd":
            topic_gate, name = self.gate, levels[2]
        else:
            raise _Reject("wrong_topic", f"not {head}[{self.gate}/]cmd/NAME")
        if name != env.name:
            raise _Reject("wrong_topic", f"topic names {name!r}, envelope {env.name!r}")
        if env.site != self.site:
            raise _Reject("wrong_topic", f"envelope site {env.site!r} on site {self.site}'s topic")
        if topic_gate is not None and env.gate != topic_gate:
            raise _Reject("wrong_topic", f"envelope gate {env.gate!r} on gate {topic_gate}'s topic")
