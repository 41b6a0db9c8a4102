"""Simulated matching of uploaded identifiers to platform users.

Meta matches only part of an uploaded list to its users. The sandbox decides it
deterministically: either against a population of known hashes, or by a match-rate fraction
derived from the identifier's own hash, so the same upload always matches the same rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

# EXTERN_ID is the advertiser's own id: it never matches a person by itself.
UNMATCHABLE_KINDS = frozenset({"EXTERN_ID"})


@dataclass(frozen=True)
class MatchModel:
    """``known`` (a set of identifier values) wins over ``rate`` when given."""

    rate: float = 1.0
    known: frozenset[str] | None = None
    salt: str = "audiencesync-sandbox"

    def matches(self, identifiers: Iterable[str]) -> bool:
        """Whether a row with these ``KIND:value`` identifiers matches a platform user."""
        if self.known is None and self.rate >= 1.0:  # the default: everyone matchable matches
            return any(not ident.startswith("EXTERN_ID:") for ident in identifiers)
        return any(self._one(ident) for ident in identifiers)

    def _one(self, identifier: str) -> bool:
        kind, _, value = identifier.partition(":")
        if kind in UNMATCHABLE_KINDS:
            return False
        if self.known is not None:
            return value in self.known
        if self.rate >= 1.0:
            return True
        if self.rate <= 0.0:
            return False
        digest = hashlib.sha256(f"{self.salt}:{value}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.rate


def load_known_hashes(lines: Iterable[str]) -> frozenset[str]:
    """One identifier per line (hashes compared lower-case); blank lines and # comments skipped."""
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))
