"""Signed QR passes (issue 11): the compound's own (`GE1:`, Ed25519) and EU Digital COVID
Certificates (`HC1:`, ES256 / PS256), one decoding chain (docs/passes.md).

`codec`: text prefix, Base45, zlib and strict CBOR. `cose`: COSE_Sign1 (RFC 9052) parsing,
Sig_structure, signature checks. `claims`: CWT claims (RFC 8392) of both issuers and the
revocation hashes. `verify`: `PassVerifier` -> `PassVerdict` (the contract everyone codes
against) and the `TrustSource` protocol. `keys`: key ids, key files, `StaticTrust`. `issue`:
signing a compound pass and its QR image.

May import `edge.core`, `edge.errors`, cbor2, base45, cryptography, segno, zlib and the
standard library; never vision, pipeline, app or cli.
"""

from edge.identity.passes.codec import COMPOUND_PREFIX, DCC_PREFIX
from edge.identity.passes.verify import PassVerdict, PassVerifier, TrustSource

__all__ = ["COMPOUND_PREFIX", "DCC_PREFIX", "PassVerdict", "PassVerifier", "TrustSource"]
