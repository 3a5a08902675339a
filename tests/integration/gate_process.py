"""Run `gate-edge run` as a real child process, and collect what a backend receives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from edge.transport.mqtt import BrokerOptions, Subscriber
from edge.transport.outbox import Outbox

SITE = "fault"


def write_config(path: Path, broker_url: str, gate: str, scene: Path, state: Path,
                 speed: float) -> Path:
    path.write_text(
        f'[gate]\nsite = "{SITE}"\ngate = "{gate}"\n'
        f'[mqtt]\nbroker = "{broker_url}"\nmetrics_interval_s = 1\nconnect_timeout_s = 2\n'
        f'[thermal.reference]\nmode = "auto"\n'
        f'[source]\nkind = "replay"\npath = "{scene}"\nspeed = {speed}\n'
        f'[state]\ndir = "{state}"\n'
    )
    return path


def start_gate(config: Path, log_path: Path, env: dict[str, str] | None = None,
               prefix: list[str] | None = None) -> subprocess.Popen[bytes]:
    """`gate-edge run` as a child; `env` adds variables (e.g. the kill-after-commit seam),
    `prefix` wraps the command (e.g. in a private mount namespace)."""
    log = log_path.open("ab")
    return subprocess.Popen(
        [*(prefix or []), sys.executable, "-m", "edge", "-v", "run", "--config", str(config)],
        stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def people_of(events: list[dict[str, Any]], scene: Path) -> dict[str, set[str]]:
    """Which labelled person each event is about -> the distinct event ids per person.

    A person is who was in view when the event's frame was taken (labels.json enter/exit,
    with the evaluation's margins) and, among those, the nearest: head centre to box centre
    in pixels (tells a pair apart) plus 10 px per second from the person's closest approach
    (tells one walking out from the next walking in). An event nobody was in view for goes
    under "?". Track numbers cannot be used: they start again in every process."""
    labels = json.loads((scene / "labels.json").read_text())["people"]
    out: dict[str, set[str]] = {}
    for event in events:
        t = int(event["t_ns"])
        cands = [p for p in labels
                 if int(p["enter_ns"]) - 500_000_000 <= t <= int(p["exit_ns"]) + 1_000_000_000]
        x, _, w, _ = event["bbox"]

        def dist(p: dict[str, Any], centre: float = x + w / 2, t: int = t) -> float:
            hx, _, hw, _ = p["head_box"]
            return float(abs(hx + hw / 2 - centre) + 10 * abs(t - int(p["closest_ns"])) / 1e9)

        who = str(min(cands, key=dist)["label"]) if cands else "?"
        out.setdefault(who, set()).add(str(event["id"]))
    return out


def committed_seqs(state: Path, gate: str) -> int:
    """The highest seq the gate ever committed to its outbox (what must be delivered)."""
    with Outbox(state / "outbox.sqlite3", site=SITE, gate=gate) as outbox:
        return outbox.last_seq()


class _Collector:
    """Every JSON message a subscriber receives, appended to `received` on a thread; waiters
    are woken on each one."""

    def __init__(self, sub: Subscriber, what: str) -> None:
        self.received: list[dict[str, Any]] = []
        self._new = threading.Condition()
        self._sub = sub.start()
        assert self._sub.subscribed.wait(10.0), f"could not subscribe to {what}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self._stop.is_set():
            message = self._sub.get(0.2)
            if message is not None:
                with self._new:
                    self.received.append(json.loads(message[1]))
                    self._new.notify_all()

    def _wait(self, predicate: Any, timeout_s: float) -> bool:
        with self._new:
            return bool(self._new.wait_for(lambda: predicate(self.received), timeout_s))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self._sub.close()


class Backend(_Collector):
    """A durable consumer: persistent session, so nothing is missed while it or the broker
    is away. Records every event delivery (duplicates included) in arrival order."""

    def __init__(self, broker_url: str, gate: str) -> None:
        super().__init__(Subscriber(
            BrokerOptions(url=broker_url, reconnect_min_s=1, reconnect_max_s=1),
            [f"gate/{SITE}/{gate}/event/#"],
            client_id=f"backend-{gate}",
            clean_session=False,
        ), "events")
        self.events = self.received

    def wait_for(self, predicate: Any, timeout_s: float) -> bool:
        """Until `predicate(events)` holds (False on timeout)."""
        return self._wait(predicate, timeout_s)


class Metrics(_Collector):
    """Every metrics message of the gate (or of another of its topics: `topic`), on a thread."""

    def __init__(self, url: str, gate: str, topic: str = "metrics") -> None:
        super().__init__(Subscriber(BrokerOptions(url=url), [f"gate/{SITE}/{gate}/{topic}"]),
                         topic)
        self.seen = self.received

    def wait_for(self, predicate: Any, timeout_s: float) -> bool:
        """Until some metrics message satisfies `predicate` (False on timeout)."""
        return self._wait(lambda seen: any(predicate(m) for m in seen), timeout_s)
