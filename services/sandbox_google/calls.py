"""What a handler knows about the call beyond its request message: method and metadata."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallInfo:
    """One RPC's method path and request metadata (keys lower-case, last value wins)."""

    method: str
    metadata: dict[str, str]
    request_id: str

    def header(self, key: str) -> str:
        """A metadata value, or ``""``."""
        return self.metadata.get(key, "")
