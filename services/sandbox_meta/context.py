"""What a Graph handler gets: the store, the time of the call and the sandbox settings."""

from __future__ import annotations

from dataclasses import dataclass

from services.sandbox_meta.adapters.store import SandboxStore
from services.sandbox_meta.config import SandboxConfig
from services.sandbox_meta.domain.matching import MatchModel


@dataclass(frozen=True)
class Ctx:
    """One call's view of the sandbox; ``base_url`` builds absolute ``paging.next`` links."""

    store: SandboxStore
    config: SandboxConfig
    match: MatchModel
    now: int
    base_url: str
    version: str
