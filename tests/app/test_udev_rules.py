"""systemd/99-gate-edge.rules: well-formed udev lines that give the unit's group the thermal
cameras by USB id under the names the example configs use."""

from __future__ import annotations

import re

from edge.config import load_config
from tests.shared import REPO_ROOT

RULES = REPO_ROOT / "systemd" / "99-gate-edge.rules"
UNIT = REPO_ROOT / "systemd" / "gate-edge.service"
PAIR = re.compile(r'^([A-Z_]+(?:\{[^}]+\})?)(==|!=|\+=|:=|=)"([^"]*)"$')


def _rules() -> list[dict[str, tuple[str, str]]]:
    rules = []
    for raw in RULES.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        rule: dict[str, tuple[str, str]] = {}
        for part in line.split(", "):
            m = PAIR.match(part)
            assert m, f"not KEY==\"value\" / KEY=\"value\": {part!r} in {raw!r}"
            rule[m.group(1)] = (m.group(2), m.group(3))
        rules.append(rule)
    return rules


def test_thermal_cameras_by_usb_id_get_the_units_group_and_link() -> None:
    unit_group = re.search(r"^SupplementaryGroups=(\S+)$", UNIT.read_text(), re.M)
    assert unit_group is not None
    video = [r for r in _rules() if r.get("SUBSYSTEM") == ("==", "video4linux")]
    by_id = {(r["ATTRS{idVendor}"][1], r["ATTRS{idProduct}"][1]): r for r in video}
    for usb_id in (("1e4e", "0100"), ("0bda", "5830")):  # PureThermal, P2 Pro / TC001
        rule = by_id[usb_id]
        assert rule["SYMLINK"] == ("+=", "gate-thermal")
        assert rule["GROUP"] == ("=", unit_group.group(1))
        assert rule["MODE"] == ("=", "0660")
        assert rule["ATTR{index}"] == ("==", "0")  # the capture node, not the metadata one
    links = {r["SYMLINK"][1] for r in video}
    assert links == {"gate-thermal", "gate-rgb"}
    for name in ("uvc-lepton", "uvc-p2pro"):
        source = load_config(REPO_ROOT / "configs" / f"{name}.toml").source
        assert source.thermal is not None and source.rgb is not None
        assert {source.thermal.path, source.rgb.path} == {f"/dev/{n}" for n in links}
