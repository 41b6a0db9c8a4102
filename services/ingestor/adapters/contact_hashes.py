"""Each contact's hashed platform identifiers, kept per process under a digest of the contact.

A returning buyer brings the same contact on every order, often batches apart (a file sorted by
date): hashing it once per process saves most of an import's identity cost. The cache is keyed
by a digest of the contact, so no raw contact data outlives its batch. The ingestor hashes a
batch's contacts where it parses them (its parse worker, beside the writer); what it writes is
the ``HashedContact``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from typing import NamedTuple

from services.ingestor.domain import Contact
from shared.identity import hash_contacts

Identifiers = tuple[tuple[str, str, str], ...]  # (platform, field, hashed value)

_MAX = 16_384  # contacts kept hashed, ~4 KB each (~20 identifiers): ~64 MB at most
_HASHED: dict[bytes, Identifiers] = {}
_CONTACT_FIELDS = tuple(f.name for f in dataclasses.fields(Contact))


def digest(contact: Contact) -> bytes:
    """A contact's name in the cache: 16 bytes of BLAKE2b over all its fields."""
    text = json.dumps([getattr(contact, name) for name in _CONTACT_FIELDS])  # unambiguous
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def hashed(contacts: Sequence[Contact], digests: Sequence[bytes]) -> list[Identifiers]:
    """Each contact's (platform, field, value) identifiers, repeat contacts from the cache."""
    missing = {d: c for d, c in zip(digests, contacts, strict=True) if d not in _HASHED}
    if missing:
        for name, by_platform in zip(missing, hash_contacts(list(missing.values())), strict=True):
            _HASHED[name] = tuple(
                (platform.value, field, value)
                for platform, values in by_platform.items()
                for field, value in values.items()
            )
        _trim()
    return [_HASHED[d] for d in digests]


class HashedContact(NamedTuple):
    """A contact as the store needs it, no raw field: its digest (its name here and in the
    ingestor's ``Identified``) and each platform's hashed identifiers."""

    digest: bytes
    identifiers: Identifiers


def hash_all(contacts: Sequence[Contact]) -> list[HashedContact]:
    """Each contact hashed, in one batch (repeat contacts from the cache)."""
    digests = [digest(c) for c in contacts]
    return [HashedContact(d, ids) for d, ids in zip(digests, hashed(contacts, digests), strict=True)]


def _trim() -> None:
    while len(_HASHED) > _MAX:
        del _HASHED[next(iter(_HASHED))]  # oldest first: a bounded FIFO is enough here
