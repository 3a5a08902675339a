"""Property-based fuzzing of the trust sections of `lists.snapshot` / `lists.update`.

1. Malformed sections (2,000 examples): the gate (change_from_args, then the store) refuses
   every one with bad_args or ValueError, and the store (subjects, keys, hashes, staged parts,
   version, serial) is byte for byte what it was. The schema push uses refuses what it can
   see without parsing keys (counted, and at least most).
2. Mutated commands (2,000 examples): the JSON of valid commands with bytes flipped,
   inserted, deleted: nothing raises but ValueError, and a change is either applied whole
   (the version moved) or changes nothing.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.commands.handlers import validate_args
from edge.identity.store import ListStore
from edge.identity.sync import snapshot_args
from edge.identity.trustlists import kid_to_wire, trusted_to_wire
from edge.identity.wire import change_from_args
from tests.identity.lists_helpers import contents, entries
from tests.identity.trust_helpers import (
    certificate,
    compound_key,
    dcc_key,
    random_hashes,
    revocations,
    trust_contents,
)

FUZZ = settings(max_examples=2000, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))
KEY, CERT = compound_key(7), dcc_key()
GOOD_HASHES = base64.b64encode(random_hashes(3, seed=9)).decode()
seen: Counter[str] = Counter()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ListStore:
    s = ListStore.open(tmp_path_factory.mktemp("fuzz") / "lists")
    s._conn.execute("PRAGMA synchronous=OFF")  # thousands of transactions; crash safety is
    for args in snapshot_args(entries(3), 10, trust=[compound_key(1)],  # tested elsewhere
                              revoked=revocations(40, seed=8)):
        assert s.apply(change_from_args("lists.snapshot", args)).applied
    yield s  # type: ignore[misc]
    s.close()


def _state(store: ListStore) -> tuple[Any, ...]:
    staged = store._conn.execute("SELECT * FROM snapshot_parts ORDER BY 1, 2").fetchall()
    return (contents(store), trust_contents(store), staged, store.trust_serial,
            store.snapshot_needed, store.last_gap)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


junk = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5),
                                                                       st.integers(), max_size=3))
bad_b64 = st.one_of(st.text(max_size=40).filter(lambda t: _not_b64(t)), junk)
bad_trust = st.one_of(
    junk,
    st.fixed_dictionaries({"kind": st.sampled_from(["compound", "dcc"]), "der": bad_b64}),
    st.fixed_dictionaries({"kind": st.sampled_from(["compound", "dcc"]),
                           "der": st.binary(max_size=200).map(_b64)}),  # not a key
    st.just({"kind": "dcc", "der": _b64(KEY.der)}),  # a pass key filed as a certificate
    st.just({"kind": "compound", "der": _b64(CERT.der)}),
    st.just({"kind": "compound", "der": _b64(KEY.der + b"\0")}),
    st.just({"kind": "dcc", "der": _b64(certificate()[:-1])}),
    st.fixed_dictionaries({"kind": junk, "der": st.just(_b64(KEY.der))}),
    st.fixed_dictionaries({"kind": st.just("compound"), "der": st.just(_b64(KEY.der)),
                           "kid": st.just(kid_to_wire(KEY.kid))}),
    st.fixed_dictionaries({"kind": st.just("compound")}),
)
bad_kid = st.one_of(junk, bad_b64, st.binary(max_size=20).filter(lambda b: len(b) != 8)
                    .map(_b64))
bad_revocation = st.one_of(
    junk,
    st.fixed_dictionaries({"kind": st.text(max_size=12).filter(
        lambda k: k not in ("compound", "dcc-uci", "dcc-country-uci", "dcc-signature")),
        "hashes": st.just(GOOD_HASHES)}),
    st.fixed_dictionaries({"kind": st.just("compound"), "hashes": bad_b64}),
    st.fixed_dictionaries({"kind": st.just("dcc-uci"), "hashes": st.binary(max_size=100)
                           .filter(lambda b: len(b) % 16 != 0 or not b).map(_b64)}),
    st.just({"kind": "compound", "hashes": _b64(b"\1" * 16 * 1001)}),  # over MAX_HASHES
    st.fixed_dictionaries({"kind": st.just("compound"), "hashes": st.just(GOOD_HASHES),
                           "note": junk}),
)


def _not_b64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        return True
    return False


contradictions = st.sampled_from([
    ("lists.update", {"trust_add": [trusted_to_wire(KEY)] * 2}),
    ("lists.update", {"trust_add": [trusted_to_wire(CERT)],
                      "trust_remove": [kid_to_wire(CERT.kid)]}),
    ("lists.update", {"trust_remove": [kid_to_wire(KEY.kid)] * 2}),
    ("lists.update", {"revoke_add": [{"kind": "compound", "hashes": GOOD_HASHES}],
                      "revoke_remove": [{"kind": "compound", "hashes": GOOD_HASHES[:24]}]}),
    ("lists.snapshot", {"trust": [trusted_to_wire(CERT)] * 2}),
])


@st.composite
def malformed(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A command whose trust sections hold one malformed item (or are no list at all), or
    contradict themselves."""
    if draw(st.integers(0, 9)) == 0:
        name, sections = draw(contradictions)
        head = ({"version": 20, "part": 1, "parts": 2, "subjects": []}
                if name == "lists.snapshot" else {"base_version": 10, "version": 11})
        return name, head | sections
    section = draw(st.sampled_from(["trust", "revoked", "trust_add", "trust_remove",
                                    "revoke_add", "revoke_remove"]))
    item = draw({"trust": bad_trust, "trust_add": bad_trust, "trust_remove": bad_kid}.get(
        section, bad_revocation))
    good = {"trust": trusted_to_wire(KEY), "trust_add": trusted_to_wire(KEY),
            "trust_remove": kid_to_wire(CERT.kid)}.get(
        section, {"kind": "dcc-signature", "hashes": GOOD_HASHES})
    value = draw(st.sampled_from(["item", "first", "whole"]))
    body = ([item] if value == "item" else [item, good] if value == "first"
            else draw(junk.filter(lambda j: not isinstance(j, list) and j is not None)))
    if section in ("trust", "revoked"):
        return "lists.snapshot", {"version": 20, "part": 1, "parts": 2, "subjects": [],
                                  section: body}
    return "lists.update", {"base_version": 10, "version": 11, section: body}


@FUZZ
@given(malformed())
def test_malformed_trust_sections_change_nothing(store: ListStore,
                                                 command: tuple[str, dict[str, Any]]) -> None:
    name, args = command
    before = _state(store), store.version
    try:
        validate_args(name, args)
        seen["schema passed"] += 1  # a DER that is not a key: only the gate parses keys
    except ValueError:
        seen["schema refused"] += 1
    try:
        change = change_from_args(name, args)
    except ValueError:
        seen["wire refused"] += 1
    else:
        result = store.apply(change)
        assert not result.applied and result.reason == "bad_args", result
        seen["store refused"] += 1
    assert (_state(store), store.version) == before


def _valid(store: ListStore, i: int) -> tuple[str, dict[str, Any]]:
    v = store.version
    if i % 2:
        return "lists.update", {
            "base_version": v, "version": v + 1, "trust_add": [trusted_to_wire(CERT)],
            "trust_remove": [kid_to_wire(KEY.kid)],
            "revoke_add": [{"kind": "compound", "hashes": GOOD_HASHES}],
            "revoke_remove": [{"kind": "dcc-uci", "hashes": _b64(b"\2" * 16)}]}
    (part,) = snapshot_args(entries(1), v + 1, trust=[KEY], revoked=revocations(8, seed=i))
    return "lists.snapshot", part


@FUZZ
@given(st.integers(0, 1), st.lists(st.tuples(st.sampled_from(["flip", "insert", "delete"]),
                                             st.integers(0, 10**6), st.integers(0, 127)),
                                   min_size=1, max_size=4))
def test_mutated_list_commands_never_crash(store: ListStore, which: int,
                                           edits: list[tuple[str, int, int]]) -> None:
    name, args = _valid(store, which)
    text = json.dumps(args, separators=(",", ":"))
    for op, where, char in edits:
        at = where % (len(text) + 1)
        text = (text[:at] + chr(char) + text[at + 1:] if op == "flip"
                else text[:at] + chr(char) + text[at:] if op == "insert"
                else text[:at] + text[at + 1:])
    try:
        mutated = json.loads(text)
    except ValueError:
        seen["not json"] += 1
        return
    before, version = _state(store), store.version
    try:
        change = change_from_args(name, mutated) if isinstance(mutated, dict) else None
    except ValueError:
        change = None
    if change is None:
        seen["mutant refused by the wire"] += 1
        assert _state(store) == before
        return
    result = store.apply(change)
    seen["mutant applied" if result.applied else "mutant refused by the store"] += 1
    if result.applied:
        assert store.version != version or name == "lists.snapshot"  # a part may only stage
    else:
        assert (_state(store), store.version) == (before, version)


def test_the_fuzz_reached_every_layer() -> None:
    """Run after the two above (file order): each layer refused something."""
    if not seen:
        pytest.skip("run with the fuzz tests above")
    print(dict(seen))
    assert seen["schema refused"] > 1500 and seen["store refused"] >= 3  # 5 contradictions
    assert seen["wire refused"] > 1500 and seen["mutant refused by the wire"] > 100
