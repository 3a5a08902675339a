"""Signed command envelopes (edge.commands.verify): acceptance and every rejection reason.

Clocks are injected; nothing sleeps.
"""

from __future__ import annotations

import base64
import json
import logging
import random
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.commands.envelope import DEFAULT_MAX_BYTES
from edge.commands.keys import key_id
from edge.commands.verify import REASONS, Command, CommandVerifier, Rejection, sign_command, summary
from tests.commands.envelopes import ALLOWED, GATE, KEY, SITE, T0, Clock, S, topic

OTHER = Ed25519PrivateKey.generate()


def verifier(clock: Clock | None = None, **kwargs: Any) -> CommandVerifier:
    trusted = {key_id(KEY.public_key()): KEY.public_key()}
    return CommandVerifier(trusted, SITE, GATE, allowed=ALLOWED, clock_ns=clock or Clock(),
                           **kwargs)


def signed(name: str = "set_mode", args: dict[str, Any] | None = None, *, gate: str = GATE,
           site: str = SITE, key: Ed25519PrivateKey = KEY, at_ns: int = T0,
           ttl_s: float = 300.0) -> bytes:
    return sign_command(key, name, {"mode": "strict"} if args is None else args, site, gate,
                        ttl_s, lambda: at_ns)


def resign(doc: dict[str, Any], key: Ed25519PrivateKey = KEY) -> bytes:
    """Sign a hand-edited envelope the way sign_command does (to craft schema-valid inputs)."""
    unsigned = {k: v for k, v in doc.items() if k != "sig"}
    blob = json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()
    return json.dumps({**unsigned, "sig": base64.b64encode(key.sign(blob)).decode()}).encode()


def edited(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(signed())
    doc.update(changes)
    return doc


def reject(v: CommandVerifier, t: str, payload: bytes) -> Rejection:
    result = v.verify(t, payload)
    assert isinstance(result, Rejection), f"accepted: {result}"
    return result


# -- accepted --------------------------------------------------------------------------------


def test_valid_command_is_accepted_with_its_fields() -> None:
    v = verifier()
    result = v.verify(topic(), signed(args={"mode": "strict", "n": 3, "x": [1.5, None, True]}))
    assert isinstance(result, Command)
    assert result.name == "set_mode" and result.gate == GATE
    assert result.args == {"mode": "strict", "n": 3, "x": [1.5, None, True]}
    assert result.issued_ns == T0 and result.expires_ns == T0 + 300 * S
    assert result.kid == key_id(KEY.public_key()) and len(result.id) == 26
    assert v.stats()["accepted"] == 1 and v.stats()["rejected"] == 0


def test_site_wide_command_and_sender_formatting_do_not_matter() -> None:
    v = verifier()
    assert isinstance(v.verify(topic(gate="*"), signed(gate="*")), Command)
    # Another sender's key order and whitespace: the signature covers the parsed content.
    pretty = json.dumps(json.loads(signed(gate="*")), indent=2, sort_keys=False)
    reordered = dict(reversed(list(json.loads(pretty).items())))
    assert isinstance(v.verify(topic(gate="*"), json.dumps(reordered).encode()), Command)
    # A command for this gate may also travel on the site topic.
    assert isinstance(v.verify(topic(gate="*"), signed()), Command)


def test_clock_skew_is_tolerated_both_ways() -> None:
    v = verifier(Clock(T0), max_skew_s=300)
    assert isinstance(v.verify(topic(), signed(at_ns=T0 + 299 * S)), Command)
    assert isinstance(v.verify(topic(), signed(at_ns=T0 - 599 * S, ttl_s=300)), Command)


def test_empty_allowed_set_refuses_every_name() -> None:
    trusted = {key_id(KEY.public_key()): KEY.public_key()}
    v = CommandVerifier(trusted, SITE, GATE, allowed=(), clock_ns=Clock())
    assert reject(v, topic(), signed()).reason == "unknown_command"


# -- each rejection reason ---------------------------------------------------------------------


def _deep(depth: int) -> bytes:
    return b'{"args":' + b"[" * depth + b"]" * depth + b"}"


CASES: list[tuple[str, str, Callable[[], bytes], str]] = [
    ("too_large", topic(), lambda: b"{" + b" " * DEFAULT_MAX_BYTES + b"}", "16386 bytes"),
    ("too_large", topic(), lambda: sign_command(
        KEY, "set_mode", {"pad": "x" * DEFAULT_MAX_BYTES}, SITE, GATE, 60, lambda: T0,
        max_bytes=10**6), "bytes >"),
    ("not_utf8", topic(), lambda: b'{"name":"\xff\xfe"}', "UTF-8"),
    ("not_utf8", topic(), lambda: b"\xc0\x80", "UTF-8"),
    ("not_json", topic(), lambda: b"", "Expecting value"),
    ("not_json", topic(), lambda: signed()[:-1], "Expecting"),
    ("not_json", topic(), lambda: b'{"a": NaN}', "NaN is not JSON"),
    ("not_json", topic(), lambda: b'{"a": -Infinity}', "-Infinity"),
    ("not_json", topic(), lambda: b'{"a": 1e999}', "out of range"),
    ("not_json", topic(), lambda: b'{"a": ' + b"9" * 5000 + b"}", "5000 digits"),
    ("not_json", topic(), lambda: b'{"a": 1, "a": 2}', "duplicate key 'a'"),
    ("not_json", topic(), lambda: _deep(8000), "nested too deep"),
    ("bad_schema", topic(), lambda: b"[]", "a JSON list, not an object"),
    ("bad_schema", topic(), lambda: b"null", "NoneType"),
    ("bad_schema", topic(), lambda: _deep(40), "nested deeper than 32"),
    ("bad_schema", topic(), lambda: json.dumps(edited(admin=True)).encode(), "'admin'"),
    ("bad_schema", topic(), lambda: json.dumps(edited(args=[])).encode(), "args:"),
    ("bad_schema", topic(), lambda: json.dumps(edited(args="x")).encode(), "args:"),
    ("bad_schema", topic(), lambda: json.dumps(edited(name=7)).encode(), "name:"),
    ("bad_schema", topic(), lambda: json.dumps(edited(name="Set/Mode")).encode(), "name:"),
    ("bad_schema", topic(), lambda: json.dumps(edited(id="not-a-ulid")).encode(), "id:"),
    ("bad_schema", topic(), lambda: json.dumps(edited(issued=T0)).encode(), "issued:"),
    ("bad_schema", topic(), lambda: json.dumps(edited(expires="2027-13-01T00:00:00Z")).encode(),
     "expires:"),
    ("bad_schema", topic(), lambda: json.dumps(edited(expires="2027-01-01 00:00:00")).encode(),
     "expires:"),
    ("bad_schema", topic(), lambda: json.dumps(edited(schema="gate-edge/cmd/2")).encode(),
     "schema:"),
    ("bad_schema", topic(), lambda: json.dumps(edited(kid="ABC")).encode(), "kid:"),
    ("bad_schema", topic(), lambda: json.dumps(edited(sig="!!")).encode(), "sig:"),
    ("bad_schema", topic(), lambda: json.dumps(edited(gate=["x"])).encode(), "gate:"),
    ("bad_schema", topic(), lambda: json.dumps(
        {k: v for k, v in edited().items() if k != "kid"}).encode(), "kid: missing"),
    ("bad_schema", topic(), lambda: json.dumps(
        edited(expires="2027-01-15T07:00:00.000Z", issued="2027-01-15T08:00:00.000Z")).encode(),
     "expires must be after issued"),
    ("bad_schema", topic(), lambda: json.dumps(
        edited(expires="2027-03-15T08:00:00.000Z")).encode(), "more than 604800 s"),
    ("wrong_topic", topic("quarantine.set"), lambda: signed(), "topic names 'quarantine.set'"),
    ("wrong_topic", f"gate/{SITE}/{GATE}/cmd", lambda: signed(), "not gate/s1/"),
    ("wrong_topic", topic() + "/extra", lambda: signed(), "not gate/s1/"),
    ("wrong_topic", f"gate/{SITE}/south/cmd/set_mode", lambda: signed(), "not gate/s1/"),
    ("wrong_topic", f"other/{SITE}/{GATE}/cmd/set_mode", lambda: signed(), "not gate/s1/"),
    ("wrong_topic", f"gate/s2/{GATE}/cmd/set_mode", lambda: signed(), "not gate/s1/"),
    ("wrong_topic", f"gate/{SITE}/{GATE}/status", lambda: signed(), "not gate/s1/"),
    ("wrong_topic", topic(), lambda: signed(gate="*"), "envelope gate '*'"),
    ("wrong_topic", topic(), lambda: signed(gate="south"), "envelope gate 'south'"),
    ("wrong_topic", topic(gate="*"), lambda: signed(site="s2", gate="*"), "envelope site 's2'"),
    ("not_for_this_gate", topic(gate="*"), lambda: signed(gate="south"), "for s1/south"),
    ("unknown_key", topic(), lambda: signed(key=OTHER), "is not trusted"),
    ("bad_signature", topic(), lambda: json.dumps(
        edited(args={"mode": "open"})).encode(), "does not verify"),
    ("bad_signature", topic(), lambda: json.dumps(
        {**json.loads(signed(key=OTHER)), "kid": key_id(KEY.public_key())}).encode(),
     "does not verify"),
    ("bad_signature", topic(), lambda: json.dumps(
        edited(sig=base64.b64encode(bytes(64)).decode())).encode(), "does not verify"),
    ("not_yet_valid", topic(), lambda: signed(at_ns=T0 + 301 * S), "issued 2027-01-15"),
    ("expired", topic(), lambda: signed(at_ns=T0 - 601 * S, ttl_s=300), "expired 2027-01-15"),
    ("expired", topic(), lambda: signed(at_ns=T0 - 86_400 * S, ttl_s=60), "expired"),
    ("unknown_command", topic("self_destruct"), lambda: signed("self_destruct"),
     "'self_destruct' is not a command"),
]


@pytest.mark.parametrize(("reason", "where", "make", "detail"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_rejection_reason(
    reason: str, where: str, make: Callable[[], bytes], detail: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="edge.commands")
    v = verifier()
    result = reject(v, where, make())
    assert result.reason == reason, result
    assert detail in result.detail
    assert len(result.detail) <= 80 and result.detail.isprintable()
    stats = v.stats()
    assert stats[reason] == 1 and stats["rejected"] == 1 and stats["accepted"] == 0
    [record] = [r for r in caplog.records if r.name == "edge.commands"]
    assert record.levelno == logging.WARNING
    assert record.reason == reason  # type: ignore[attr-defined]
    assert f"rejected: {reason}: " in record.getMessage()


def test_every_reason_is_covered_by_a_case() -> None:
    assert {c[0] for c in CASES} | {"replayed", "retained"} == set(REASONS)


def test_retained_message_is_refused_with_its_id_and_not_spent() -> None:
    v = verifier()
    message = signed()
    result = v.verify(topic(), message, retained=True)
    assert isinstance(result, Rejection) and result.reason == "retained"
    assert result.id == json.loads(message)["id"] and result.name == "set_mode"
    assert v.stats()["retained"] == 1
    # Refused before the signature check: the id is not spent, the same send unretained passes.
    assert isinstance(v.verify(topic(), message), Command)


def test_rejections_carry_id_and_name_only_when_well_formed() -> None:
    v = verifier()
    assert (reject(v, topic(), b"{nope").id, reject(v, topic(), b"[]").name) == (None, None)
    bad = reject(v, topic(), json.dumps(edited(id="../x", name="set_mode", kid="zz")).encode())
    assert bad.reason == "bad_schema" and bad.id is None and bad.name == "set_mode"


def test_replayed_id_is_refused_even_after_a_rejected_name() -> None:
    v = verifier()
    message = signed()
    assert isinstance(v.verify(topic(), message), Command)
    assert reject(v, topic(), message).reason == "replayed"
    # The id is spent once the signature and times check out, even for an unknown name.
    unknown = signed("self_destruct")
    assert reject(v, topic("self_destruct"), unknown).reason == "unknown_command"
    assert reject(v, topic("self_destruct"), unknown).reason == "replayed"
    # A bad signature does not spend the id (else anyone could block a command by racing it).
    doc = json.loads(signed())
    forged = json.dumps({**doc, "args": {"mode": "open"}}).encode()
    assert reject(v, topic(), forged).reason == "bad_signature"
    assert isinstance(v.verify(topic(), json.dumps(doc).encode()), Command)
    assert v.stats()["replayed"] == 2


def test_replay_memory_is_bounded_and_stays_safe() -> None:
    clock = Clock()
    v = verifier(clock, seen_ids_max=3)
    messages = [signed(at_ns=T0 + i * S) for i in range(5)]
    for message in messages:
        assert isinstance(v.verify(topic(), message), Command)
    assert len(v._seen.ids) == 3
    # The two forgotten ids are still refused: they were issued before the watermark.
    for message in messages:
        assert reject(v, topic(), message).reason == "replayed"
    # Once the remembered commands have expired they are dropped without raising the watermark.
    clock.now_ns = T0 + 10_000 * S
    for i in range(3):
        assert isinstance(v.verify(topic(), signed(at_ns=clock.now_ns + i * S)), Command)
    assert v._seen.watermark_ns == T0 + 1 * S


def test_expiry_follows_the_injected_clock() -> None:
    clock = Clock()
    v = verifier(clock, max_skew_s=0)
    first, second = signed(ttl_s=60), signed(ttl_s=60)
    assert isinstance(v.verify(topic(), first), Command)
    clock.now_ns = T0 + 61 * S
    assert reject(v, topic(), second).reason == "expired"


def test_hostile_text_in_details_is_sanitised(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="edge.commands")
    v = verifier()
    evil_key = "\x1b[31m\u202e\x00" + "A" * 500
    payload = json.dumps(edited(**{evil_key: 1})).encode()
    result = reject(v, topic() + "/\x1b[2J" + "B" * 300, payload)
    assert result.reason == "bad_schema" and result.detail.startswith("unknown field '\\x1b[31m")
    message = caplog.records[-1].getMessage()
    assert message.isprintable() and "\x1b" not in message and "\u202e" not in message
    assert "A" * 100 not in message and "B" * 100 not in message
    assert len(result.detail) <= 80
    assert summary("x" * 200) == "x" * 77 + "..." and summary("a\nb") == "a?b"


def test_signature_encoding_must_be_canonical() -> None:
    v = verifier()
    doc = json.loads(signed())
    sig = doc["sig"]
    # Flip the unused low bits of the last base64 digit: same bytes, different spelling.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(sig[85])
    variant = sig[:85] + alphabet[last ^ 0b0001] + "=="
    assert base64.b64decode(variant) == base64.b64decode(sig)
    assert reject(v, topic(), json.dumps({**doc, "sig": variant}).encode()).reason == \
        "bad_signature"
    assert isinstance(v.verify(topic(), json.dumps(doc).encode()), Command)


def test_mutated_envelopes_never_raise_and_never_change_meaning() -> None:
    rng = random.Random(11)
    original = signed(args={"mode": "strict", "list": [1, 2, 3], "text": "é"})
    reference = verifier().verify(topic(), original)
    assert isinstance(reference, Command)
    for _ in range(3000):
        data = bytearray(original)
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            pos = rng.randrange(len(data))
            if op < 0.4:
                data[pos] = rng.randrange(256)
            elif op < 0.7:
                del data[pos:pos + rng.randint(1, 20)]
            else:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        result = verifier().verify(topic(), bytes(data))  # fresh: replay cannot hide a bug
        if isinstance(result, Command):
            assert (result.name, result.id, result.args) == (
                reference.name, reference.id, reference.args), bytes(data)
        else:
            assert result.reason in REASONS


def test_verify_survives_non_bytes_and_odd_topics() -> None:
    v = verifier()
    assert reject(v, topic(), "text" * 3).reason == "bad_schema"  # type: ignore[arg-type]
    assert reject(v, "", signed()).reason == "wrong_topic"
    assert reject(v, "\udcff", signed()).reason == "wrong_topic"
    assert reject(v, topic(), bytearray(b"[1]")).reason == "bad_schema"  # type: ignore[arg-type]
