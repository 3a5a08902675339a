"""COSE_Sign1 (RFC 9052 section 4.2) for passes: parse, Sig_structure, check one signature.

Algorithms (RFC 9053 / RFC 8230): ES256 (-7, P-256 + SHA-256, raw r||s on the wire), PS256
(-37, RSASSA-PSS with SHA-256, MGF1-SHA-256, salt length 32 = the hash length as RFC 8230
section 2 fixes it) and EdDSA (-8, Ed25519: the compound's own passes). The DCC specification
allows only ES256 and PS256; the verifier, not this module, decides which issuer may use
which (see verify.ALGS_BY_KIND).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from edge.identity.passes.codec import DecodeError, cbor_item

__all__ = [
    "ALG_EDDSA",
    "ALG_ES256",
    "ALG_NAMES",
    "ALG_PS256",
    "Sign1",
    "parse_sign1",
    "sign_ed25519",
    "to_be_signed",
    "verify_signature",
]

ALG_ES256 = -7
ALG_EDDSA = -8
ALG_PS256 = -37
ALG_NAMES = {ALG_ES256: "ES256", ALG_EDDSA: "EdDSA", ALG_PS256: "PS256"}
HEADER_ALG = 1
HEADER_KID = 4
TAG_COSE_SIGN1 = 18
TAG_CWT = 61  # RFC 8392 section 6: a CWT may wrap the COSE message in its own tag
PSS_SALT_BYTES = 32
P256_HALF = 32  # bytes of r (and of s) in an ES256 signature


@dataclass(frozen=True, slots=True)
class Sign1:
    protected_raw: bytes  # the bstr exactly as received: the signature covers these bytes
    protected: Mapping[Any, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes

    def header(self, label: int) -> Any:
        """A header parameter, protected bucket first, then unprotected (the DCC rule for
        kid: a kid in the protected header wins even when it is wrong)."""
        if label in self.protected:
            return self.protected[label]
        return self.unprotected.get(label)

    @property
    def alg(self) -> Any:
        return self.header(HEADER_ALG)

    @property
    def kid(self) -> bytes | None:
        kid = self.header(HEADER_KID)
        return bytes(kid) if isinstance(kid, bytes) else None


def _untag(item: object) -> object:
    """Strip an optional CWT tag (61) and an optional COSE_Sign1 tag (18), in that order."""
    if isinstance(item, cbor2.CBORTag) and item.tag == TAG_CWT:
        item = item.value
    if isinstance(item, cbor2.CBORTag):
        if item.tag != TAG_COSE_SIGN1:
            raise DecodeError(f"CBOR tag {item.tag} is not COSE_Sign1 (18)")
        item = item.value
    return item


def parse_sign1(data: bytes) -> Sign1:
    """[protected bstr, unprotected map, payload bstr, signature bstr], optionally tagged."""
    item = _untag(cbor_item(data, "COSE"))
    if not isinstance(item, list | tuple) or len(item) != 4:
        raise DecodeError("COSE_Sign1 is not an array of 4")
    protected_raw, unprotected, payload, signature = item
    for value, what in ((protected_raw, "protected header"), (payload, "payload"),
                        (signature, "signature")):
        if not isinstance(value, bytes):
            raise DecodeError(f"COSE_Sign1 {what} is {type(value).__name__}, not bstr")
    if not isinstance(unprotected, Mapping):
        raise DecodeError("COSE_Sign1 unprotected header is not a map")
    # RFC 9052 section 3: an empty protected bucket is a zero-length bstr.
    protected = cbor_item(protected_raw, "protected header") if protected_raw else {}
    if not isinstance(protected, Mapping):
        raise DecodeError("COSE_Sign1 protected header is not a map")
    if not payload:
        raise DecodeError("COSE_Sign1 payload is empty (detached payloads are not passes)")
    return Sign1(bytes(protected_raw), protected, unprotected, bytes(payload), bytes(signature))


def to_be_signed(protected_raw: bytes, payload: bytes) -> bytes:
    """Sig_structure ["Signature1", body_protected, external_aad = b"", payload]."""
    return cbor2.dumps(["Signature1", protected_raw, b"", payload])


def verify_signature(sign1: Sign1, key: object) -> str | None:
    """None when the signature is good; else why not (wrong alg for the key, bad length,
    mismatch). Never raises."""
    alg, sig = sign1.alg, sign1.signature
    if not isinstance(alg, int) or isinstance(alg, bool) or alg not in ALG_NAMES:
        return f"unsupported alg {alg!r}"
    tbs = to_be_signed(sign1.protected_raw, sign1.payload)
    try:
        if alg == ALG_ES256:
            if not (isinstance(key, ec.EllipticCurvePublicKey)
                    and isinstance(key.curve, ec.SECP256R1)):
                return "ES256 needs a P-256 key"
            if len(sig) != 2 * P256_HALF:
                return f"ES256 signature is {len(sig)} bytes, not 64 (raw r||s)"
            r = int.from_bytes(sig[:P256_HALF], "big")
            s = int.from_bytes(sig[P256_HALF:], "big")
            key.verify(encode_dss_signature(r, s), tbs, ec.ECDSA(hashes.SHA256()))
        elif alg == ALG_PS256:
            if not isinstance(key, rsa.RSAPublicKey):
                return "PS256 needs an RSA key"
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_BYTES)
            key.verify(sig, tbs, pss, hashes.SHA256())
        else:  # ALG_EDDSA
            if not isinstance(key, Ed25519PublicKey):
                return "EdDSA needs an Ed25519 key"
            key.verify(sig, tbs)
    except InvalidSignature:
        return f"{ALG_NAMES[alg]} signature does not verify"
    except Exception as exc:  # malformed key material or signature values
        return f"{ALG_NAMES[alg]} signature check failed: {exc}"
    return None


def sign_ed25519(key: Ed25519PrivateKey, payload: bytes, kid: bytes) -> bytes:
    """A tagged COSE_Sign1 with alg EdDSA and kid in the protected header, empty unprotected."""
    protected = cbor2.dumps({HEADER_ALG: ALG_EDDSA, HEADER_KID: kid})
    signature = key.sign(to_be_signed(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(TAG_COSE_SIGN1, [protected, {}, payload, signature]))
