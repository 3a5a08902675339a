"""`gate-edge calibrate-temp`: the site offset `screening.skin_offset_c` from clinical
thermometer readings, written into the config (the installer's step, docs/cli.md).

Readings are a CSV with a header line; each row pairs one of the gate's measurements with a
clinical thermometer reading of the same person taken at the same time:

- `thermometer_c` (required): the thermometer, degC (oral, as the FDA fit's reference).
- the measurement, either an event from `--events` (the JSON lines `gate-edge tail --json`
  printed): `id` (the event's ULID), or `track` and `t_ns` as the event shows them;
- or given inline: `skin_c` (the event's `temperature.skin_c`), optionally `site`
  (`face-max` / `canthus`; default from the config's `mode`) and `ambient_c` (the event's).
- `note`: free text, ignored. Blank lines and lines starting with `#` are skipped.

The fit: per row, the skin offset that would make the gate's estimate (today's map, at the
row's room) equal the thermometer, (thermometer - estimate) / slope of the site's map; the new
offset is the one in force when measuring plus the median of those. Refused with fewer than
MIN_PAIRS usable rows or when the rows disagree by more than MAX_MAD_C (median absolute
deviation of the body residuals): a mistyped reading, a person measured right after coming in
from the cold, or a gate that reads differently per person needs looking at, not averaging.
Readings taken while the reference was not ok (`reference_ok` false) are skipped.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tomlkit

from edge.core.bodytemp import body_from_skin_c, site_map
from edge.errors import ConfigError
from edge.evaluation.config_edit import set_config_value

MIN_PAIRS = 5
MAX_MAD_C = 0.4  # body degC; the FDA fit's own error against oral is 0.24-0.31 C (MAE)
# Standard error of a median from the MAD: sigma = 1.4826 MAD (normal), se = 1.2533 sigma/sqrt(n)
_MEDIAN_SE_PER_MAD = 1.4826 * 1.2533
COLUMNS = ("thermometer_c", "id", "track", "t_ns", "skin_c", "site", "ambient_c", "note")
MODE_SITES = {"thermal": "face-max", "rgb_thermal": "canthus"}


@dataclass(frozen=True, slots=True)
class Row:
    """One CSV row as written (`line`: its line number in the file)."""

    line: int
    thermometer_c: float
    event_id: str | None = None
    track: int | None = None
    t_ns: int | None = None
    skin_c: float | None = None
    site: str | None = None
    ambient_c: float | None = None

    @property
    def names_event(self) -> bool:
        return self.event_id is not None or self.track is not None


@dataclass(frozen=True, slots=True)
class Pair:
    """A row resolved to the gate's measurement. `label` says which (event id, track@t_ns or
    `inline`); `skip` why it is not used ('' when it is)."""

    line: int
    label: str
    thermometer_c: float
    skin_c: float
    site: str
    ambient_c: float | None
    skip: str = ""

    @property
    def body_c(self) -> float:
        """The gate's estimate for this skin reading with today's map, at the row's room."""
        return float(body_from_skin_c(self.skin_c, self.ambient_c, site=self.site))


@dataclass(frozen=True, slots=True)
class TempCalibration:
    """The fit. Offsets are skin degC; `mad_c`, residuals: body degC (estimate - thermometer)."""

    site: str
    offset_used_c: float
    delta_c: float  # added to offset_used_c
    uncertainty_c: float  # 1 sigma of delta_c (skin)
    mad_c: float
    pairs: tuple[Pair, ...]  # every row, used or skipped
    before_c: tuple[float, ...]  # per used pair
    after_c: tuple[float, ...]

    @property
    def offset_c(self) -> float:
        return self.offset_used_c + self.delta_c

    @property
    def used(self) -> tuple[Pair, ...]:
        return tuple(p for p in self.pairs if not p.skip)


def _number(path: Path, line: int, name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{path}: line {line}: {name} = {text!r}: expected a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{path}: line {line}: {name} = {text!r}: expected a finite number")
    return value


def _integer(path: Path, line: int, name: str, text: str) -> int:
    try:
        return int(text)  # t_ns has 19 digits: never through a float
    except ValueError:
        raise ConfigError(f"{path}: line {line}: {name} = {text!r}: expected an integer") from None


def _row(path: Path, line: int, cells: dict[str, str]) -> Row:
    get = {k: v.strip() for k, v in cells.items() if v is not None and v.strip()}
    if "thermometer_c" not in get:
        raise ConfigError(f"{path}: line {line}: thermometer_c is empty")
    thermo = _number(path, line, "thermometer_c", get["thermometer_c"])
    if not 30.0 <= thermo <= 45.0:
        raise ConfigError(
            f"{path}: line {line}: thermometer_c = {thermo:g}: expected degC between 30 and 45"
        )
    if ("track" in get) != ("t_ns" in get):
        raise ConfigError(f"{path}: line {line}: give both track and t_ns (or the event's id)")
    num = {k: _number(path, line, k, get[k]) for k in ("skin_c", "ambient_c") if k in get}
    ints = {k: _integer(path, line, k, get[k]) for k in ("track", "t_ns") if k in get}
    site = get.get("site")
    if site is not None:
        try:
            site_map(site)
        except ValueError as exc:
            raise ConfigError(f"{path}: line {line}: site: {exc}") from None
    row = Row(line, thermo, get.get("id"), ints.get("track"), ints.get("t_ns"),
              num.get("skin_c"), site, num.get("ambient_c"))
    if not row.names_event and row.skin_c is None:
        raise ConfigError(
            f"{path}: line {line}: name the gate's measurement: id, or track and t_ns (with "
            "--events), or skin_c"
        )
    return row


def read_rows(path: Path) -> list[Row]:
    """The readings CSV (header line first; see the module docstring for the columns)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read readings: {exc.strerror}") from None
    lines = [(n, t) for n, t in enumerate(text.splitlines(), 1)
             if t.strip() and not t.lstrip().startswith("#")]
    if not lines:
        raise ConfigError(f"{path}: no readings (expected a header line, then one row a person)")
    head_line, head = lines[0]
    header = [h.strip().lower() for h in next(csv.reader([head]))]
    unknown = [h for h in header if h not in COLUMNS]
    if unknown or "thermometer_c" not in header:
        what = f"unknown column(s) {unknown}" if unknown else "no thermometer_c column"
        raise ConfigError(
            f"{path}: line {head_line}: {what}; the header names some of {', '.join(COLUMNS)}"
        )
    rows = []
    for n, values in ((n, next(csv.reader([t]))) for n, t in lines[1:]):
        if len(values) > len(header):
            raise ConfigError(f"{path}: line {n}: {len(values)} values, header has {len(header)}")
        rows.append(_row(path, n, dict(zip(header, values, strict=False))))
    return rows


def load_events(path: Path) -> list[dict[str, object]]:
    """Temperature events from a `gate-edge tail --json` log (one JSON object a line; status,
    info and metrics lines are ignored; an event delivered twice counts once)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read events: {exc.strerror}") from None
    events: dict[str, dict[str, object]] = {}
    for n, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            body = json.loads(text)
        except ValueError:
            raise ConfigError(f"{path}: line {n}: not JSON (expected tail --json lines)") from None
        if isinstance(body, dict) and isinstance(body.get("temperature"), dict):
            events.setdefault(str(body.get("id", f"line {n}")), body)
    return list(events.values())


def _find(row: Row, events: list[dict[str, object]], origin: str) -> dict[str, object]:
    if row.event_id is not None:
        found = [e for e in events if e.get("id") == row.event_id]
        what = f"id {row.event_id}"
    else:
        found = [e for e in events if e.get("track") == row.track and e.get("t_ns") == row.t_ns]
        what = f"track {row.track} at t_ns {row.t_ns}"
    if not found:
        raise ConfigError(f"line {row.line}: no temperature event with {what} in {origin}")
    if len(found) > 1:
        gates = ", ".join(f"{e.get('site')}/{e.get('gate')} {e.get('id')}" for e in found)
        raise ConfigError(f"line {row.line}: {len(found)} events with {what} ({gates}); use id")
    return found[0]


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _from_event(row: Row, event: dict[str, object]) -> Pair:
    t = event["temperature"]
    assert isinstance(t, dict)
    skin, site = _float_or_none(t.get("skin_c")), t.get("site")
    label = str(event.get("id") or f"track {row.track}")
    if not isinstance(site, str) or site not in MODE_SITES.values():
        raise ConfigError(f"line {row.line}: event {label}: unknown temperature.site {site!r}")
    skip = ""
    if skin is None:
        skip = "no skin reading"
    elif t.get("reference_ok") is False:
        skip = "reference not ok when measured"
    return Pair(row.line, label, row.thermometer_c, skin if skin is not None else math.nan,
                site, _float_or_none(t.get("ambient_c")), skip)


def resolve(
    rows: list[Row],
    events: list[dict[str, object]] | None,
    default_site: str | None,
    events_origin: str = "--events",
) -> list[Pair]:
    """Each row paired with the gate's measurement: its event (by id, or track and t_ns) or
    its inline skin_c. ConfigError naming the line when a row cannot be resolved."""
    pairs = []
    for row in rows:
        if row.names_event:
            if events is None:
                raise ConfigError(
                    f"line {row.line}: names an event; give the events with --events FILE "
                    "(the lines `gate-edge tail --json` printed) or the row's skin_c"
                )
            pairs.append(_from_event(row, _find(row, events, events_origin)))
            continue
        site = row.site or default_site
        if site is None:
            raise ConfigError(
                f"line {row.line}: which site? add a site column (face-max or canthus); the "
                "config's mode is auto"
            )
        assert row.skin_c is not None
        pairs.append(Pair(row.line, "inline", row.thermometer_c, row.skin_c, site, row.ambient_c))
    return pairs


def fit(pairs: list[Pair], offset_used_c: float) -> TempCalibration:
    """The offset that makes the gate's estimates match the thermometer: the median of the
    per-row required skin offsets (robust to a mistyped reading). See `check` for refusals."""
    used = [p for p in pairs if not p.skip]
    sites = sorted({p.site for p in used})
    if not used:
        raise ConfigError(f"no usable readings (of {len(pairs)}); at least {MIN_PAIRS} needed")
    if len(sites) > 1:
        raise ConfigError(
            f"the readings mix sites ({', '.join(sites)}); calibrate one mode (one config) at "
            "a time"
        )
    slope = site_map(sites[0]).slope
    body = np.array([p.body_c for p in used])
    thermo = np.array([p.thermometer_c for p in used])
    need = (thermo - body) / slope  # the skin offset each row asks for
    delta = float(np.median(need))
    mad_skin = float(np.median(np.abs(need - delta)))
    return TempCalibration(
        site=sites[0],
        offset_used_c=offset_used_c,
        delta_c=delta,
        uncertainty_c=_MEDIAN_SE_PER_MAD * mad_skin / math.sqrt(len(used)),
        mad_c=slope * mad_skin,
        pairs=tuple(pairs),
        before_c=tuple((body - thermo).tolist()),
        after_c=tuple((body + slope * delta - thermo).tolist()),
    )


def check(cal: TempCalibration) -> None:
    """Refuse a calibration from too few readings, or from readings that disagree wildly."""
    n = len(cal.used)
    if n < MIN_PAIRS:
        raise ConfigError(
            f"{n} usable readings (of {len(cal.pairs)}); at least {MIN_PAIRS} are needed: "
            "measure more people with the thermometer"
        )
    if cal.mad_c > MAX_MAD_C:
        worst = sorted(zip(cal.after_c, cal.used, strict=True), key=lambda a: -abs(a[0]))[:3]
        rows = ", ".join(f"line {p.line} ({r:+.2f} C)" for r, p in worst)
        raise ConfigError(
            f"the readings disagree: the residuals' median absolute deviation is "
            f"{cal.mad_c:.2f} C (allowed {MAX_MAD_C} C); furthest off: {rows}. Check those "
            "readings (typos, a person just in from outside, a thermometer not settled) and "
            "measure again"
        )


def table(cal: TempCalibration) -> list[str]:
    """Per row: the gate's estimate (today's map, the offset in force when measuring), the
    thermometer, and the residual (estimate - thermometer) before and after the new offset."""
    out = [
        f"{'line':>4}  {'measurement':<26}  {'site':<8}  {'skin_c':>6}  {'gate_c':>6}  "
        f"{'thermo_c':>8}  {'before':>6}  {'after':>6}"
    ]
    residuals = dict(zip((p.line for p in cal.used), zip(cal.before_c, cal.after_c,
                                                       strict=True), strict=True))
    for p in cal.pairs:
        head = f"{p.line:>4}  {p.label:<26}  {p.site:<8}  "
        if p.skip:
            out.append(head + f"{p.skin_c:>6.2f}  skipped: {p.skip}")
            continue
        before, after = residuals[p.line]
        out.append(
            head + f"{p.skin_c:>6.2f}  {p.body_c:>6.2f}  {p.thermometer_c:>8.2f}  "
            f"{before:>+6.2f}  {after:>+6.2f}"
        )
    n = len(cal.used)
    out.append(
        f"screening.skin_offset_c ({cal.site}, {n} readings): {cal.offset_used_c:+.2f} -> "
        f"{cal.offset_c:+.2f} C (change {cal.delta_c:+.2f} C, uncertainty +-"
        f"{cal.uncertainty_c:.2f} C, 1 sigma)"
    )
    out.append(
        f"residuals (body C): median {float(np.median(cal.before_c)):+.2f} before, "
        f"{float(np.median(cal.after_c)):+.2f} after; MAD {cal.mad_c:.2f} "
        f"(refused above {MAX_MAD_C})"
    )
    return out


def write_offset(config: Path, cal: TempCalibration) -> float:
    """Set `[screening] skin_offset_c` (rounded to 0.01 C) in the TOML file with the fit's
    residual as its comment, keeping everything else; never writes a config that fails
    validation. Returns the value written."""
    value = round(cal.offset_c, 2)
    item = tomlkit.item(value)
    item.comment(
        f"gate-edge calibrate-temp: {len(cal.used)} readings, residual MAD {cal.mad_c:.2f} C, "
        f"+-{cal.uncertainty_c:.2f} C"
    )
    set_config_value(config, "screening", "skin_offset_c", item, create=False)
    return value
