"""Identity layer: per-platform normalization and SHA-256 hashing of customer identifiers.

Identifiers are normalized and hashed here, at the ingest boundary, exactly as each platform
documents (docs/identifiers.md has every rule with its source). Nothing empty, placeholder-like
or mangled is ever hashed, and no raw value appears in a rejection.
"""

from shared.identity.contact import Contact, hash_contact, hash_contacts, normalize_contact
from shared.identity.customer_key import customer_key
from shared.identity.normalize import fields, is_hashed, normalize, normalize_column
from shared.identity.result import (
    Normalized,
    Platform,
    Reason,
    Rejected,
    UnknownFieldError,
    is_sha256_hex,
    sha256_hex,
)

__all__ = [
    "Contact",
    "Normalized",
    "Platform",
    "Reason",
    "Rejected",
    "UnknownFieldError",
    "customer_key",
    "fields",
    "hash_contact",
    "hash_contacts",
    "is_hashed",
    "is_sha256_hex",
    "normalize",
    "normalize_column",
    "normalize_contact",
    "sha256_hex",
]
