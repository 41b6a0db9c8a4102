"""Serving the sandbox with waitress, in a background thread or as the foreground process.

waitress is used because Graph DELETE calls carry their payload in the URL: a 10,000-row
SHA-256 removal is a ~670 KB request line, past both http.server's 64 KiB limit (HTTP 414)
and waitress's default 256 KiB, so the header limit is raised explicitly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from waitress.server import create_server

from services.sandbox_meta.app import create_app
from services.sandbox_meta.config import AccountPolicy, SandboxConfig
from services.sandbox_meta.runtime import CallLog, Faults, SandboxClock
from services.sandbox_meta.service import MetaSandbox
from services.sandbox_meta.state import SandboxState
from shared.log import get_logger

log = get_logger(__name__)

MAX_REQUEST_LINE_AND_HEADERS = 32 * 1024 * 1024  # multi-key 10k-row DELETE URLs reach MBs


class RunningSandbox:
    """A sandbox serving HTTP: its ``url`` plus the state and fault controls behind it."""

    def __init__(self, sandbox: MetaSandbox) -> None:
        self.sandbox = sandbox
        self._server: Any = create_server(
            create_app(sandbox),
            host=sandbox.config.host,
            port=sandbox.config.port,
            threads=sandbox.config.threads,
            max_request_header_size=MAX_REQUEST_LINE_AND_HEADERS,
            ident="audiencesync-sandbox-meta",
        )
        self.host: str = self._server.effective_host
        self.port: int = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run, name="sandbox-meta-http", daemon=True)

    @property
    def url(self) -> str:
        """Base URL to give the SDK: ``api._session.GRAPH = sandbox.url``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def state(self) -> SandboxState:
        """Audiences, members and sessions as stored."""
        return self.sandbox.state

    @property
    def calls(self) -> CallLog:
        """Every Graph call received (admin calls excluded)."""
        return self.sandbox.calls

    @property
    def faults(self) -> Faults:
        """Transient error rate, latency, throttling windows, token expiry, account policies."""
        return self.sandbox.faults

    @property
    def clock(self) -> SandboxClock:
        """The sandbox clock; ``advance(seconds)`` to pass session windows."""
        return self.sandbox.clock

    def members(self, audience_id: str) -> dict[str, float | None]:
        """Shortcut for ``state.members``: ``{identifier: value}``."""
        return self.sandbox.state.members(audience_id)

    def expire_token(self, token: str) -> None:
        """Make a token expired from now on (190 / 463)."""
        self.sandbox.expire_token(token)

    def throttle(self, seconds: int, *, code: int = 80003, account: str | None = None) -> None:
        """Open a throttling window for one account (or all)."""
        self.sandbox.throttle(seconds, code=code, account=account)

    def flag_audience(self, audience_id: str, flagged: bool = True) -> None:
        """Set or clear operation_status 471 on an audience."""
        self.sandbox.state.flag(audience_id, flagged)

    def set_policy(self, account: str, **changes: bool) -> AccountPolicy:
        """Accept or decline terms / link the business for one account."""
        return self.sandbox.faults.set_policy(account, **changes)

    def start(self) -> RunningSandbox:
        """Serve in the background thread."""
        self._thread.start()
        log.info(
            "sandbox_meta.started", url=self.url, state=str(self.sandbox.config.state_path or ":memory:")
        )
        return self

    def stop(self) -> None:
        """Close connections, stop the workers and the state database."""
        server = self._server
        server.task_dispatcher.shutdown(timeout=5)  # let requests in flight finish

        def close_all() -> None:  # runs on the server's own loop thread, so no select races
            for channel in list(server._map.values()):
                channel.close()

        if self._thread.is_alive():
            try:
                server.trigger.pull_trigger(close_all)  # an empty map ends server.run()
            except OSError:  # the loop ended by itself between the check and the pull (trigger closed)
                close_all()
            self._thread.join(timeout=5)
        else:
            close_all()
        self.sandbox.close()
        log.info("sandbox_meta.stopped", url=self.url)


@contextmanager
def run_meta_sandbox(config: SandboxConfig | None = None, **overrides: Any) -> Iterator[RunningSandbox]:
    """Start a sandbox on 127.0.0.1 (a free port by default) for the ``with`` block.

    ``run_meta_sandbox(SandboxConfig(access_tokens=("t",)), match_rate=0.5)`` — keyword
    overrides replace fields of ``config``.
    """
    base = config or SandboxConfig()
    running = RunningSandbox(MetaSandbox(replace(base, **overrides))).start()
    try:
        yield running
    finally:
        running.stop()
