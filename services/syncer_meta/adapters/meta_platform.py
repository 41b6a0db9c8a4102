"""The Meta platform adapter: one ad account's audiences through facebook-business, nothing else.

The SDK is pointed at ``META_GRAPH_URL`` (the real Graph API by default, the sandbox in tests
and demos) as AD_APIS.md 3.1 shows. Every call goes through ``_call``, which paces it (request
budget, usage headers), retries transient errors with jittered exponential backoff, waits out
throttling, and turns every other Graph error into a classified ``PlatformError`` at once.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import requests
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.customaudience import CustomAudience
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from prometheus_client import Counter

from services.syncer_meta.domain.diff import Direction
from services.syncer_meta.domain.errors import Failure, Kind, PlatformUnavailable, classify, error_for
from services.syncer_meta.domain.pacing import RequestBudget, Usage, backoff, parse_usage, pause_after
from services.syncer_meta.domain.ports import LookalikeSpec, Readback, Receipt, SessionRef
from shared.config import MetaAccount
from shared.log import get_logger

log = get_logger(__name__)
T = TypeVar("T")

CALLS = Counter("audiencesync_meta_calls_total", "Graph calls made, retries included", ["account", "call"])
RETRIES = Counter(
    "audiencesync_meta_retries_total", "Graph calls retried after a transient error", ["account"]
)
THROTTLED = Counter("audiencesync_meta_throttled_total", "Graph calls refused for rate limits", ["account"])
PAUSED = Counter("audiencesync_meta_paused_seconds_total", "Seconds spent pacing or waiting", ["account"])
AUTH_FAILURES = Counter("audiencesync_meta_auth_failures_total", "Calls refused for the token", ["account"])

READ_FIELDS = [
    "name",
    "subtype",
    "is_value_based",
    "approximate_count_lower_bound",
    "approximate_count_upper_bound",
    "operation_status",
    "delivery_status",
    "time_content_updated",
]
EDGE = {Direction.ADD: "users", Direction.REMOVE: "users", Direction.REPLACE: "usersreplace"}


class MetaPlatform:
    """``AudiencePlatform`` for one ad account, over the official SDK."""

    def __init__(
        self,
        account: MetaAccount,
        *,
        graph_url: str,
        api_version: str,
        timeout: float = 300.0,
        max_attempts: int = 6,
        max_throttle_wait: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.account_id = account.account_id
        self.calls = 0
        self.api = FacebookAdsApi.init(
            app_id=account.app_id,
            app_secret=account.app_secret,
            access_token=account.access_token,
            api_version=api_version,
            timeout=timeout,
            crash_log=False,  # otherwise the SDK installs an excepthook that posts crash reports
        )
        self.api._session.GRAPH = graph_url  # what FacebookAdsApi.call builds URLs from
        self._max_attempts = max_attempts
        self._max_throttle_wait = max_throttle_wait
        self._sleep, self._now, self._jitter = sleep, now, jitter
        self._budget = RequestBudget(account.requests_per_minute, now)
        self._ready_at = 0.0  # no call before this (usage headers asked us to pause)

    # --- the port --------------------------------------------------------------------------

    def find_audience(self, name: str) -> str | None:
        """The id of a customer-file audience with exactly this name (adopts one a crash orphaned)."""

        def listing() -> list[Any]:
            cursor = AdAccount(self.account_id, api=self.api).get_custom_audiences(
                fields=["name", "subtype"], params={"limit": 500}
            )
            return list(cursor)

        for audience in self._call("list", listing):
            if audience.get("name") == name and audience.get("subtype", "CUSTOM") == "CUSTOM":
                return str(audience["id"])
        return None

    def create_audience(self, name: str, description: str, *, value_based: bool) -> str:
        """``POST /act_N/customaudiences`` for a customer-file audience."""
        params: dict[str, Any] = {
            "name": name,
            "subtype": "CUSTOM",
            "description": description,
            "customer_file_source": "USER_PROVIDED_ONLY",  # the shop's own customers
            "is_value_based": value_based,
        }
        created = self._call(
            "create", lambda: AdAccount(self.account_id, api=self.api).create_custom_audience(params=params)
        )
        return str(created["id"])

    def describe(self, audience_id: str) -> dict[str, Any]:
        """The audience's fields as Graph returns them."""
        read = self._call(
            "read", lambda: CustomAudience(audience_id, api=self.api).api_get(fields=READ_FIELDS)
        )
        return dict(read.export_all_data())

    def read_audience(self, audience_id: str) -> Readback:
        """Size bounds and statuses, for the snapshot time series."""
        data = self.describe(audience_id)
        operation = data.get("operation_status") or {}
        delivery = data.get("delivery_status") or {}
        return Readback(
            lower=_int(data.get("approximate_count_lower_bound")),
            upper=_int(data.get("approximate_count_upper_bound")),
            operation_status=_int(operation.get("code")),
            delivery_status=_int(delivery.get("code")),
            details={
                "operation": operation.get("description"),
                "delivery": delivery.get("description"),
                "time_content_updated": data.get("time_content_updated"),
            },
        )

    def upload(
        self,
        audience_id: str,
        direction: Direction,
        schema: Sequence[str],
        rows: Sequence[Sequence[str | float]],
        session: SessionRef,
    ) -> Receipt:
        """One batch: rows already hashed (``pre_hashed``), multi-key (``is_raw``), with its session."""
        params = CustomAudience.format_params(
            list(schema),
            [list(row) for row in rows],
            is_raw=True,
            pre_hashed=True,
            session=_session(session),
        )
        if direction is Direction.REMOVE:
            # The documented POST override: a 10,000-row multi-key DELETE would put megabytes in the URL.
            params["method"] = "DELETE"
        path = (audience_id, EDGE[direction])
        response = self._call(direction.value, lambda: self.api.call("POST", path, params=params))
        body = response.json() if callable(getattr(response, "json", None)) else {}
        body = body if isinstance(body, dict) else {}
        return Receipt(
            session_id=str(body.get("session_id", session.session_id)),
            num_received=_int(body.get("num_received")),
            num_invalid=_int(body.get("num_invalid_entries")) or 0,
            samples=body.get("invalid_entry_samples"),
        )

    def create_lookalike(self, seed_id: str, name: str, spec: LookalikeSpec) -> str:
        """``POST /act_N/customaudiences`` with ``subtype=LOOKALIKE``."""
        params = {
            "name": name,
            "subtype": "LOOKALIKE",
            "origin_audience_id": seed_id,
            "lookalike_spec": json.dumps(spec.to_graph(), sort_keys=True),  # the SDK declares a string
        }
        created = self._call(
            "lookalike",
            lambda: AdAccount(self.account_id, api=self.api).create_custom_audience(params=params),
        )
        return str(created["id"])

    def find_lookalike(self, seed_id: str, spec: LookalikeSpec) -> str | None:
        """The seed's lookalike with this country and ratio, if one exists (after a lost create)."""
        seed = self._call(
            "read", lambda: CustomAudience(seed_id, api=self.api).api_get(fields=["lookalike_audience_ids"])
        )
        for candidate in seed.get("lookalike_audience_ids") or []:
            read = self._call("read", self._reader(str(candidate), ["lookalike_spec"]))
            have = read.get("lookalike_spec") or {}
            if have.get("country") == spec.country and _same_ratio(have.get("ratio"), spec.ratio):
                return str(candidate)
        return None

    def _reader(self, audience_id: str, fields: list[str]) -> Callable[[], Any]:
        return lambda: CustomAudience(audience_id, api=self.api).api_get(fields=fields)

    def close(self) -> None:
        """Close the SDK's pooled connections."""
        self.api._session.requests.close()

    # --- pacing, retries, classification ------------------------------------------------------

    def _wait_turn(self) -> None:
        wait = max(self._ready_at - self._now(), 0.0)
        if wait:
            self._pause(wait)
        wait = self._budget.wait()
        while wait > 0:
            # Own request budget (META_REQUEST_BUDGET) spent: wait for the bucket, keep our share.
            self._pause(wait)
            wait = self._budget.wait()

    def _pause(self, seconds: float) -> None:
        PAUSED.labels(self.account_id).inc(seconds)
        self._sleep(seconds)

    def _call(self, what: str, call: Callable[[], T]) -> T:
        attempt, throttled_for = 0, 0.0
        while True:
            self._wait_turn()
            self.calls += 1
            CALLS.labels(self.account_id, what).inc()
            try:
                result = call()
            except FacebookRequestError as exc:
                failure = _failure(exc)
                if failure.kind is Kind.THROTTLED:
                    # Rate limited: wait until Meta says access is back, slow down, retry; past
                    # META_MAX_THROTTLE_WAIT the run stops as "throttled" and resumes next time.
                    THROTTLED.labels(self.account_id).inc()
                    usage = parse_usage(dict(exc.http_headers() or {}))
                    wait = usage.regain_seconds or backoff(attempt + 1, base=5.0, cap=300.0)
                    if throttled_for + wait > self._max_throttle_wait:
                        raise PlatformUnavailable(failure) from None
                    throttled_for += wait
                    self._budget.slow_down()
                    log.warning("meta.throttled", account=self.account_id, code=failure.code, wait=wait)
                    self._pause(wait)
                    continue
                if failure.kind in (Kind.TRANSIENT, Kind.REPLACE_BUSY) and attempt + 1 < self._max_attempts:
                    # Transient (1, 2, is_transient) or Meta still applying an update: retry the same
                    # call after a jittered exponential backoff; the batch and session stay the same.
                    attempt += 1
                    RETRIES.labels(self.account_id).inc()
                    self._pause(backoff(attempt, jitter=0.5 + self._jitter() / 2))
                    continue
                if failure.kind is Kind.AUTH:
                    # Expired or invalid token: retrying cannot help, the run stops now with
                    # status auth_error and an operator message naming the variable to fix.
                    AUTH_FAILURES.labels(self.account_id).inc()
                raise error_for(failure) from None
            except requests.RequestException as exc:
                # Connection reset, timeout: a transient failure without a Graph body.
                failure = Failure(Kind.TRANSIENT, None, None, type(exc).__name__)
                if attempt + 1 >= self._max_attempts:
                    raise PlatformUnavailable(failure) from None
                attempt += 1
                RETRIES.labels(self.account_id).inc()
                self._pause(backoff(attempt, jitter=0.5 + self._jitter() / 2))
                continue
            self._after_success(result)
            return result

    def _after_success(self, result: object) -> None:
        headers = getattr(result, "headers", None)
        usage = parse_usage(dict(headers())) if callable(headers) else Usage()
        pause = pause_after(usage)
        if pause:
            # Close to the limit: space the next call out rather than be blocked.
            self._ready_at = self._now() + pause
        elif usage.pct < 50:
            self._budget.recover()


def _session(session: SessionRef) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "session_id": session.session_id,
        "batch_seq": session.batch_seq,
        "last_batch_flag": session.last,
    }
    if session.estimated_total:
        fields["estimated_num_total"] = session.estimated_total  # a hint; left out when unknown
    return fields


def _failure(exc: FacebookRequestError) -> Failure:
    body = exc.body() if isinstance(exc.body(), dict) else {}
    error = body.get("error") or {}
    code, subcode = exc.api_error_code(), exc.api_error_subcode()
    return Failure(
        kind=classify(code, subcode, bool(exc.api_transient_error())),
        code=code,
        subcode=subcode,
        message=str(exc.api_error_message() or exc.get_message() or "no message")[:500],
        trace_id=error.get("fbtrace_id") if isinstance(error, Mapping) else None,
    )


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _same_ratio(have: object, want: float) -> bool:
    try:
        return abs(float(have) - want) < 1e-9  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
