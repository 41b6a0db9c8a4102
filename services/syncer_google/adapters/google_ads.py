"""The Google Ads API adapter (v26): Customer Match through offline user data jobs.

For developer tokens Google allowlisted before 2026-04-01 only; every other token gets
CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE, which stops the run with advice to switch the
destination to the Data Manager API. Official client only (``google-ads``). Against a sandbox
with its own certificate authority the service clients are built exactly as
``GoogleAdsClient.get_service`` builds them (the library's own metadata, logging and exception
interceptors) but on a channel that trusts that authority, instead of the process-wide
``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` the library would otherwise need (AD_APIS.md 3.2).

A job is created, filled with Add requests (partial failure on, so a malformed member is
reported, not fatal), then run; its status, and the list's size and match rate, are read with
GAQL and polled with backoff: the long-running operation is never blocked on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import grpc
from google.ads.googleads import client as ads_client
from google.ads.googleads.client import GoogleAdsClient
from google.ads.googleads.v26.errors.types.errors import GoogleAdsFailure
from google.ads.googleads.v26.services.types import google_ads_service, user_list_service
from google.ads.googleads.v26.services.types import offline_user_data_job_service as job_service
from google.api_core import grpc_helpers

from services.syncer_google.adapters import ads_wire as wire
from services.syncer_google.adapters.calls import GoogleCalls
from services.syncer_google.adapters.datamanager import ListInfo
from shared.sync.google_consent import AdConsent

VERSION = "v26"
DEFAULT_ENDPOINT = "googleads.googleapis.com"
_log = logging.getLogger("google.ads.googleads.client")


@dataclass(frozen=True)
class JobStatus:
    """An offline user data job as GAQL reports it."""

    status: str  # PENDING | RUNNING | SUCCESS | FAILED | UNKNOWN
    failure_reason: str | None
    match_rate_range: str | None

    @property
    def done(self) -> bool:
        """SUCCESS or FAILED."""
        return self.status in ("SUCCESS", "FAILED")


def _quoted(value: str) -> str:
    """A GAQL string literal (GAQL, not SQL: the S608 warnings below are about this)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class GoogleAdsLists:
    """Customer Match lists of one customer account, through the Google Ads API."""

    api = "google_ads"

    def __init__(
        self,
        calls: GoogleCalls,
        *,
        customer_id: str,
        login_customer_id: str | None,
        developer_token: str,
        credentials: Any,
        endpoint: str = DEFAULT_ENDPOINT,
        ca_pem: bytes | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.calls = calls
        self.customer_id = customer_id
        self.timeout = timeout
        self.client = GoogleAdsClient(
            credentials=credentials,
            developer_token=developer_token,
            endpoint=endpoint,
            login_customer_id=login_customer_id,
            use_proto_plus=True,
            version=VERSION,
        )
        self.ca_pem = ca_pem
        self._channels: list[grpc.Channel] = []
        self.jobs = self._service("OfflineUserDataJobService")
        self.lists = self._service("UserListService")
        self.search = self._service("GoogleAdsService")

    def _service(self, name: str) -> Any:
        if self.ca_pem is None:
            return self.client.get_service(name, version=VERSION)
        module = import_module(f"google.ads.googleads.{VERSION}.services.services.{_snake(name)}")
        client_class = getattr(module, f"{name}Client")
        transport_class = client_class.get_transport_class(None)
        channel = grpc_helpers.create_channel(
            self.client.endpoint,
            credentials=self.client.credentials,
            ssl_credentials=grpc.ssl_channel_credentials(root_certificates=self.ca_pem),
            options=ads_client._GRPC_CHANNEL_OPTIONS,
        )
        self._channels.append(channel)
        intercepted = grpc.intercept_channel(
            channel,
            ads_client.MetadataInterceptor(
                self.client.developer_token, self.client.login_customer_id, self.client.linked_customer_id
            ),
            ads_client.LoggingInterceptor(_log, VERSION, self.client.endpoint),
            ads_client.ExceptionInterceptor(VERSION, use_proto_plus=True),
        )
        return client_class(
            transport=transport_class(channel=intercepted, client_info=ads_client._CLIENT_INFO)
        )

    def _query(self, query: str) -> list[Any]:
        request = google_ads_service.SearchGoogleAdsRequest(customer_id=self.customer_id, query=query)
        pager = self.calls(self.search.search, request=request, timeout=self.timeout)
        return list(pager.results)  # the first page: our queries name one resource

    # --- lists ---------------------------------------------------------------------------------

    def find_list(self, name: str) -> str | None:
        """The id of this account's CRM-based list with this exact name, if any."""
        rows = self._query(
            f"SELECT user_list.id, user_list.name FROM user_list WHERE user_list.name = {_quoted(name)}"  # noqa: S608
        )
        for row in rows:
            if row.user_list.name == name:
                return str(row.user_list.id)
        return None

    def create_list(self, name: str, description: str, membership_days: int) -> str:
        """Create a CRM-based Customer Match list; returns its id."""
        response = self.calls(
            self.lists.mutate_user_lists,
            request=user_list_service.MutateUserListsRequest(
                customer_id=self.customer_id,
                operations=[
                    user_list_service.UserListOperation(
                        create=wire.new_list(name, description, membership_days)
                    )
                ],
            ),
            timeout=self.timeout,
        )
        return wire.list_id_of(response.results[0].resource_name)

    def read_list(self, list_id: str) -> ListInfo:
        """Sizes and match rate of one list."""
        rows = self._query(
            "SELECT user_list.id, user_list.name, user_list.size_for_display, user_list.size_for_search, "  # noqa: S608
            "user_list.match_rate_percentage, user_list.membership_life_span FROM user_list "
            f"WHERE user_list.resource_name = {_quoted(wire.user_list_name(self.customer_id, list_id))}"
        )
        if not rows:
            return ListInfo(list_id, "", None, None, None, None)
        found = rows[0].user_list
        return ListInfo(
            list_id=list_id,
            name=found.name,
            display_size=found.size_for_display if "size_for_display" in found else None,
            search_size=found.size_for_search if "size_for_search" in found else None,
            match_rate=found.match_rate_percentage if "match_rate_percentage" in found else None,
            membership_days=found.membership_life_span if "membership_life_span" in found else None,
        )

    # --- jobs ----------------------------------------------------------------------------------

    def create_job(self, list_id: str, consent: AdConsent | None) -> str:
        """A new job on the list (consent only for jobs that add members); its resource name."""
        response = self.calls(
            self.jobs.create_offline_user_data_job,
            request=job_service.CreateOfflineUserDataJobRequest(
                customer_id=self.customer_id, job=wire.job(self.customer_id, list_id, consent)
            ),
            timeout=self.timeout,
        )
        return str(response.resource_name)

    def add_operations(self, job: str, rows: Sequence[Sequence[str]], *, remove: bool) -> dict[int, str]:
        """Add create or remove operations; returns the refused rows' indexes with their reasons."""
        refused: dict[int, str] = {}
        offset = 0
        ops = wire.operations(rows, remove=remove)
        for chunk in wire.requests_of(ops):
            response = self.calls(
                self.jobs.add_offline_user_data_job_operations,
                request=job_service.AddOfflineUserDataJobOperationsRequest(
                    resource_name=job, operations=chunk, enable_partial_failure=True
                ),
                timeout=self.timeout,
            )
            for index, reason in _partial_failures(response):
                refused.setdefault(offset + index, reason)
            offset += len(chunk)
        return refused

    def run_job(self, job: str) -> None:
        """Start processing; the operation is not waited on (jobs are polled with GAQL)."""
        self.calls(
            self.jobs.run_offline_user_data_job,
            request=job_service.RunOfflineUserDataJobRequest(resource_name=job),
            timeout=self.timeout,
        )

    def job_status(self, job: str) -> JobStatus:
        """Status, failure reason and match-rate range of one job."""
        rows = self._query(
            "SELECT offline_user_data_job.resource_name, offline_user_data_job.status, "  # noqa: S608
            "offline_user_data_job.failure_reason, offline_user_data_job.operation_metadata.match_rate_range "
            f"FROM offline_user_data_job WHERE offline_user_data_job.resource_name = {_quoted(job)}"
        )
        if not rows:
            return JobStatus("UNKNOWN", None, None)
        found = rows[0].offline_user_data_job
        reason = found.failure_reason.name if found.failure_reason else None
        match = found.operation_metadata.match_rate_range
        return JobStatus(
            found.status.name, reason if reason != "UNSPECIFIED" else None, match.name if match else None
        )

    def running_jobs(self, list_id: str) -> list[str]:
        """Jobs on this list that are running now (a dead process may have left one)."""
        user_list = _quoted(wire.user_list_name(self.customer_id, list_id))
        rows = self._query(
            "SELECT offline_user_data_job.resource_name FROM offline_user_data_job "  # noqa: S608
            f"WHERE offline_user_data_job.customer_match_user_list_metadata.user_list = {user_list} "
            "AND offline_user_data_job.status = 'RUNNING'"
        )
        return [str(row.offline_user_data_job.resource_name) for row in rows]

    def close(self) -> None:
        """Close the channels this adapter opened."""
        for channel in self._channels:
            channel.close()


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _partial_failures(response: Any) -> list[tuple[int, str]]:
    """``(operation index, category:ENUM)`` of each refused operation in a partial failure."""
    out: list[tuple[int, str]] = []
    status = response.partial_failure_error
    if not status or not status.details:
        return out
    for detail in status.details:
        failure = GoogleAdsFailure.deserialize(detail.value)
        for error in failure.errors:
            index = next(
                (p.index for p in error.location.field_path_elements if p.field_name == "operations"), None
            )
            code = type(error.error_code).pb(error.error_code)
            category = code.WhichOneof("error_code") or "unknown"
            enum = code.DESCRIPTOR.fields_by_name[category].enum_type if category != "unknown" else None
            name = enum.values_by_number[getattr(code, category)].name if enum else "UNKNOWN"
            if index is not None:
                out.append((int(index), f"{category}:{name}"))
    return out
