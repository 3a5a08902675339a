"""`gate-edge demo`: the whole product in one command, needing nothing but mosquitto.

Synthesises a thermal scene with ground truth, starts a private Mosquitto on a free
loopback port, tails it as an operator would, replays the scene through the real pipeline
into it, then scores what arrived against the labels.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from edge.app.replay import replay
from edge.cli.tail import run_tail
from edge.config import Settings, validate
from edge.evaluation.evaluate import format_report, load_labels, match
from edge.sim.broker import PrivateBroker
from edge.sim.rgb import synthesize_rgb
from edge.sim.rgb_plan import RgbSceneSpec
from edge.sim.thermal import SceneSpec, synthesize


def _scene(out: Path, people: int, seed: int, rgb: bool) -> float:
    """Synthesise the demo scene; returns its duration in seconds."""
    if rgb:
        summary = synthesize_rgb(out, RgbSceneSpec(people=people, seed=seed))
        print(
            f"scene: {out} (RGB 640x480 + thermal 160x120; {summary.people} people, "
            f"{summary.fevers} with fever, {summary.pairs} pairs; {summary.duration_s:.0f} s)"
        )
        return summary.duration_s
    thermal = synthesize(out, SceneSpec(people=people, seed=seed))
    print(
        f"scene: {out} (thermal 160x120; {thermal.people} people, {thermal.fevers} with fever, "
        f"{thermal.pairs} pairs, {thermal.passers} passers too far away; "
        f"{thermal.duration_s:.0f} s)"
    )
    return thermal.duration_s


def run_demo(out: Path, *, people: int, seed: int, speed: float | None, rgb: bool = True) -> int:
    duration_s = _scene(out, people, seed, rgb)
    labels = load_labels(out)
    expected = sum(1 for p in labels if p.get("expect"))
    with PrivateBroker() as broker:
        print(f"broker: private mosquitto at {broker.url}")
        settings: Settings = validate(
            {"gate": {"site": "demo", "gate": "north"}, "mqtt": {"broker": broker.url}}, "demo"
        )
        ready = threading.Event()
        tail_rc: list[int] = []
        tail = threading.Thread(
            target=lambda: tail_rc.append(
                run_tail(
                    broker.url,
                    "gate",
                    "demo",
                    None,
                    None,
                    False,
                    sys.stdout,
                    expected,
                    60.0 + duration_s,
                    ready=ready,
                )
            ),
            name="tail",
        )
        tail.start()
        if not ready.wait(10.0):
            print("tail did not subscribe within 10 s", file=sys.stderr)
        print(f"--- gate-edge tail (replaying at {'max' if speed is None else f'{speed:g}x'}) ---")
        result = replay(settings, out, speed=speed)
        tail.join()
    print("--- evaluation against the scene's labels ---")
    report = match(result.decisions, labels, result.meta, 0)
    print(format_report(report))
    return 0 if report.all_ok and tail_rc == [0] else 1
