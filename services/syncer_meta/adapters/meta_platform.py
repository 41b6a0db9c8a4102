"""The Meta platform adapter: one ad account's audiences through facebook-business, nothing else.

Implements the engine's ``AudiencePlatform`` port (``shared.sync.ports``): 10,000 rows of up to
15 keys a request, Meta's upload sessions kept here. The SDK is pointed at ``META_GRAPH_URL``
(the real Graph API by default, the sandbox in tests and demos) as AD_APIS.md 3.1 shows. Every
call goes through the account's ``GraphCalls`` (pacing, retries, throttling, classification).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.customaudience import CustomAudience
from facebook_business.api import FacebookAdsApi
from prometheus_client import Counter

from services.syncer_meta.adapters.graph_calls import GraphCalls
from services.syncer_meta.adapters.invalid_samples import invalid_entries
from services.syncer_meta.adapters.sessions import Sessions
from services.syncer_meta.config import MetaAccount
from services.syncer_meta.domain.errors import FIRST_BATCH_NEVER_SEEN
from services.syncer_meta.domain.rows import META_ROWS
from services.syncer_meta.lookalikes import LookalikeSpec
from shared.sync.batching import Batch
from shared.sync.diff import Direction
from shared.sync.errors import ReplaceNotStarted, SessionClosed
from shared.sync.ports import AudienceSpec, Caps, Readback, Receipt, SentBatch, check_batch

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
# "each request can take up to 10,000 users" (custom-audiences guide); /usersreplace stages a swap.
META_CAPS = Caps(max_rows=10_000, replace=True)
FLAGGED = 471  # operation_status: restricted for integrity
RENEWED = Counter(
    "audiencesync_platform_sessions_renewed_total",
    "Upload sessions the platform had closed",
    ["platform", "account"],
)


@dataclass(frozen=True)
class SessionRef:
    """The ``session`` parameter of one upload batch."""

    session_id: int
    batch_seq: int
    last: bool
    estimated_total: int | None = None


class MetaPlatform:
    """``AudiencePlatform`` for one ad account, over the official SDK."""

    platform = "meta"
    caps = META_CAPS
    rows = META_ROWS

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
        self.api = FacebookAdsApi.init(
            app_id=account.app_id,
            app_secret=account.app_secret,
            access_token=account.access_token,
            api_version=api_version,
            timeout=timeout,
            crash_log=False,  # otherwise the SDK installs an excepthook that posts crash reports
        )
        self.api._session.GRAPH = graph_url  # what FacebookAdsApi.call builds URLs from
        self.graph = GraphCalls(
            account.account_id,
            per_minute=account.requests_per_minute,
            max_attempts=max_attempts,
            max_throttle_wait=max_throttle_wait,
            sleep=sleep,
            now=now,
            jitter=jitter,
        )
        self._sessions: dict[str, Sessions] = {}  # audience id -> the current run's sessions

    @property
    def calls(self) -> int:
        """Graph calls made so far, retries included."""
        return self.graph.calls

    # --- the port --------------------------------------------------------------------------

    def ensure_audience(self, spec: AudienceSpec) -> str:
        """The customer-file audience named ``spec.name``: one a crash orphaned, or a new one."""
        return self.find_audience(spec.name) or self.create_audience(
            spec.name, spec.description, value_based=spec.value_based
        )

    def resume(self, audience_id: str, history: Sequence[SentBatch]) -> None:
        """A run starts or resumes on the audience: continue the sessions its batches used."""
        self._sessions[audience_id] = Sessions(history)

    def reference(self, audience_id: str, direction: Direction) -> str | None:
        """The session id the next batch in ``direction`` goes in (recorded before it is sent)."""
        return str(self._session_of(audience_id).next(direction)[0])

    def _session_of(self, audience_id: str) -> Sessions:
        return self._sessions.setdefault(audience_id, Sessions())

    def send(self, audience_id: str, batch: Batch) -> Receipt:
        """One batch in the run's session for its direction; a session Meta closed is renewed."""
        check_batch(self.caps, self.rows, batch)
        sessions = self._session_of(audience_id)
        members = [change.member for change in batch.changes]
        schema = self.rows.schema(value_based=bool(members) and members[0].value is not None)
        rows = [member.wire() for member in members]
        session_id, batch_seq = sessions.next(batch.direction)
        try:
            body = self.upload(
                audience_id,
                batch.direction,
                schema,
                rows,
                SessionRef(session_id, batch_seq, batch.last, batch.planned),
            )
        except SessionClosed as exc:
            if batch.direction is Direction.REPLACE:
                if exc.failure.subcode == FIRST_BATCH_NEVER_SEEN:
                    # The replace never started on Meta's side: a fresh session starts it again.
                    sessions.renew(Direction.REPLACE)
                    raise ReplaceNotStarted(exc.failure) from None
                raise  # a replace cannot continue in a new session; the engine tops up instead
            # Meta closed the /users session (90-minute window, or its last batch already went
            # before a crash): the rows are still wanted, so they go again in a fresh session.
            RENEWED.labels(self.platform, self.account_id).inc()
            session_id, batch_seq = sessions.renew(batch.direction)[0], 1
            body = self.upload(
                audience_id,
                batch.direction,
                schema,
                rows,
                SessionRef(session_id, batch_seq, batch.last, batch.planned),
            )
        sessions.sent(batch.direction, session_id)
        received = _int(body.get("num_received"))
        invalid = _int(body.get("num_invalid_entries")) or 0
        samples = body.get("invalid_entry_samples")
        return Receipt(
            reference=str(body.get("session_id", session_id)),
            received=received,
            invalid_count=invalid,
            invalid=tuple(invalid_entries(samples, members)) if invalid else (),
            response={"num_received": received, "num_invalid_entries": invalid},
        )

    # --- Meta's own: adoption, lookalikes -----------------------------------------------------

    def find_audience(self, name: str) -> str | None:
        """The id of a customer-file audience with exactly this name (adopts one a crash orphaned)."""

        def listing() -> list[Any]:
            cursor = AdAccount(self.account_id, api=self.api).get_custom_audiences(
                fields=["name", "subtype"], params={"limit": 500}
            )
            return list(cursor)

        for audience in self.graph.call("list", listing):
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
        created = self.graph.call(
            "create", lambda: AdAccount(self.account_id, api=self.api).create_custom_audience(params=params)
        )
        return str(created["id"])

    def describe(self, audience_id: str) -> dict[str, Any]:
        """The audience's fields as Graph returns them."""
        read = self.graph.call(
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
            flagged=_int(operation.get("code")) == FLAGGED,
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
    ) -> dict[str, Any]:
        """One request: rows already hashed (``pre_hashed``), multi-key (``is_raw``), with its session.

        Adds go through ``CustomAudience.add_users``. Removals and replaces use the same SDK's
        ``FacebookAdsApi.call`` on Meta's documented edges: ``remove_users`` would send a DELETE
        with the payload in the query string (megabytes for 10,000 multi-key rows), so removals
        are ``POST /{id}/users`` with ``method=DELETE``; ``create_users_replace`` parses the
        answer into an object and drops the usage headers the pacing needs.
        """
        users = [list(row) for row in rows]
        fields = _session(session)
        if direction is Direction.ADD:
            audience = CustomAudience(audience_id, api=self.api)
            call = partial(
                audience.add_users, list(schema), users, is_raw=True, pre_hashed=True, session=fields
            )
        else:
            params = CustomAudience.format_params(
                list(schema), users, is_raw=True, pre_hashed=True, session=fields
            )
            if direction is Direction.REMOVE:
                params["method"] = "DELETE"
            call = partial(self.api.call, "POST", (audience_id, EDGE[direction]), params=params)
        response = self.graph.call(direction.value, call)
        body = response.json() if callable(getattr(response, "json", None)) else {}
        return body if isinstance(body, dict) else {}

    def create_lookalike(self, seed_id: str, name: str, spec: LookalikeSpec) -> str:
        """``POST /act_N/customaudiences`` with ``subtype=LOOKALIKE``."""
        params = {
            "name": name,
            "subtype": "LOOKALIKE",
            "origin_audience_id": seed_id,
            "lookalike_spec": json.dumps(spec.to_graph(), sort_keys=True),  # the SDK declares a string
        }
        created = self.graph.call(
            "lookalike",
            lambda: AdAccount(self.account_id, api=self.api).create_custom_audience(params=params),
        )
        return str(created["id"])

    def find_lookalike(self, seed_id: str, spec: LookalikeSpec) -> str | None:
        """The seed's lookalike with this country and ratio, if one exists (after a lost create)."""
        seed = self.graph.call(
            "read", lambda: CustomAudience(seed_id, api=self.api).api_get(fields=["lookalike_audience_ids"])
        )
        for candidate in seed.get("lookalike_audience_ids") or []:
            read = self.graph.call("read", self._reader(str(candidate), ["lookalike_spec"]))
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


def _session(session: SessionRef) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "session_id": session.session_id,
        "batch_seq": session.batch_seq,
        "last_batch_flag": session.last,
    }
    if session.estimated_total:
        fields["estimated_num_total"] = session.estimated_total  # a hint; left out when unknown
    return fields


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
