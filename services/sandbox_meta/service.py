"""The sandbox's request pipeline, independent of HTTP: version, token, faults, budget, handler.

``MetaSandbox.handle`` takes a ``GraphRequest`` (method, path, merged query and form params) and
always returns a ``GraphResponse`` with a JSON body and the usage headers, success or error:
the SDK treats any non-JSON body as success, so nothing else may leave this function.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.sandbox_meta import batch, routes
from services.sandbox_meta.adapters.store import SandboxStore
from services.sandbox_meta.config import SandboxConfig
from services.sandbox_meta.context import Ctx
from services.sandbox_meta.domain import errors
from services.sandbox_meta.domain.errors import GraphError
from services.sandbox_meta.domain.matching import MatchModel
from services.sandbox_meta.domain.usage import (
    READ_COST,
    WRITE_COST,
    Usage,
    UsageMeter,
    usage_headers,
)
from services.sandbox_meta.runtime import CallLog, CallRecord, Faults, SandboxClock, route_of
from services.sandbox_meta.state import SandboxState
from shared.log import get_logger

log = get_logger(__name__)
_VERSION = re.compile(r"^v([0-9]+)\.([0-9]+)$")


@dataclass(frozen=True)
class GraphRequest:
    """One Graph call: ``params`` merges the query string and the form body."""

    method: str
    path: str
    params: dict[str, str]
    base_url: str = "http://127.0.0.1"


@dataclass
class GraphResponse:
    """Status, JSON-able body and headers of one answer."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class MetaSandbox:
    """The whole sandbox behind one ``handle`` call, plus the controls tests use."""

    def __init__(self, config: SandboxConfig, *, clock: SandboxClock | None = None) -> None:
        self.config = config.validated()
        self.store = SandboxStore(self.config.state_path)
        self.clock = clock or SandboxClock()
        self.faults = Faults(self.config)
        self.calls = CallLog()
        self.match = MatchModel(self.config.match_rate, self.config.known_hashes)
        self.state = SandboxState(self.store, self._context)
        self._meter = UsageMeter(self.config.budget_points, self.config.budget_window_seconds)
        self._meter_lock = threading.Lock()
        self._tokens: dict[str, bool] = {t: False for t in self.config.read_only_tokens}
        self._tokens.update({t: True for t in self.config.access_tokens})  # token -> can write
        for token in self.config.expired_tokens:
            self._tokens.setdefault(token, True)
            self.faults.expire_token(token, self.clock.now())
        for seconds, code, account in self.config.throttle_windows:
            self.throttle(seconds, code=code, account=account)

    def _context(self, base_url: str = "http://127.0.0.1", version: str = "") -> Ctx:
        """The handler context for a call made now."""
        return Ctx(
            self.store,
            self.config,
            self.match,
            self.clock.now(),
            base_url,
            version or self.config.latest_version,
        )

    def close(self) -> None:
        """Release the state database."""
        self.store.close()

    def expire_token(self, token: str) -> None:
        """From now on this token answers 190 / 463 (session expired)."""
        self.faults.expire_token(token, self.clock.now())

    def throttle(self, seconds: int, *, code: int = 80003, account: str | None = None) -> None:
        """Throttle one account (or all) for ``seconds`` of sandbox time."""
        self.faults.throttle(self.clock.now() + seconds, code, account)

    def handle(self, request: GraphRequest, *, inner: bool = False) -> GraphResponse:
        """Answer one Graph call; ``inner`` marks calls made from inside a batch."""
        if not inner and self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        params = request.params
        method = request.method.upper()
        override = params.get("method", "").upper()
        if method == "POST" and override in ("DELETE", "GET"):
            method = override  # documented removal route: POST /{id}/users with method=DELETE
        account: str | None = None
        name = route_of(f"{method} {request.path}")  # until the route is resolved
        try:
            version, parts = self._split(request.path)
            can_write = self._authenticate(params)
            if not parts:
                if method == "POST" and "batch" in params:
                    name = "POST / (batch)"
                    return self._finish(name, None, batch.run(self, request, version))
                raise errors.unknown_path("/")
            ctx = self._context(request.base_url, version)
            now = ctx.now
            failure: GraphError | None = None
            with self.store.transaction():
                # Resolving settles overdue sessions: Meta closes them whatever this call's fate.
                route = routes.resolve(ctx, method, parts, params, self.config.ad_accounts)
                name, account = route.name, route.account
                try:
                    with self.store.transaction():  # a savepoint: a failed call changes nothing
                        headers = self._admit(route, now)
                        if route.write and not can_write:
                            raise errors.ads_management_required()
                        self._check_policy(route)
                        body = route.run()
                except GraphError as exc:
                    failure = exc
            if failure is not None:
                raise failure
            return self._finish(name, account, GraphResponse(200, body, headers))
        except GraphError as exc:
            return self._fail(name, account, exc)
        except Exception:  # any bug still answers Graph JSON, never an HTML page
            log.exception("sandbox_meta.internal_error", route=name)
            return self._fail(
                name, account, GraphError(1, "An unknown error occurred", subcode=99, http_status=500)
            )

    def _split(self, path: str) -> tuple[str, list[str]]:
        parts = [p for p in path.split("/") if p]
        version = self.config.latest_version
        if parts and (match := _VERSION.match(parts[0])):
            version = parts.pop(0)
            if int(match.group(1)) < self.config.min_version:
                raise errors.deprecated_version(version, self.config.latest_version)
        return version, parts

    def _authenticate(self, params: dict[str, str]) -> bool:
        """Check ``access_token`` and ``appsecret_proof``; returns whether it may write."""
        token = params.get("access_token")
        if not token:
            raise errors.missing_token()
        if token not in self._tokens:
            raise errors.invalid_token()
        now = self.clock.now()
        expired = self.faults.expired_at(token, now)
        if expired is not None:
            log.info("sandbox_meta.token_expired")  # the token itself is never logged
            raise errors.expired_token(_http_date(expired), _http_date(now))
        if self.config.app_secret is not None:
            proof = params.get("appsecret_proof")
            if not proof:
                raise errors.appsecret_proof_missing()
            expected = hmac.new(self.config.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, proof.lower()):
                raise errors.appsecret_proof_invalid()
        return self._tokens[token]

    def _admit(self, route: routes.Route, now: int) -> dict[str, str]:
        """Throttling windows, the call budget and transient faults, in that order."""
        if route.account is None:
            return self._headers(None, now)
        window = self.faults.active_throttle(route.account, now)
        if window is not None:
            # Injected throttling: fail like Meta, headers saying when access comes back.
            minutes = max(1, -(-(window.until - now) // 60))
            exc = errors.throttled(window.code)
            exc.headers = usage_headers(route.account, Usage(100.0, window.until - now, minutes), 100.0)
            raise exc
        cost = WRITE_COST if route.write else READ_COST
        with self._meter_lock:
            ok, usage = self._meter.try_charge(route.account, cost, now)
            app = self._meter.app_pct(now)
        headers = usage_headers(route.account, usage, app)
        if not ok:
            # Budget spent: 80003 (custom_audience BUC) until the window resets.
            log.info("sandbox_meta.throttled", account=route.account)
            exc = errors.throttled(80003)
            exc.headers = headers
            raise exc
        code = self.faults.draw_transient()
        if code is not None:
            exc = errors.transient(code)
            exc.headers = headers
            raise exc
        return headers

    def _check_policy(self, route: routes.Route) -> None:
        if not route.needs_tos or route.account is None:
            return
        policy = self.faults.policy(route.account)
        if not policy.business_linked:
            raise errors.account_not_linked()
        if not policy.tos_accepted:
            raise errors.tos_not_accepted()
        if route.value_based and not policy.value_based_tos_accepted:
            raise errors.tos_not_accepted(value_based=True)

    def _headers(self, account: str | None, now: int) -> dict[str, str]:
        with self._meter_lock:
            usage = None if account is None else self._meter.peek(account, now)
            return usage_headers(account, usage, self._meter.app_pct(now))

    def _fail(self, name: str, account: str | None, exc: GraphError) -> GraphResponse:
        headers = exc.headers or self._headers(account, self.clock.now())
        response = GraphResponse(exc.http_status, exc.to_body(), dict(headers))
        self.calls.record(CallRecord(name.split(" ", 1)[0], name.split(" ", 1)[1], exc.http_status, exc.code))
        return self._decorate(response)

    def _finish(self, name: str, account: str | None, response: GraphResponse) -> GraphResponse:
        self.calls.record(CallRecord(name.split(" ", 1)[0], name.split(" ", 1)[1], response.status))
        if not response.headers:
            response.headers = self._headers(account, self.clock.now())
        return self._decorate(response)

    @staticmethod
    def _decorate(response: GraphResponse) -> GraphResponse:
        response.headers.setdefault("x-fb-trace-id", errors.new_trace_id())
        return response


def _http_date(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")
