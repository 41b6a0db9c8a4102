"""The Data Manager API adapter: one Google Ads account's Customer Match lists, nothing else.

Official client only (``google-ads-datamanager``), pointed at ``GOOGLE_DATAMANAGER_ENDPOINT``
(Google by default, the sandbox in tests and demos; AD_APIS.md 3.3). Every call goes through
``GoogleCalls`` (shared budget, retries, classification) with ``retry=None`` and a timeout.
Uploads are asynchronous on Google's side: an accepted request returns a request id, and
``request_status`` is polled until it leaves PROCESSING.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import grpc
from google.ads import datamanager_v1 as dm
from google.ads.datamanager_v1.services.ingestion_service.transports import IngestionServiceGrpcTransport
from google.ads.datamanager_v1.services.user_list_service.transports import UserListServiceGrpcTransport

from services.syncer_google.adapters import dm_wire as wire
from services.syncer_google.adapters.calls import GoogleCalls

DEFAULT_ENDPOINT = "datamanager.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/datamanager"
_State = dm.RequestStatusPerDestination.RequestStatus


@dataclass(frozen=True)
class RequestOutcome:
    """Where an accepted request stands, with Google's error and warning counts by reason."""

    state: str  # PROCESSING | SUCCESS | PARTIAL_SUCCESS | FAILED | REQUEST_STATUS_UNKNOWN
    errors: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    record_count: int | None = None

    @property
    def done(self) -> bool:
        """No longer processing."""
        return self.state not in ("PROCESSING", "REQUEST_STATUS_UNKNOWN")


@dataclass(frozen=True)
class ListInfo:
    """What Google reports about a list: sizes per network and the match rate."""

    list_id: str
    name: str
    display_size: int | None
    search_size: int | None
    match_rate: int | None
    membership_days: int | None


def _counts(info: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in getattr(info, "error_counts", None) or getattr(info, "warning_counts", None) or ():
        name = getattr(item.reason, "name", str(item.reason))
        out[name] = out.get(name, 0) + int(item.record_count)
    return out


def _record_count(status: Any) -> int | None:
    for part in (
        "audience_members_ingestion_status",
        "audience_members_removal_status",
        "remove_all_audience_members_status",
    ):
        sub = getattr(status, part, None)
        if sub is None:
            continue
        for inner in ("user_data_ingestion_status", "user_data_removal_status"):
            counts = getattr(sub, inner, None)
            if counts is not None and "record_count" in type(counts).meta.fields:
                return int(counts.record_count)
    return None


class DataManagerLists:
    """Customer Match lists of one operating account, through the Data Manager API."""

    api = "datamanager"

    def __init__(
        self,
        calls: GoogleCalls,
        *,
        operating_account: str,
        login_account: str | None,
        credentials: Any,
        endpoint: str = DEFAULT_ENDPOINT,
        ca_pem: bytes | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.calls = calls
        self.operating = operating_account
        self.login = login_account
        self.timeout = timeout
        options = {"api_endpoint": endpoint}
        if ca_pem is not None:  # a sandbox with its own certificate authority
            ssl = grpc.ssl_channel_credentials(root_certificates=ca_pem)
            ingestion_transport: Any = functools.partial(
                IngestionServiceGrpcTransport, ssl_channel_credentials=ssl
            )
            lists_transport: Any = functools.partial(
                UserListServiceGrpcTransport, ssl_channel_credentials=ssl
            )
        else:
            ingestion_transport = lists_transport = "grpc"
        self.ingestion = dm.IngestionServiceClient(
            credentials=credentials, client_options=options, transport=ingestion_transport
        )
        self.lists = dm.UserListServiceClient(
            credentials=credentials, client_options=options, transport=lists_transport
        )
        self._metadata: tuple[tuple[str, str], ...] = (
            (("login-account", f"accountTypes/GOOGLE_ADS/accounts/{login_account}"),) if login_account else ()
        )

    def target(self, list_id: str) -> dm.Destination:
        """The destination of one list of this account."""
        return wire.destination(list_id, self.operating, self.login)

    # --- lists ---------------------------------------------------------------------------------

    def find_list(self, name: str) -> str | None:
        """The id of this account's list with this exact display name, if any."""
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        request = dm.ListUserListsRequest(
            parent=wire.parent(self.operating), filter=f'display_name = "{quoted}"', page_size=1000
        )
        while True:
            page = self.calls(
                self.lists.list_user_lists,
                request=request,
                retry=None,
                timeout=self.timeout,
                metadata=self._metadata,
            )
            for user_list in page.user_lists:  # the pager's first response only: pages go through calls
                if user_list.display_name == name:
                    return str(user_list.id) or user_list.name.rsplit("/", 1)[-1]
            token = getattr(page, "next_page_token", "")
            if not token:
                return None
            request = dm.ListUserListsRequest(
                parent=request.parent, filter=request.filter, page_size=1000, page_token=token
            )

    def create_list(self, name: str, description: str, membership_days: int) -> str:
        """Create a Customer Match list; returns its id."""
        created = self.calls(
            self.lists.create_user_list,
            request=dm.CreateUserListRequest(
                parent=wire.parent(self.operating),
                user_list=wire.new_list(name, description, membership_days),
            ),
            retry=None,
            timeout=self.timeout,
            metadata=self._metadata,
        )
        return str(created.id) or created.name.rsplit("/", 1)[-1]

    def read_list(self, list_id: str) -> ListInfo:
        """Sizes and match rate of one list."""
        got = self.calls(
            self.lists.get_user_list,
            request=dm.GetUserListRequest(name=f"{wire.parent(self.operating)}/userLists/{list_id}"),
            retry=None,
            timeout=self.timeout,
            metadata=self._metadata,
        )
        size = got.size_info
        contact = got.ingested_user_list_info.contact_id_info
        duration = got.membership_duration
        return ListInfo(
            list_id=list_id,
            name=got.display_name,
            display_size=int(size.display_network_members_count) if "size_info" in got else None,
            search_size=int(size.search_network_members_count) if "size_info" in got else None,
            match_rate=int(contact.match_rate_percentage) if "match_rate_percentage" in contact else None,
            membership_days=int(duration.total_seconds() // 86_400) if duration else None,
        )

    # --- members -------------------------------------------------------------------------------

    def add(self, list_id: str, rows: Sequence[Sequence[str]]) -> str:
        """Ingest members (each with the consent its row carries); returns the request id."""
        response = self.calls(
            self.ingestion.ingest_audience_members,
            request=wire.ingest_request(self.target(list_id), rows),
            retry=None,
            timeout=self.timeout,
        )
        return str(response.request_id)

    def remove(self, list_id: str, rows: Sequence[Sequence[str]]) -> str:
        """Remove members by the identifiers they were added with; returns the request id."""
        response = self.calls(
            self.ingestion.remove_audience_members,
            request=wire.remove_request(self.target(list_id), rows),
            retry=None,
            timeout=self.timeout,
        )
        return str(response.request_id)

    def remove_all_before(self, list_id: str, as_of: datetime) -> str:
        """Remove every member last added before ``as_of``; returns the request id."""
        response = self.calls(
            self.ingestion.remove_all_audience_members,
            request=wire.remove_all_request(self.target(list_id), as_of),
            retry=None,
            timeout=self.timeout,
        )
        return str(response.request_id)

    def request_status(self, request_id: str) -> RequestOutcome:
        """Where an accepted request stands (one destination per request here)."""
        response = self.calls(
            self.ingestion.retrieve_request_status,
            request=dm.RetrieveRequestStatusRequest(request_id=request_id),
            retry=None,
            timeout=self.timeout,
        )
        statuses = list(response.request_status_per_destination)
        if not statuses:
            return RequestOutcome("REQUEST_STATUS_UNKNOWN")
        status = statuses[0]
        return RequestOutcome(
            state=_State(status.request_status).name,
            errors=_counts(status.error_info),
            warnings=_counts(status.warning_info),
            record_count=_record_count(status),
        )

    def close(self) -> None:
        """Close both channels."""
        self.ingestion.transport.close()  # type: ignore[no-untyped-call]
        self.lists.transport.close()  # type: ignore[no-untyped-call]
