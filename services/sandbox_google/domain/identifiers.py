"""Hashed identifiers: decoding HEX / BASE64, the SHA-256 shape check, and a member's key.

Both APIs upload SHA-256 digests of normalised emails, phones and names. The Data Manager API
says how the digest is written (``encoding``: HEX or BASE64, required for user data [doc:
IngestAudienceMembersRequest.encoding]); the Ads API takes lowercase hex. The sandbox stores every
digest as lowercase hex, so a person uploaded through either API is the same member.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from enum import Enum

SHA256_BYTES = 32
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_URLSAFE = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


class Encoding(Enum):
    """How a digest is written in a Data Manager request."""

    HEX = "HEX"
    BASE64 = "BASE64"


class DecodeError(ValueError):
    """The value is not valid in the declared encoding (a request-level error)."""


def decode_digest(value: str, encoding: Encoding) -> bytes:
    """The digest's bytes; ``DecodeError`` when the text is not HEX / BASE64 at all."""
    if encoding is Encoding.HEX:
        if not _HEX.match(value) or len(value) % 2:
            raise DecodeError(value)
        return bytes.fromhex(value)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        pass
    if not _URLSAFE.match(value):  # the web-safe alphabet is accepted too, strictly
        raise DecodeError(value)
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise DecodeError(value) from None


def is_sha256(digest: bytes) -> bool:
    """A SHA-256 digest is exactly 32 bytes."""
    return len(digest) == SHA256_BYTES


def is_sha256_hex(value: str) -> bool:
    """The Ads API form: 64 hex digits (case-insensitive)."""
    return len(value) == 2 * SHA256_BYTES and bool(_HEX.match(value))


@dataclass(frozen=True)
class Identifier:
    """One identifier as stored: ``kind`` is email, phone or address; ``value`` lowercase hex
    (address: ``first:last:REGION:postal``)."""

    kind: str
    value: str

    def text(self) -> str:
        """``email:ab12...``, the form stored and shown by the admin endpoint."""
        return f"{self.kind}:{self.value}"


def address_value(first: str, last: str, region: str, postal: str) -> str:
    """An address identifier's stored value: hashed names, plain region and postal code."""
    return f"{first.lower()}:{last.lower()}:{region.upper()}:{postal}"


KIND_ORDER = ("email", "phone", "address", "mobile", "third_party", "ip")


def member_key(identifiers: list[Identifier]) -> str:
    """The member an upload refers to: its email digest, else phone, else address.

    Google matches each identifier to a Google account and does not expose member ids; the
    sandbox needs one key per member so that adds refresh and removes find the member. A choice
    (docs/sandbox-google.md): the strongest identifier names the member.
    """
    for kind in KIND_ORDER:
        for ident in identifiers:
            if ident.kind == kind:
                return ident.text()
    return ""
