"""Issue 4 fault injection: 10,000 malformed or hostile MQTT command payloads against a real
Mosquitto and the gate's own Publisher. No crash, no state change, every rejection logged
with its reason; then one valid command still gets through and events still flow.

The gate side is wired the way the composition root wires it: Publisher(on_command=enqueue)
on paho's thread -> bounded queue -> one consumer thread -> CommandVerifier.verify -> apply.
Synchronisation is by conditions, events and queues with timeouts: no sleeps.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from edge.commands.envelope import DEFAULT_MAX_BYTES, command_topic
from edge.commands.keys import key_id
from edge.commands.verify import REASONS, Command, CommandVerifier, sign_command
from edge.core.types import Decision, TemperatureReading
from edge.sim.broker import PrivateBroker
from edge.transport.events import gate_topic
from edge.transport.mqtt import BrokerOptions, Publisher, Subscriber, parse_broker_url
from edge.transport.mqtt.link import MAX_PACKET_BYTES
from edge.transport.outbox import Outbox

pytestmark = [pytest.mark.broker, pytest.mark.fault]

HOSTILE = 10_000
SEED = 20261128
BATCH = 500  # below Mosquitto's default max_queued_messages (1000) per subscriber
WAIT_S = 60.0
SITE = "fz"
ALLOWED = frozenset({"set_mode"})

Item = tuple[str, bytes, str]  # topic, payload, the reason it must be rejected with


@dataclass
class GateState:
    """What accepted commands change. Only the consumer thread writes it."""

    mode: str = "normal"
    applied: list[Command] = field(default_factory=list)
    sentinel_applied: threading.Event = field(default_factory=threading.Event)

    def apply(self, command: Command) -> None:
        self.applied.append(command)
        if command.name == "set_mode":
            self.mode = str(command.args.get("mode"))
        if command.args.get("sentinel") is True:
            self.sentinel_applied.set()


class Hostile:
    """Deterministic generator of (topic, payload, expected reason)."""

    def __init__(self, gate: str, trusted: Ed25519PrivateKey, untrusted: Ed25519PrivateKey,
                 seed: int) -> None:
        self.gate, self.key, self.untrusted = gate, trusted, untrusted
        self.rng = random.Random(seed)
        self.n = 0

    def topic(self, name: str = "set_mode", gate: str | None = None) -> str:
        return command_topic("gate", SITE, self.gate if gate is None else gate, name)

    def signed(self, name: str = "set_mode", args: dict[str, Any] | None = None, *,
               gate: str | None = None, site: str = SITE, key: Ed25519PrivateKey | None = None,
               shift_s: float = 0.0, ttl_s: float = 300.0, max_bytes: int = DEFAULT_MAX_BYTES,
               ) -> bytes:
        self.n += 1
        now = time.time_ns() + int(shift_s * 1e9)
        return sign_command(
            key or self.key, name, {"mode": f"evil{self.n}"} if args is None else args, site,
            self.gate if gate is None else gate, ttl_s, lambda: now, max_bytes=max_bytes,
        )

    def doc(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.signed())
        return parsed

    # Each category returns the messages it adds (most one, the replay pair two).
    def random_bytes(self) -> list[Item]:
        return [(self.topic(), b"\xff" + self.rng.randbytes(self.rng.randrange(300)), "not_utf8")]

    def random_text(self) -> list[Item]:
        alphabet = 'abc"[]:,0123456789 \\\n\t\x00é\u202e😀{'
        body = "".join(self.rng.choice(alphabet) for _ in range(self.rng.randrange(200)))
        return [(self.topic(), ("{" + body).encode(), "not_json")]

    def truncated(self) -> list[Item]:
        whole = self.signed()
        return [(self.topic(), whole[: self.rng.randrange(len(whole))], "not_json")]

    def non_finite(self) -> list[Item]:
        literal = self.rng.choice(
            ["NaN", "Infinity", "-Infinity", "1e999", "-1e400", "9" * 4400, "1" + "0" * 60,
             "1." + "1" * 60])
        text = self.signed().decode().replace('"mode":"evil', f'"mode":{literal},"x":"', 1)
        return [(self.topic(), text.encode(), "not_json")]

    def deep_unparseable(self) -> list[Item]:
        opener, closer = self.rng.choice([("[", "]"), ('{"a":', "}")])
        depth = self.rng.randrange(1100, (DEFAULT_MAX_BYTES - 20) // len(opener + closer))
        body = '{"args":' + opener * depth + "1" + closer * depth + "}"
        return [(self.topic(), body.encode(), "not_json")]

    def deep_parseable(self) -> list[Item]:
        depth = self.rng.randrange(33, 400)
        doc = self.doc()
        doc["args"] = {"x": json.loads("[" * depth + "]" * depth)}
        return [(self.topic(), json.dumps(doc).encode(), "bad_schema")]

    def too_large(self) -> list[Item]:
        # Up to what the broker still delivers: bigger packets never reach the gate (its MQTT 5
        # Maximum Packet Size, MAX_PACKET_BYTES; tests/integration/test_big_commands.py).
        size = self.rng.randrange(DEFAULT_MAX_BYTES + 1, MAX_PACKET_BYTES - 2048)
        if self.rng.random() < 0.5:  # a perfectly valid, signed command that is too big
            payload = self.signed(args={"mode": "big", "pad": "x" * size}, max_bytes=10**7)
        else:
            payload = b'{"args":"' + b"A" * size + b'"}'
        return [(self.topic(), payload, "too_large")]

    def at_the_cap(self) -> list[Item]:
        """Exactly max_bytes: not too large, so it must fail later (tampered -> signature)."""
        probe = len(self.signed(args={"mode": "x", "pad": ""}))
        payload = self.signed(args={"mode": "x", "pad": "p" * (DEFAULT_MAX_BYTES - probe)})
        assert len(payload) == DEFAULT_MAX_BYTES
        return [(self.topic(), payload.replace(b'"mode":"x"', b'"mode":"y"'), "bad_signature")]

    def wrong_types(self) -> list[Item]:
        doc = self.doc()
        field_name, value = self.rng.choice([
            ("args", []), ("args", "x"), ("args", None), ("name", 123), ("name", "A/B"),
            ("issued", 0), ("expires", "tomorrow"), ("id", "not-a-ulid"), ("kid", "X" * 16),
            ("schema", "gate-edge/cmd/2"), ("site", ""), ("gate", ["x"]), ("sig", "%%%"),
            ("admin", True), ("name", True), ("args", 1.5),
        ])
        doc[field_name] = value
        if self.rng.random() < 0.2:
            del doc[self.rng.choice(sorted(doc))]
        if self.rng.random() < 0.1:
            return [(self.topic(), json.dumps(self.rng.choice([[doc], 1, "s", None])).encode(),
                     "bad_schema")]
        return [(self.topic(), json.dumps(doc).encode(), "bad_schema")]

    def wrong_topic(self) -> list[Item]:
        base = f"gate/{SITE}/{self.gate}/cmd"
        topic, payload = self.rng.choice([
            (self.topic("other_name"), self.signed()),
            (base, self.signed()),
            (base + "/set_mode/extra", self.signed()),
            (f"gate/{SITE}/cmd/set_mode/x/y", self.signed(gate="*")),
            (self.topic(), self.signed(gate="*")),  # site-wide envelope on this gate's topic
            (self.topic(gate="*"), self.signed(site="elsewhere", gate="*")),
        ])
        return [(topic, payload, "wrong_topic")]

    def other_gate(self) -> list[Item]:
        return [(self.topic(gate="*"), self.signed(gate="south"), "not_for_this_gate")]

    def untrusted_key(self) -> list[Item]:
        return [(self.topic(), self.signed(key=self.untrusted), "unknown_key")]

    def forged(self) -> list[Item]:
        doc = self.doc()
        choice = self.rng.randrange(3)
        if choice == 0:  # tampered args
            doc["args"] = {"mode": "open"}
        elif choice == 1:  # random signature
            doc["sig"] = base64.b64encode(self.rng.randbytes(64)).decode()
        else:  # untrusted key claiming the trusted kid
            other = json.loads(self.signed(key=self.untrusted))
            doc = {**other, "kid": key_id(self.key.public_key())}
        return [(self.topic(), json.dumps(doc).encode(), "bad_signature")]

    def expired(self) -> list[Item]:
        return [(self.topic(), self.signed(shift_s=-3600, ttl_s=600), "expired")]

    def not_yet_valid(self) -> list[Item]:
        return [(self.topic(), self.signed(shift_s=3600), "not_yet_valid")]

    def unknown_command(self) -> list[Item]:
        name = self.rng.choice(["self_destruct", "reboot", "config.set", "open_gate"])
        return [(self.topic(name), self.signed(name), "unknown_command")]

    def replay_pair(self) -> list[Item]:
        # The first copy is validly signed but unknown (so it changes nothing) and spends
        # its id; the second, byte for byte the same, is the replay.
        name = self.rng.choice(["self_destruct", "reboot"])
        message = self.signed(name)
        return [(self.topic(name), message, "unknown_command"),
                (self.topic(name), message, "replayed")]

    def generate(self, count: int) -> list[Item]:
        singles: list[Callable[[], list[Item]]] = [
            self.random_bytes, self.random_text, self.truncated, self.non_finite,
            self.deep_unparseable, self.deep_parseable, self.too_large, self.at_the_cap,
            self.wrong_types, self.wrong_topic, self.other_gate, self.untrusted_key,
            self.forged, self.expired, self.not_yet_valid, self.unknown_command,
        ]
        items: list[Item] = []
        while len(items) < count:
            room = count - len(items)
            make = self.rng.choice([*singles, self.replay_pair] if room >= 2 else singles)
            items.extend(make())
        return items


class Flood:
    """The attacker: a plain paho client publishing QoS 1."""

    def __init__(self, url: str) -> None:
        address = parse_broker_url(url)
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"flood-{uuid.uuid4()}")
        self.client.max_inflight_messages_set(100)
        self.client.connect(address.host, address.port, 30)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def flood(broker: PrivateBroker) -> Iterator[Flood]:
    attacker = Flood(broker.url)
    yield attacker
    attacker.close()


def test_ten_thousand_hostile_commands(
    broker: PrivateBroker, flood: Flood, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edge.commands")
    gate = f"fuzz{uuid.uuid4().hex[:8]}"
    key, untrusted = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    verifier = CommandVerifier({key_id(key.public_key()): key.public_key()}, SITE, gate,
                               allowed=ALLOWED)
    state = GateState()

    # -- the gate, wired like the composition root -------------------------------------------
    inbox: queue.Queue[tuple[str, bytes, bool] | None] = queue.Queue(maxsize=2 * BATCH)
    dropped = [0]

    def on_command(topic: str, payload: bytes, retained: bool) -> None:  # paho's: enqueue only
        try:
            inbox.put_nowait((topic, payload, retained))
        except queue.Full:
            dropped[0] += 1

    progress = threading.Condition()
    processed = [0]
    crashed: list[BaseException] = []

    def consume() -> None:
        while (item := inbox.get()) is not None:
            try:
                result = verifier.verify(*item)
                if isinstance(result, Command):
                    state.apply(result)
            except BaseException as exc:  # the assertion below reports it
                crashed.append(exc)
            with progress:
                processed[0] += 1
                progress.notify_all()

    consumer = threading.Thread(target=consume, name="commands", daemon=True)
    consumer.start()
    outbox = Outbox(":memory:", site=SITE, gate=gate)
    publisher = Publisher(BrokerOptions(url=broker.url, connect_timeout_s=10), site=SITE,
                          gate=gate, outbox=outbox, on_command=on_command)
    events = Subscriber(BrokerOptions(url=broker.url, connect_timeout_s=10),
                        [gate_topic("gate", SITE, gate, "event", "#")])
    try:
        publisher.start()
        events.start()
        assert publisher.commands_subscribed.wait(WAIT_S), "no SUBACK for the command topics"
        assert events.subscribed.wait(WAIT_S)

        items = Hostile(gate, key, untrusted, SEED).generate(HOSTILE)
        assert len(items) == HOSTILE
        expected = Counter(reason for _, _, reason in items)
        # Every reason but `retained` (a live subscriber never sees the retain flag set:
        # tests/integration/test_command_restart.py covers it).
        assert set(expected) == set(REASONS) - {"retained"}, "every reason must be exercised"

        def wait_processed(count: int) -> None:
            with progress:
                ok = progress.wait_for(lambda: processed[0] >= count or crashed, WAIT_S)
            assert ok, (f"only {processed[0]} of {count} commands reached the verifier "
                        f"(dropped {dropped[0]})")
            assert not crashed, f"consumer raised {crashed[0]!r}"

        started = time.perf_counter()
        for start in range(0, HOSTILE, BATCH):
            for topic, payload, _ in items[start:start + BATCH]:
                flood.client.publish(topic, payload, qos=1)
            wait_processed(min(start + BATCH, HOSTILE))  # pace: stay within broker queue limits
        hostile_s = time.perf_counter() - started
        assert state.applied == [] and state.mode == "normal", "a hostile command was applied"

        sentinel = sign_command(key, "set_mode", {"mode": "sentinel", "sentinel": True}, SITE,
                                gate, 60)
        flood.client.publish(command_topic("gate", SITE, gate, "set_mode"), sentinel, qos=1)
        assert state.sentinel_applied.wait(WAIT_S), "the valid command after the flood was lost"
        total_s = time.perf_counter() - started

        # -- exactly the sentinel changed state -------------------------------------------------
        assert [c.id for c in state.applied] == [json.loads(sentinel)["id"]]
        assert state.mode == "sentinel"

        # -- every hostile message was rejected for the reason it was built for ----------------
        stats = verifier.stats()
        assert stats["rejected"] == HOSTILE and stats["accepted"] == 1
        assert {r: stats[r] for r in REASONS} == {r: expected[r] for r in REASONS}
        assert dropped[0] == 0 and publisher.counters["command_callback_errors"] == 0

        # -- and logged, one WARNING each, with the reason and a short clean summary -----------
        rejections = [r for r in caplog.records
                      if r.name == "edge.commands" and r.levelno == logging.WARNING]
        assert len(rejections) == HOSTILE
        assert Counter(r.reason for r in rejections) == expected  # type: ignore[attr-defined]
        for record in rejections:
            message = record.getMessage()
            assert f"rejected: {record.reason}: " in message  # type: ignore[attr-defined]
            assert message.isprintable() and len(message) <= 300

        # -- the gate is still up: connected, and its events still arrive ----------------------
        assert publisher.connected and publisher.counters["disconnects"] == 0
        reading = TemperatureReading(36.6, 35.1, 37.3, "face-max", 9, True, 0.2)
        _seq, event_id = publisher.submit(Decision("screening", 1, 1, reading, (1, 2, 3, 4)))
        got = events.get(WAIT_S)
        assert got is not None, "an event published after the flood never arrived"
        assert json.loads(got[1])["id"] == event_id
        assert publisher.flush(WAIT_S)

        rate = (HOSTILE + 1) / total_s
        print(f"\ncommand fuzz: {HOSTILE} hostile + 1 valid command through Mosquitto in "
              f"{total_s:.2f} s ({rate:,.0f} messages/s; hostile part {hostile_s:.2f} s); "
              f"rejections: {dict(sorted(expected.items()))}")
    finally:
        inbox.put(None)
        consumer.join(WAIT_S)
        events.close()
        publisher.close()
