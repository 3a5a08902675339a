"""`gate-edge demo`: the whole product in one command, needing nothing but mosquitto.

Synthesises a scene with ground truth, starts a private Mosquitto on a free loopback port,
tails it as an operator would, replays the scene through the real pipeline into it, then
scores what arrived against the labels. With a folder of face photos grouped by person
(`--faces`, default ../shared/data/faces when it is there) the scene is the residents' gate:
residents enrolled from other photos of themselves, strangers, quarantined residents, and
admission by face; without it, one public-domain portrait and temperatures only.
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

SHARED_FACES = Path("../shared/data/faces")


def _identity_scene(out: Path, people: int, seed: int, faces: Path) -> float:
    """The residents' scene: a quarter strangers, one in six quarantined, the rest residents;
    the list store enrolled from photos the scene never shows."""
    from edge.app.enrollment import MIN_EYE_DISTANCE_PX, build_lists

    strangers, quarantined = max(1, people // 4), max(1, people // 6)
    spec = RgbSceneSpec(
        people=people, seed=seed, faces_dir=faces, residents=people - strangers - quarantined,
        strangers=strangers, quarantined=quarantined, grant_by_face=True,
        enroll_min_eye_px=MIN_EYE_DISTANCE_PX,  # never cast a photo enrolment would refuse
    )
    summary = synthesize_rgb(out, spec)
    assert summary.enroll_plan is not None
    built = build_lists(summary.enroll_plan, out / "lists")
    print(
        f"scene: {out} (RGB 640x480 + thermal 160x120; {summary.people} people: "
        f"{spec.residents} residents, {quarantined} quarantined, {strangers} strangers; "
        f"{summary.fevers} with fever, {summary.pairs} pairs; {summary.duration_s:.0f} s)\n"
        f"lists: {out / 'lists'} ({built.subjects} subjects enrolled from other photos of "
        f"them, {built.templates} templates); residents are admitted by face"
    )
    return summary.duration_s


def _scene(out: Path, people: int, seed: int, rgb: bool, faces: Path | None) -> float:
    """Synthesise the demo scene; returns its duration in seconds."""
    if rgb and faces is not None:
        return _identity_scene(out, people, seed, faces)
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


def run_demo(
    out: Path, *, people: int, seed: int, speed: float | None, rgb: bool = True,
    faces: Path | None = None,
) -> int:
    if faces is None and rgb and (SHARED_FACES / "identities.csv").is_file():
        faces = SHARED_FACES
    duration_s = _scene(out, people, seed, rgb, faces)
    lists = out / "lists" if rgb and faces is not None else None
    labels = load_labels(out)
    # Every expected event, identity events too (`a|b` is one event).
    expected = sum(len(p.get("expect", [])) for p in labels)
    with PrivateBroker() as broker:
        print(f"broker: private mosquitto at {broker.url}")
        settings: Settings = validate(
            {"gate": {"site": "demo", "gate": "north"}, "mqtt": {"broker": broker.url},
             "identity": {"grant_residents_by_face": True}}, "demo"
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
        result = replay(settings, out, speed=speed, lists_dir=lists)
        tail.join()
    print("--- evaluation against the scene's labels ---")
    report = match(result.decisions, labels, result.meta, 0)
    print(format_report(report))
    return 0 if report.all_ok and tail_rc == [0] else 1
