"""The verifier on compound passes issued here, and the parts DCC vectors do not reach:
each denial reason, revocation hashes, kid rule, trust failures, keys and key files."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from edge.errors import ConfigError
from edge.identity.passes import claims as cl
from edge.identity.passes import codec, cose
from edge.identity.passes.keys import (
    StaticTrust,
    generate_pass_keypair,
    kid_of_public_key,
    load_pass_private_key,
    parse_trust,
)
from edge.identity.passes.verify import PassVerdict, PassVerifier
from tests.identity.passes.helpers import NOW, compound, fixed_key, trust_for

ALL_TRUE = {"prefix", "base45", "zlib", "cose", "claims", "decode", "signature", "expiry",
            "revocation", "gate"}


def verify(text: str, trust: Any = None, gate: str | None = "north",
           at: datetime = NOW) -> PassVerdict:
    return PassVerifier(trust or trust_for(), gate=gate).verify(text, at)


def test_valid_compound_pass_carries_its_claims() -> None:
    v = verify(compound())
    assert v.valid and v.reason is None and v.kind == "compound"
    assert {k for k, ok in v.checks.items() if ok is True} == ALL_TRUE
    assert (v.subject, v.holder_kind, v.pass_id, v.gates) == (
        "v-0042", "visitor", "pass-0001", ("north", "south"))
    assert v.not_before == NOW - timedelta(hours=4) and v.expires == NOW + timedelta(hours=6)
    out = v.to_json()
    assert out["kid"] == v.kid and out["expires"] == "2026-12-01T18:00:00Z"
    assert v.digest == hashlib.sha256(compound().encode()).hexdigest()


@pytest.mark.parametrize(("at", "reason"), [
    (NOW + timedelta(hours=6), "expired"),  # exp is the first refused instant (RFC 8392)
    (NOW - timedelta(hours=4, seconds=1), "not_yet_valid"),
])
def test_time_window(at: datetime, reason: str) -> None:
    v = verify(compound(), at=at)
    assert (v.valid, v.reason, v.checks["expiry"], v.checks["signature"]) == (
        False, reason, False, True)


def test_naive_time_is_utc() -> None:
    assert verify(compound(), at=NOW.replace(tzinfo=None)).valid


def test_revoked_by_pass_id_hash() -> None:
    revoked = (hashlib.sha256(b"pass-0001").digest()[:16],)
    v = verify(compound(), trust=trust_for(revoked=revoked))
    assert (v.reason, v.checks["revocation"]) == ("revoked", False)


def test_wrong_gate_and_no_gate() -> None:
    v = verify(compound(), gate="west")
    assert (v.valid, v.reason, v.checks["gate"]) == (False, "wrong_gate", False)
    v = verify(compound(), gate=None)  # nothing to compare with: not checked, still valid
    assert (v.valid, v.checks["gate"]) == (True, None)
    assert verify(compound(gates=None), gate="west").checks["gate"] is True


def test_forged_and_tampered() -> None:
    forged = verify(compound(key=fixed_key(2)))  # signed by a key the gate does not trust
    assert (forged.reason, forged.checks["signature"]) == ("bad_signature", False)
    assert "unknown kid" in (forged.detail or "")
    text = compound()
    cose_bytes = codec.inflate(codec.b45decode(text[4:]))
    tampered = cose_bytes.replace(b"v-0042", b"v-0043")
    v = verify(codec.encode_text("GE1:", tampered))
    assert (v.reason, v.checks["signature"], v.subject) == ("bad_signature", False, "v-0043")


@pytest.mark.parametrize(("text", "failed"), [
    ("XX1:ABC", "prefix"), ("GE1:abc", "base45"), ("GE1:" + "A" * 30, "zlib"),
    (codec.encode_text("GE1:", b"\x00"), "cose"),
    (codec.encode_text("GE1:", cbor2.dumps([b"", {}, cbor2.dumps({1: 2}), b"x"])), "claims"),
    ("", "prefix"), ("GE1:", "base45"),
])
def test_each_decode_layer_fails_with_its_check(text: str, failed: str) -> None:
    v = verify(text)
    assert (v.valid, v.reason, v.checks[failed], v.checks["decode"]) == (
        False, "unreadable", False, False)
    assert v.checks["signature"] is None and (v.detail or "").startswith(failed)


def test_dcc_may_not_use_eddsa() -> None:
    """An HC1: payload with DCC claims signed by a trusted Ed25519 key is still refused."""
    key = fixed_key()
    hcert = {1: {"v": [{"ci": "URN:UVCI:01:XX:1"}]}}
    payload = cbor2.dumps({1: "XX", 4: 2_000_000_000, 6: 1_700_000_000, -260: hcert})
    raw = cbor2.dumps({1: -8, 4: kid_of_public_key(key.public_key())})
    sig = key.sign(cose.to_be_signed(raw, payload))
    v = verify(codec.encode_text("HC1:", cbor2.dumps([raw, {}, payload, sig])))
    assert (v.kind, v.checks["decode"], v.checks["signature"], v.reason) == (
        "dcc", True, False, "bad_signature")
    assert "not allowed" in (v.detail or "")
    assert v.pass_id == "URN:UVCI:01:XX:1" and v.checks["expiry"] is True


def test_kid_protected_first_then_unprotected() -> None:
    key = fixed_key()
    kid = kid_of_public_key(key.public_key())
    payload = cbor2.dumps({2: "s", 4: 2_000_000_000, 5: 0, 7: b"p", "kind": "worker"})
    for protected, unprotected, ok in (({1: -8}, {4: kid}, True),
                                       ({1: -8, 4: kid}, {4: b"wrongkid"}, True),
                                       ({1: -8, 4: b"wrongkid"}, {4: kid}, False)):
        raw = cbor2.dumps(protected)
        sig = key.sign(cose.to_be_signed(raw, payload))
        text = codec.encode_text("GE1:", cbor2.dumps([raw, unprotected, payload, sig]))
        assert verify(text, gate=None).checks["signature"] is ok


def test_dcc_revocation_hashes_es256_uses_r_only() -> None:
    """(r, s) and (r, n - s) are both valid ECDSA signatures of one certificate: the
    signature hash must be the same for both, hence only r is hashed."""
    priv = ec.generate_private_key(ec.SECP256R1())
    r, s = decode_dss_signature(priv.sign(b"x", ec.ECDSA(cose.hashes.SHA256())))
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    sig1 = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    sig2 = r.to_bytes(32, "big") + (n - s).to_bytes(32, "big")
    h1 = cl.dcc_revocation_hashes("URN:UVCI:01:AT:X", "AT", True, sig1)
    assert h1 == cl.dcc_revocation_hashes("URN:UVCI:01:AT:X", "AT", True, sig2)
    assert h1 == [hashlib.sha256(b"URN:UVCI:01:AT:X").digest()[:16],
                  hashlib.sha256(b"ATURN:UVCI:01:AT:X").digest()[:16],
                  hashlib.sha256(sig1[:32]).digest()[:16]]
    rsa_sig = bytes(range(256))
    assert cl.dcc_revocation_hashes("U", "AT", False, rsa_sig)[2] == \
        hashlib.sha256(rsa_sig).digest()[:16]


class Broken:
    def public_key(self, kid: bytes) -> None:
        raise RuntimeError("store gone")

    def is_revoked(self, kind: str, hashes: object) -> bool:
        raise RuntimeError("store gone")


def test_a_broken_trust_source_denies_and_never_raises() -> None:
    v = verify(compound(), trust=Broken())
    assert (v.valid, v.reason, v.checks["signature"], v.checks["revocation"]) == (
        False, "bad_signature", False, False)


def test_key_files_and_trust_parsing(tmp_path: Path) -> None:
    priv_path, pub_path, kid = generate_pass_keypair(tmp_path)
    assert priv_path.name == f"pass-{kid.hex()}.key.pem"
    assert pub_path.stat().st_mode & 0o777 == 0o644
    assert priv_path.stat().st_mode & 0o777 == 0o600
    key = load_pass_private_key(priv_path)
    assert kid_of_public_key(key.public_key()) == kid
    trust = StaticTrust.from_files([pub_path])
    assert set(trust.keys) == {kid}
    assert verify(compound(key=key), trust=trust).valid
    with pytest.raises(ConfigError, match="private key"):
        StaticTrust.from_files([priv_path])
    with pytest.raises(ConfigError, match="Ed25519"):
        ec_path = tmp_path / "ec.pem"
        ec_path.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        load_pass_private_key(ec_path)


def test_certificate_kid_is_sha256_of_der(tmp_path: Path) -> None:
    from tests.identity.passes.helpers import dcc_vectors

    vector = next((v for v in dcc_vectors() if v.name == "common/CO3"), None)
    if vector is None:
        pytest.skip("DCC vectors not present")
    der = vector.certificate.public_bytes(serialization.Encoding.DER)
    pem = vector.certificate.public_bytes(serialization.Encoding.PEM)
    kid = hashlib.sha256(der).digest()[:8]
    assert set(parse_trust(der)) == {kid} == set(parse_trust(pem + pem))
    assert isinstance(x509.load_der_x509_certificate(der), x509.Certificate)


@pytest.mark.parametrize(("claims", "uci"), [
    ({4: 2_000_000_000, -260: {1: {"v": [], "t": [{"ci": "U-T"}]}}}, "U-T"),  # no iat
    ({4: 2.0e9, 6: 1, -260: {1: {"r": [{"ci": "U-R"}]}}}, "U-R"),  # float NumericDate
    ({4: 2_000_000_000, -260: {1: {"v": [{"tg": "x"}]}}}, None),  # no ci
    ({4: True, -260: {1: {"v": [{"ci": "U"}]}}}, None),  # a bool is no NumericDate
    ({4: 10**30, -260: {1: {"v": [{"ci": "U"}]}}}, None),  # out of range
    ({6: 1, -260: {1: {"v": [{"ci": "U"}]}}}, None),  # no exp
])
def test_dcc_claims(claims: dict[object, object], uci: str | None) -> None:
    if uci is None:
        with pytest.raises(codec.DecodeError):
            cl.parse_dcc(claims)
    else:
        assert cl.parse_dcc(claims).pass_id == uci
