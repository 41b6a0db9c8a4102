"""Data Manager API UserListService: create, get, list, update and delete Customer Match lists.

Lists are the Google Ads lists the Ads API also sees (``domain.lists``). Names follow
``accountTypes/GOOGLE_ADS/accounts/{account}/userLists/{id}`` [proto: UserList.name]; the optional
``login-account`` metadata names the manager the caller signs in through.
"""

from __future__ import annotations

import re
from typing import Any

import grpc
from google.ads import datamanager_v1 as dm
from google.protobuf import duration_pb2

from services.sandbox_google.calls import CallInfo
from services.sandbox_google.datamanager_destinations import check_access
from services.sandbox_google.domain.destinations import Violation
from services.sandbox_google.domain.lists import (
    DAY_SECONDS,
    DEFAULT_LIFE_SPAN_DAYS,
    MAX_LIFE_SPAN_DAYS,
    UserListRecord,
)
from services.sandbox_google.errors import dm_error, dm_invalid
from services.sandbox_google.service import LIST_ID_START, GoogleSandbox

_PARENT = re.compile(r"^accountTypes/GOOGLE_ADS/accounts/([0-9]{10})$")
_NAME = re.compile(r"^accountTypes/GOOGLE_ADS/accounts/([0-9]{10})/userLists/([0-9]+)$")
_ACCOUNT = re.compile(r"^accountTypes/[A-Z_]+/accounts/([0-9]+)$")
_FILTER = re.compile(r'^\s*(display_name|displayName|id)\s*=\s*("(?:[^"\\]|\\.)*"|[0-9]+)\s*$')
DEFAULT_PAGE, MAX_PAGE = 50, 1000
CONTACT_ID = dm.IngestedUserListInfo.UploadKeyType.CONTACT_ID


def _login(call: CallInfo) -> str:
    match = _ACCOUNT.match(call.header("login-account"))
    return match.group(1) if match else ""


def _parent(sandbox: GoogleSandbox, parent: str, call: CallInfo) -> str:
    match = _PARENT.match(parent)
    if not match:
        raise dm_invalid(
            [
                Violation(
                    "parent",
                    "INVALID_RESOURCE_NAME",
                    "parent must be accountTypes/GOOGLE_ADS/accounts/{10-digit account}.",
                )
            ]
        )
    check_access(sandbox, match.group(1), _login(call))
    return match.group(1)


def user_list_message(sandbox: GoogleSandbox, record: UserListRecord) -> Any:
    """A stored list as the Data Manager API shows it, with current size and match rate."""
    size = sandbox.store.size(record.id)
    return dm.UserList(
        name=f"accountTypes/GOOGLE_ADS/accounts/{record.customer_id}/userLists/{record.id}",
        id=record.id,
        read_only=False,
        display_name=record.name,
        description=record.description,
        membership_status=getattr(dm.UserList.MembershipStatus, record.membership_status),
        membership_duration=duration_pb2.Duration(seconds=record.life_span_days * DAY_SECONDS),
        access_reason=dm.UserList.AccessReason.OWNED,
        account_access_status=dm.UserList.AccessStatus.ENABLED,
        size_info=dm.SizeInfo(
            display_network_members_count=size.matched, search_network_members_count=size.matched
        ),
        target_network_info=dm.TargetNetworkInfo(eligible_for_display=True, eligible_for_search=True),
        ingested_user_list_info=dm.IngestedUserListInfo(
            upload_key_types=[CONTACT_ID],
            contact_id_info=dm.ContactIdInfo(
                data_source_type=dm.DataSourceType.DATA_SOURCE_TYPE_FIRST_PARTY,
                match_rate_percentage=size.match_rate_percentage,
            ),
        ),
    )


def create(sandbox: GoogleSandbox, request: dm.CreateUserListRequest, call: CallInfo) -> Any:
    """CreateUserList: a CONTACT_ID Customer Match list, display name unique in the account."""
    customer = _parent(sandbox, request.parent, call)
    pb = dm.UserList.pb(request.user_list)
    found: list[Violation] = []
    name = pb.display_name.strip() if pb.HasField("display_name") else ""
    if not name:
        found.append(
            Violation("user_list.display_name", "REQUIRED_FIELD_MISSING", "Required field is missing.")
        )
    elif any(u.name == name for u in sandbox.store.user_lists(customer)):
        found.append(
            Violation(
                "user_list.display_name", "DISPLAY_NAME_ALREADY_USED", "The display name is already used."
            )
        )
    days = _duration_days(pb, found) if pb.HasField("membership_duration") else DEFAULT_LIFE_SPAN_DAYS
    keys = list(pb.ingested_user_list_info.upload_key_types)
    if not pb.HasField("ingested_user_list_info") or not keys:
        found.append(
            Violation(
                "user_list.ingested_user_list_info.upload_key_types",
                "REQUIRED_FIELD_MISSING",
                "Required field is missing.",
            )
        )
    elif keys != [CONTACT_ID]:
        found.append(
            Violation(
                "user_list.ingested_user_list_info.upload_key_types",
                "UNSUPPORTED_USER_LIST_UPLOAD_KEY_TYPES",
                "This sandbox serves Customer Match lists of CONTACT_ID only.",
            )
        )
    if found:
        raise dm_invalid(found)
    status = "CLOSED" if pb.membership_status == dm.UserList.MembershipStatus.CLOSED else "OPEN"
    record = UserListRecord(
        id=0,
        customer_id=customer,
        name=name,
        description=pb.description,
        life_span_days=days,
        upload_key_type="CONTACT_INFO",
        membership_status=status,
        created_at=sandbox.clock.now(),
    )
    if request.validate_only:
        return user_list_message(sandbox, record)
    record = UserListRecord(**{**record.__dict__, "id": sandbox.store.next_id("user_list", LIST_ID_START)})
    sandbox.store.add_list(record)
    return user_list_message(sandbox, record)


def _duration_days(pb: Any, found: list[Violation]) -> int:
    """Whole days of ``membership_duration``, at most 540; a violation (and 0) otherwise."""
    seconds = pb.membership_duration.seconds
    if seconds % DAY_SECONDS or pb.membership_duration.nanos or seconds < 0:
        found.append(
            Violation(
                "user_list.membership_duration",
                "INVALID_ARGUMENT",
                "membership_duration must be a whole number of days (multiples of 86400s).",
            )
        )
        return 0
    if seconds // DAY_SECONDS > MAX_LIFE_SPAN_DAYS:
        found.append(
            Violation(
                "user_list.membership_duration",
                "MEMBERSHIP_DURATION_TOO_LONG",
                f"membership_duration is at most {MAX_LIFE_SPAN_DAYS} days.",
            )
        )
        return 0
    return int(seconds // DAY_SECONDS)


_UPDATABLE = ("display_name", "description", "membership_status", "membership_duration")


def update(sandbox: GoogleSandbox, request: dm.UpdateUserListRequest, call: CallInfo) -> Any:
    """UpdateUserList: display name, description, membership status and duration, by update mask
    (an empty mask updates the updatable fields the request sets, as AIP-134 allows)."""
    record = _by_name(sandbox, request.user_list.name, call)
    pb = dm.UserList.pb(request.user_list)
    paths = list(request.update_mask.paths) or [f for f in _UPDATABLE if pb.HasField(f)]
    found: list[Violation] = []
    changes: dict[str, Any] = {}
    for path in paths:
        if path not in _UPDATABLE:
            reason = (
                "IMMUTABLE_FIELD_FOR_UPDATE" if path in dm.UserList.meta.fields else "INVALID_UPDATE_MASK"
            )
            found.append(Violation("update_mask", reason, f"{path} cannot be updated."))
        elif path == "display_name":
            name = pb.display_name.strip()
            taken = {u.name for u in sandbox.store.user_lists(record.customer_id) if u.id != record.id}
            if not name or name in taken:
                reason = "DISPLAY_NAME_ALREADY_USED" if name else "INVALID_DISPLAY_NAME"
                found.append(Violation("user_list.display_name", reason, "The display name is not usable."))
            changes["name"] = name
        elif path == "description":
            changes["description"] = pb.description
        elif path == "membership_status":
            closed = pb.membership_status == dm.UserList.MembershipStatus.CLOSED
            changes["membership_status"] = "CLOSED" if closed else "OPEN"
        else:
            changes["life_span_days"] = _duration_days(pb, found)
    if found:
        raise dm_invalid(found)
    updated = UserListRecord(**{**record.__dict__, **changes})
    if not request.validate_only:
        sandbox.store.save_list(updated)
    return user_list_message(sandbox, updated)


def _by_name(sandbox: GoogleSandbox, name: str, call: CallInfo) -> UserListRecord:
    match = _NAME.match(name)
    if not match:
        raise dm_invalid(
            [
                Violation(
                    "name",
                    "INVALID_RESOURCE_NAME",
                    "name must be accountTypes/GOOGLE_ADS/accounts/{account}/userLists/{id}.",
                )
            ]
        )
    check_access(sandbox, match.group(1), _login(call))
    record = sandbox.store.user_list(int(match.group(2)))
    if record is None or record.customer_id != match.group(1):
        raise dm_error(grpc.StatusCode.NOT_FOUND, "NOT_FOUND", "Resource not found.")
    return record


def get(sandbox: GoogleSandbox, request: dm.GetUserListRequest, call: CallInfo) -> Any:
    """GetUserList."""
    return user_list_message(sandbox, _by_name(sandbox, request.name, call))


def delete(sandbox: GoogleSandbox, request: dm.DeleteUserListRequest, call: CallInfo) -> Any:
    """DeleteUserList: the list and its members go."""
    from google.protobuf import empty_pb2

    record = _by_name(sandbox, request.name, call)
    if not request.validate_only:
        sandbox.store.delete_list(record.id)
    return empty_pb2.Empty()


def list_lists(sandbox: GoogleSandbox, request: dm.ListUserListsRequest, call: CallInfo) -> Any:
    """ListUserLists: pages of up to ``page_size`` (default 50, at most 1000); filters on
    ``display_name = "..."`` or ``id = N`` (the sandbox's subset of AIP-160)."""
    customer = _parent(sandbox, request.parent, call)
    lists = sandbox.store.user_lists(customer)
    if request.filter.strip():
        lists = _filtered(lists, request.filter)
    size = MAX_PAGE if request.page_size > MAX_PAGE else (request.page_size or DEFAULT_PAGE)
    if request.page_size < 0:
        raise dm_invalid([Violation("page_size", "INVALID_ARGUMENT", "page_size must not be negative.")])
    start = 0
    if request.page_token:
        if not request.page_token.isdigit():
            raise dm_invalid([Violation("page_token", "INVALID_PAGE_TOKEN", "The page token is not valid.")])
        start = int(request.page_token)
    page = lists[start : start + size]
    more = start + size < len(lists)
    return dm.ListUserListsResponse(
        user_lists=[user_list_message(sandbox, r) for r in page],
        next_page_token=str(start + size) if more else "",
    )


def _filtered(lists: list[UserListRecord], text: str) -> list[UserListRecord]:
    out = lists
    for clause in re.split(r"\s+AND\s+", text.strip()):
        match = _FILTER.match(clause)
        if not match:
            raise dm_invalid(
                [
                    Violation(
                        "filter",
                        "INVALID_FILTER",
                        'This sandbox filters on display_name = "..." and id = N, joined by AND.',
                    )
                ]
            )
        field, value = match.groups()
        if field == "id":
            out = [r for r in out if str(r.id) == value]
        else:
            wanted = value[1:-1].replace('\\"', '"')
            out = [r for r in out if r.name == wanted]
    return out


HANDLERS: dict[str, tuple[Any, type, Any, bool]] = {
    "CreateUserList": (create, dm.CreateUserListRequest, dm.UserList, True),
    "GetUserList": (get, dm.GetUserListRequest, dm.UserList, False),
    "ListUserLists": (list_lists, dm.ListUserListsRequest, dm.ListUserListsResponse, False),
    "UpdateUserList": (update, dm.UpdateUserListRequest, dm.UserList, True),
    "DeleteUserList": (delete, dm.DeleteUserListRequest, None, True),
}
SERVICE = "google.ads.datamanager.v1.UserListService"
