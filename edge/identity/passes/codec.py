"""The text layers of a pass: prefix, Base45 (RFC 9285), zlib, and one strict CBOR item.

Every decoder raises `DecodeError` (a ValueError) naming what was wrong; the verifier turns it
into a `checks` entry. Limits keep a hostile QR from costing memory: a QR holds at most 4296
alphanumeric characters, so anything longer is not a QR payload.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Mapping

import base45  # type: ignore[import-untyped]
import cbor2

__all__ = ["COMPOUND_PREFIX", "DCC_PREFIX", "DecodeError", "b45decode", "cbor_item",
           "encode_text", "inflate", "split_prefix"]

COMPOUND_PREFIX = "GE1:"  # the compound's own passes
DCC_PREFIX = "HC1:"  # EU Digital COVID Certificate, version 1 (the only context defined)
MAX_TEXT_CHARS = 4296  # QR version 40, alphanumeric mode
# zlib can expand ~1000x; a pass is a few hundred bytes, a DCC a few KiB.
MAX_INFLATED_BYTES = 64 * 1024
MAX_CBOR_DEPTH = 16  # a DCC nests 4 deep (claims -> hcert -> v -> entry)
ZLIB_LEVEL = 9


class DecodeError(ValueError):
    """One layer of a pass could not be decoded."""


def split_prefix(text: str, prefixes: Mapping[str, str]) -> tuple[str, str]:
    """(kind, body) for `text` starting with one of `prefixes` (prefix -> kind). The prefix
    is case-sensitive and exact, as the DCC specification defines the context identifier."""
    if not isinstance(text, str):
        raise DecodeError(f"payload is {type(text).__name__}, not text")
    if len(text) > MAX_TEXT_CHARS:
        raise DecodeError(f"payload is {len(text)} characters; a QR holds at most "
                          f"{MAX_TEXT_CHARS}")
    for prefix, kind in prefixes.items():
        if text.startswith(prefix):
            return kind, text[len(prefix):]
    head = text[:4].encode("unicode_escape").decode("ascii")
    known = ", ".join(sorted(prefixes))
    raise DecodeError(f"unknown prefix {head!r} (expected one of {known})")


def b45decode(body: str) -> bytes:
    """Base45 (RFC 9285): every character from the 45-character QR alphanumeric set, groups
    of 3 (2 at the end) within range."""
    if not body:
        raise DecodeError("empty Base45 body")
    try:
        return bytes(base45.b45decode(body))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise DecodeError(f"invalid Base45: {exc}") from None


def inflate(data: bytes) -> bytes:
    """A complete zlib stream (RFC 1950: header, deflate, Adler-32) and nothing after it; at
    most MAX_INFLATED_BYTES out. An uncompressed COSE (which the DCC spec forbids) fails here
    on its header bytes."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise DecodeError(f"not zlib: {exc}") from None
    if inflater.unconsumed_tail:
        raise DecodeError(f"inflates to more than {MAX_INFLATED_BYTES} bytes")
    if not inflater.eof:
        raise DecodeError("zlib stream is truncated")
    if inflater.unused_data:
        raise DecodeError(f"{len(inflater.unused_data)} bytes after the zlib stream")
    return out


def cbor_item(data: bytes, what: str) -> object:
    """Exactly one CBOR item, no trailing bytes, no duplicate map keys (a duplicate claim
    would let two readers see two different passes)."""
    if not isinstance(data, bytes | bytearray):
        raise DecodeError(f"{what} is {type(data).__name__}, not a byte string")
    stream = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(stream, max_depth=MAX_CBOR_DEPTH,
                                 allow_duplicate_keys=False).decode()
    except Exception as exc:  # cbor2 raises several types (incl. on hostile lengths)
        raise DecodeError(f"{what}: not CBOR: {exc}") from None
    if stream.tell() != len(data):
        raise DecodeError(f"{what}: {len(data) - stream.tell()} bytes after the CBOR item")
    return item


def encode_text(prefix: str, cose: bytes) -> str:
    """The issuing direction: prefix + Base45(zlib(COSE))."""
    encoded: bytes = base45.b45encode(zlib.compress(cose, ZLIB_LEVEL))
    return prefix + encoded.decode("ascii")
