"""Decision latency of `gate-edge run` on a real-time replay (issue 13), and under overload.

Each row runs `gate-edge run` as a child process (source.speed = 1, a synthetic thermal scene,
a state dir, a private Mosquitto) and reads the last `latency_ms` {p50, p95, n} its metrics
reported: from the capture of the frame in which a person was first measurable to the
PUBACK of their event (edge.app.latency), and "at the gate": from the first frame the decision
used (the person at their closest). The overload row slows every processed frame by 50 ms
(GATE_EDGE_TEST_SLOW_MS) on a 25 fps scene, so frames are dropped at capture. The RGB + thermal
row (640x480 @ 15 fps + 160x120 @ 9 fps, 12 people) measures faces from ~45 px, seconds
before the person arrives: its "at the gate" numbers are the ones a person waits.
Run alone: `python bench/bench_latency.py`; bench/bench.py prints the same table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from edge.app.latency import SLOW_ENV
from edge.sim.broker import PrivateBroker
from edge.sim.rgb import synthesize_rgb
from edge.sim.rgb_plan import RgbSceneSpec
from edge.sim.thermal import SceneSpec, synthesize
from edge.transport.mqtt import BrokerOptions, Subscriber

ROWS = (  # (label, fps, people, slow_ms); fps 0: the RGB + thermal scene
    ("160x120 @ 9 fps, 12 people", 9.0, 12, 0),
    ("160x120 @ 25 fps, 12 people", 25.0, 12, 0),
    ("160x120 @ 25 fps, 12 people, +50 ms a frame (overload)", 25.0, 12, 50),
    ("RGB + thermal, 15 + 9 fps, 12 people", 0.0, 12, 0),
)


def _config(tmp: Path, url: str, gate: str, scene: Path) -> Path:
    path = tmp / f"{gate}.toml"
    path.write_text(
        f'[gate]\nsite = "bench"\ngate = "{gate}"\n'
        f'[mqtt]\nbroker = "{url}"\nmetrics_interval_s = 1\n'
        f'[source]\nkind = "replay"\npath = "{scene}"\nspeed = 1.0\n'
        f'[state]\ndir = "{tmp / gate}"\n'
    )
    return path


def _metrics_of_run(url: str, config: Path, gate: str, slow_ms: int) -> list[dict[str, Any]]:
    """Every metrics message of one `gate-edge run` until the footage ends."""
    messages: list[dict[str, Any]] = []
    with Subscriber(BrokerOptions(url=url), [f"gate/bench/{gate}/metrics"]) as sub:
        sub.subscribed.wait(10.0)
        stop = threading.Event()

        def pump() -> None:
            while not stop.is_set():
                message = sub.get(0.2)
                if message is not None:
                    messages.append(json.loads(message[1]))

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        env = {**os.environ, SLOW_ENV: str(slow_ms)} if slow_ms else dict(os.environ)
        subprocess.run([sys.executable, "-m", "edge", "run", "--config", str(config)],
                       env=env, check=True, capture_output=True, timeout=600)
        stop.set()
        thread.join(5.0)
    return messages


def _row(label: str, messages: list[dict[str, Any]]) -> str:
    with_latency = [m for m in messages if "latency_ms" in m]
    if not with_latency:
        return f"| {label} | (not reported: `run` does not attach its run loop) | | | | | | | |"
    last = max(with_latency, key=lambda m: int(m["latency_ms"]["n"]))
    lat, proc = last["latency_ms"], last["processing"]
    drops = last.get("capture", {}).get("drops", "?")
    depth = max(int(m.get("capture", {}).get("depth_max", 0)) for m in with_latency)
    return (f"| {label} | {lat['n']} | {lat['p50']:,.0f} | {lat['p95']:,.0f} | "
            f"{lat['near_p50']:,.0f} | {lat['near_p95']:,.0f} | "
            f"{lat['publish_p95']:,.0f} | {proc['fps']} | {drops} (queue <= {depth}) |")


def bench_latency() -> None:
    print("\n## Decision latency, `gate-edge run` real-time replay (first measurable frame "
          "-> PUBACK)\n")
    print("| scene | decisions | p50 ms | p95 ms | at the gate p50 ms | at the gate p95 ms "
          "| p95 decided -> PUBACK ms | processed frames/s | capture drops |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp_dir, PrivateBroker() as broker:
        tmp = Path(tmp_dir)
        for k, (label, fps, people, slow_ms) in enumerate(ROWS):
            scene = tmp / f"scene{k}"
            if fps:
                synthesize(scene, SceneSpec(people=people, passers=0, seed=41, fps=fps))
            else:
                synthesize_rgb(scene, RgbSceneSpec(people=people, seed=41))
            gate = f"lat{k}"
            config = _config(tmp, broker.url, gate, scene)
            print(_row(label, _metrics_of_run(broker.url, config, gate, slow_ms)), flush=True)


if __name__ == "__main__":
    bench_latency()
