"""Property-based fuzzing of the pass decoder/verifier: 10,000 random and mutated payloads.

Seeds: a compound pass (Ed25519) and, when ../shared/data/dcc is there, an ES256 and a PS256
DCC vector, each with its trusted key. Mutations at every layer: the text, the Base45-decoded
zlib bytes, the inflated COSE bytes, the COSE structure (each of its 4 parts, the headers),
and the CWT claims (kept signature, so the signature must fail; and re-signed by the trusted
key, which makes an issuer-made pass that may be valid). Invariants: verify never raises;
an invalid verdict has a denial reason of DESIGN section 4 and a false check; a valid
verdict's signed parts (prefix, protected header, payload, signature) are the seed's: the
only valid passes are unmodified ones (tags and the unsigned unprotected header may differ:
they change no claim and no kid the protected header already gives), except the re-signed
group.
derandomize=True: the same 10,000 examples every run (CI-stable); no example database.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import base45
import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.identity.passes import codec, cose
from edge.identity.passes.verify import PassVerdict, PassVerifier
from tests.identity.passes.helpers import NOW, compound, dcc_vectors, fixed_key, trust_for

REASONS = {"unreadable", "bad_signature", "expired", "not_yet_valid", "revoked", "wrong_gate"}
B45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
PER_GROUP = 2000  # five groups: 10,000 payloads
STATS = {"payloads": 0, "seconds": 0.0, "valid": 0}


@dataclass(frozen=True)
class Seed:
    text: str
    cose: bytes
    verifier: PassVerifier
    at: datetime


def _seeds() -> list[Seed]:
    text = compound()
    seeds = [Seed(text, codec.inflate(codec.b45decode(text[4:])),
                  PassVerifier(trust_for(), gate="north"), NOW)]
    for vector in dcc_vectors():
        if vector.name in ("common/CO3", "common/CO1"):  # ES256, PS256 (RSA 2048)
            seeds.append(Seed(vector.data["PREFIX"], bytes.fromhex(vector.data["COSE"]),
                              PassVerifier(vector.trust()), vector.clock))
    return seeds


SEEDS = _seeds()
RESIGNED: set[str] = set()


def _verify(seed: Seed, text: str) -> PassVerdict:
    t0 = time.perf_counter()
    verdict = seed.verifier.verify(text, seed.at)
    STATS["seconds"] += time.perf_counter() - t0
    STATS["payloads"] += 1
    STATS["valid"] += verdict.valid
    return verdict


def _signed_parts(text: str) -> tuple[bytes, bytes, bytes, str] | None:
    """What the signature covers (protected header, payload), the signature and the prefix.
    Tags and the unprotected header are not signed: changing them changes no pass."""
    try:
        _, body = codec.split_prefix(text, {"GE1:": "c", "HC1:": "d"})
        sign1 = cose.parse_sign1(codec.inflate(codec.b45decode(body)))
    except ValueError:
        return None
    return sign1.protected_raw, sign1.payload, sign1.signature, text[:4]


def _check(seed: Seed, text: str, resigned: bool = False) -> None:
    verdict = _verify(seed, text)
    if verdict.valid:
        assert resigned or _signed_parts(text) == _signed_parts(seed.text), \
            "a modified pass verified as valid"
        assert verdict.reason is None
    else:
        assert verdict.reason in REASONS, verdict
        assert False in verdict.checks.values()


@st.composite
def mutated(draw: st.DrawFn, data: bytes | str) -> Any:
    """One to three edits: flip a bit, set a byte, insert, delete, truncate, duplicate."""
    seq: Any = data
    for _ in range(draw(st.integers(1, 3))):
        n = len(seq)
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "dup"]))
        i = draw(st.integers(0, max(n - 1, 0)))
        if isinstance(seq, str):
            piece = draw(st.sampled_from(B45_ALPHABET + "a\x00é"))
        else:
            piece = bytes([draw(st.integers(0, 255))])
        if op == "flip" and n:
            ch = seq[i]
            piece = (chr(ord(ch) ^ 1) if isinstance(seq, str) else bytes([ch ^ (1 << draw(
                st.integers(0, 7)))]))
            seq = seq[:i] + piece + seq[i + 1:]
        elif op == "set" and n:
            seq = seq[:i] + piece + seq[i + 1:]
        elif op == "insert":
            seq = seq[:i] + piece + seq[i:]
        elif op == "delete" and n:
            seq = seq[:i] + seq[i + 1:]
        elif op == "truncate":
            seq = seq[:i]
        else:
            seq = seq + seq[i:]
    return seq


FUZZ = settings(max_examples=PER_GROUP, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))
seed_index = st.integers(0, len(SEEDS) - 1)


@FUZZ
@given(st.one_of(st.text(max_size=400),
                 st.text(alphabet=B45_ALPHABET, max_size=400).map(lambda t: "GE1:" + t),
                 st.text(alphabet=B45_ALPHABET, max_size=400).map(lambda t: "HC1:" + t),
                 st.binary(max_size=300).map(lambda b: "HC1:" + base45.b45encode(
                     zlib.compress(b)).decode())),
       seed_index)
def test_random_text(text: str, i: int) -> None:
    _check(SEEDS[i], text)


@FUZZ
@given(st.data(), seed_index)
def test_mutated_text(data: st.DataObject, i: int) -> None:
    seed = SEEDS[i]
    _check(seed, data.draw(mutated(seed.text)))


@FUZZ
@given(st.data(), seed_index, st.booleans())
def test_mutated_zlib_or_cose_bytes(data: st.DataObject, i: int, cose_layer: bool) -> None:
    seed = SEEDS[i]
    prefix = seed.text[:4]
    if cose_layer:
        text = codec.encode_text(prefix, data.draw(mutated(seed.cose)))
    else:
        compressed = zlib.compress(seed.cose, 9)
        text = prefix + base45.b45encode(data.draw(mutated(compressed))).decode()
    _check(seed, text)


cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.binary(max_size=40)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.integers(-300, 10) | st.text(max_size=5), inner, max_size=4), max_leaves=8)


@FUZZ
@given(st.data(), seed_index)
def test_mutated_cose_structure(data: st.DataObject, i: int) -> None:
    seed = SEEDS[i]
    item = cbor2.loads(seed.cose)
    parts = list(item.value if isinstance(item, cbor2.CBORTag) else item)
    where = data.draw(st.sampled_from(["part", "protected", "unprotected", "drop", "tag"]))
    if where == "part":
        parts[data.draw(st.integers(0, 3))] = data.draw(cbor_values)
    elif where == "protected":
        header = dict(cbor2.loads(parts[0]))
        header[data.draw(st.sampled_from([1, 4, 3, 33]))] = data.draw(cbor_values)
        parts[0] = cbor2.dumps(header)
    elif where == "unprotected":
        parts[1] = {4: data.draw(st.binary(max_size=12)), 1: data.draw(cbor_values)}
    elif where == "drop":
        del parts[data.draw(st.integers(0, 3))]
    tag = data.draw(st.sampled_from([None, 18, 61, 98, 17]))
    body = parts if tag is None else cbor2.CBORTag(tag, parts)
    _check(seed, codec.encode_text(seed.text[:4], cbor2.dumps(body)))


@FUZZ
@given(st.data(), seed_index, st.booleans())
def test_mutated_claims(data: st.DataObject, i: int, resign: bool) -> None:
    """Change, add or delete a claim (or one inside the DCC's hcert); keep the signature
    (must fail), or re-sign the compound seed with its trusted key (an issuer's own pass)."""
    seed = SEEDS[i]
    item = cbor2.loads(seed.cose)
    protected, unprotected, payload, signature = item.value
    claims = dict(cbor2.loads(payload))
    key = data.draw(st.sampled_from([*claims, 99, "gates", -260]))
    if data.draw(st.booleans()) and key in claims:
        del claims[key]
    else:
        claims[key] = data.draw(cbor_values)
    payload = cbor2.dumps(claims)
    resigned = resign and seed.text.startswith("GE1:")
    if resigned:
        signature = fixed_key().sign(cose.to_be_signed(protected, payload))
    parts = [protected, unprotected, payload, signature]
    _check(seed, codec.encode_text(seed.text[:4], cbor2.dumps(parts)), resigned)


def test_time_per_payload(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in this module: prints the measured verify time per payload."""
    if STATS["payloads"] < 5 * PER_GROUP:
        pytest.skip("run the whole module to measure the time per payload")
    per_ms = 1000 * STATS["seconds"] / STATS["payloads"]
    with capsys.disabled():
        print(f"\nfuzz: {STATS['payloads']} payloads, {STATS['valid']} valid, "
              f"{per_ms:.3f} ms per payload (verify only)")
    assert per_ms < 50
