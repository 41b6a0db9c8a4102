"""The Google sandbox's core object: config, state, clock, faults, quotas and matching together.

Both API surfaces (``datamanager_api``, ``googleads_api``) are functions over one
``GoogleSandbox``; the gRPC server (``server``) and the admin endpoint (``admin``) are thin edges.
"""

from __future__ import annotations

from services.sandbox_google import processing
from services.sandbox_google.config import GoogleSandboxConfig
from services.sandbox_google.domain.identifiers import Identifier
from services.sandbox_google.domain.quotas import QuotaCounter
from services.sandbox_google.runtime import CallLog, Faults, SandboxClock
from services.sandbox_google.store import SandboxStore
from services.sandbox_meta.domain.matching import MatchModel  # one matching rule for both sandboxes

LIST_ID_START = 9_100_000_001  # ids look like Google's (10 digits), and differ from customer ids
JOB_ID_START = 5_200_000_001


class GoogleSandbox:
    """What both API surfaces share; ``settle()`` applies asynchronous work that is due."""

    def __init__(self, config: GoogleSandboxConfig) -> None:
        self.config = config.validated()
        self.clock = SandboxClock()
        self.store = SandboxStore(self.config.state_path)
        self.faults = Faults(self.config, self.clock.now())
        self.calls = CallLog()
        self.quotas = QuotaCounter()
        self._match = MatchModel(rate=self.config.match_rate, salt="audiencesync-google-sandbox")

    def matches(self, identifiers: tuple[Identifier, ...]) -> bool:
        """Whether an uploaded person matches a Google account (deterministic by hash)."""
        return self._match.matches(f"{i.kind.upper()}:{i.value}" for i in identifiers)

    def settle(self) -> None:
        """Apply every Data Manager request and Ads API job whose processing time has passed."""
        processing.settle(self)

    def close(self) -> None:
        """Release the state database."""
        self.store.close()
