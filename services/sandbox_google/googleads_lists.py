"""Google Ads API UserListService.MutateUserLists: CRM-based (Customer Match) lists (AD_APIS.md 2.1).

Create and remove; names unique per account (``NAME_ALREADY_USED``); ``membership_life_span``
0..540 days (``RangeError``); partial failure per operation; at most 10,000 operations a request.
"""

from __future__ import annotations

import re
from typing import Any

from google.ads.googleads.v26.services.types import user_list_service as uls

from services.sandbox_google import googleads_guard
from services.sandbox_google.calls import CallInfo
from services.sandbox_google.domain.googleads import MAX_MUTATE_OPERATIONS, AdsError
from services.sandbox_google.domain.lists import DEFAULT_LIFE_SPAN_DAYS, UserListRecord, life_span_error
from services.sandbox_google.googleads_errors import invalid, partial_failure
from services.sandbox_google.service import LIST_ID_START, GoogleSandbox

_LIST = re.compile(r"^customers/([0-9]{10})/userLists/([0-9]+)$")
_KEY_TYPES = {2: "CONTACT_INFO", 3: "CRM_ID", 4: "MOBILE_ADVERTISING_ID"}


def parse_list_name(name: str) -> tuple[str, int] | None:
    """``customers/{cid}/userLists/{id}`` -> ``(cid, id)``."""
    match = _LIST.match(name)
    return (match.group(1), int(match.group(2))) if match else None


def mutate(sandbox: GoogleSandbox, request: uls.MutateUserListsRequest, call: CallInfo) -> Any:
    """MutateUserLists with create and remove operations."""
    customer = googleads_guard.check(
        sandbox, call, request.customer_id, operations=len(request.operations), customer_match=False
    )
    if not request.operations:
        raise invalid(
            [AdsError("request_error", "OPERATION_REQUIRED", "At least one operation is required.")]
        )
    if len(request.operations) > MAX_MUTATE_OPERATIONS:
        raise invalid(
            [AdsError("request_error", "TOO_MANY_MUTATE_OPERATIONS", "Too many mutate operations.")]
        )
    errors: list[AdsError] = []
    results: list[Any] = []
    taken = {u.name for u in sandbox.store.user_lists(customer)}
    actions: list[tuple[str, Any]] = []
    for i, op in enumerate(request.operations):
        pb = uls.UserListOperation.pb(op)
        which = pb.WhichOneof("operation")
        found: list[AdsError] = []
        if which == "create":
            record, found = _create(i, pb.create, customer, taken)
            if not found:
                taken.add(record.name)
                actions.append(("create", record))
        elif which == "remove":
            parsed = parse_list_name(pb.remove)
            if parsed is None or parsed[0] != customer or sandbox.store.user_list(parsed[1]) is None:
                found = [
                    AdsError(
                        "mutate_error",
                        "RESOURCE_NOT_FOUND",
                        "The resource was not found.",
                        [("operations", i), ("remove", None)],
                    )
                ]
            else:
                actions.append(("remove", parsed[1]))
        elif which == "update":
            changed, found = _update(sandbox, i, pb, customer, taken)
            if changed is not None:
                taken.add(changed.name)
                actions.append(("update", changed))
        else:
            found = [
                AdsError(
                    "request_error", "OPERATION_REQUIRED", "The operation is empty.", [("operations", i)]
                )
            ]
        if found:
            errors.extend(found)
            actions.append(("failed", None))
    if errors and not request.partial_failure:
        raise invalid(errors)
    for kind, item in actions:
        if kind == "failed" or request.validate_only:
            results.append(uls.MutateUserListResult())
        elif kind == "create":
            list_id = sandbox.store.next_id("user_list", LIST_ID_START)
            sandbox.store.add_list(
                UserListRecord(**{**item.__dict__, "id": list_id, "created_at": sandbox.clock.now()})
            )
            results.append(
                uls.MutateUserListResult(resource_name=f"customers/{customer}/userLists/{list_id}")
            )
        elif kind == "update":
            sandbox.store.save_list(item)
            results.append(
                uls.MutateUserListResult(resource_name=f"customers/{customer}/userLists/{item.id}")
            )
        else:
            sandbox.store.delete_list(item)
            results.append(uls.MutateUserListResult(resource_name=f"customers/{customer}/userLists/{item}"))
    response = uls.MutateUserListsResponse(results=results)
    if errors:
        response.partial_failure_error = partial_failure(errors)
    return response


_UPDATABLE = {"name", "description", "membership_life_span", "membership_status"}


def _update(
    sandbox: GoogleSandbox, i: int, op: Any, customer: str, taken: set[str]
) -> tuple[UserListRecord | None, list[AdsError]]:
    """An update by ``update_mask``: name, description, life span (0..540) and status."""
    where: list[tuple[str, int | None]] = [("operations", i), ("update", None)]
    parsed = parse_list_name(op.update.resource_name)
    record = sandbox.store.user_list(parsed[1]) if parsed and parsed[0] == customer else None
    if record is None:
        return None, [
            AdsError(
                "mutate_error",
                "RESOURCE_NOT_FOUND",
                "The resource was not found.",
                [*where, ("resource_name", None)],
            )
        ]
    found: list[AdsError] = []
    changes: dict[str, Any] = {}
    for path in op.update_mask.paths:
        if path not in _UPDATABLE:
            top = path.split(".", 1)[0]
            if top in _FIELDS:
                found.append(
                    AdsError(
                        "field_error", "IMMUTABLE_FIELD", f"{path} cannot be changed.", [*where, (top, None)]
                    )
                )
            else:
                found.append(
                    AdsError(
                        "field_mask_error",
                        "FIELD_NOT_FOUND",
                        f"No field {path!r}.",
                        [("operations", i), ("update_mask", None)],
                    )
                )
        elif path == "name":
            name = op.update.name.strip()
            if not name or (name in taken and name != record.name):
                found.append(
                    AdsError(
                        "user_list_error",
                        "NAME_ALREADY_USED" if name else "INVALID_NAME",
                        "The name cannot be used.",
                        [*where, ("name", None)],
                        trigger=name,
                    )
                )
            changes["name"] = name
        elif path == "description":
            changes["description"] = op.update.description
        elif path == "membership_life_span":
            bad = life_span_error(op.update.membership_life_span)
            if bad:
                found.append(
                    AdsError(
                        "range_error",
                        bad,
                        "membership_life_span must be between 0 and 540 days.",
                        [*where, ("membership_life_span", None)],
                    )
                )
            changes["life_span_days"] = op.update.membership_life_span
        else:
            changes["membership_status"] = "CLOSED" if op.update.membership_status == 3 else "OPEN"
    if not op.update_mask.paths:
        found.append(
            AdsError(
                "field_mask_error",
                "FIELD_MASK_MISSING",
                "The field mask is missing.",
                [("operations", i), ("update_mask", None)],
            )
        )
    if found:
        return None, found
    return UserListRecord(**{**record.__dict__, **changes}), []


_FIELDS = {f.name for f in uls.UserListOperation.meta.fields["update"].message.pb().DESCRIPTOR.fields}


def _create(i: int, pb: Any, customer: str, taken: set[str]) -> tuple[UserListRecord, list[AdsError]]:
    where: list[tuple[str, int | None]] = [("operations", i), ("create", None)]
    found: list[AdsError] = []
    name = pb.name.strip()
    if not name:
        found.append(
            AdsError(
                "field_error", "REQUIRED", "The required field was not present.", [*where, ("name", None)]
            )
        )
    elif name in taken:
        found.append(
            AdsError(
                "user_list_error",
                "NAME_ALREADY_USED",
                "Name is already being used for another user list for the account.",
                [*where, ("name", None)],
                trigger=name,
            )
        )
    days = pb.membership_life_span if pb.HasField("membership_life_span") else DEFAULT_LIFE_SPAN_DAYS
    bad = life_span_error(days)
    if bad:
        found.append(
            AdsError(
                "range_error",
                bad,
                "membership_life_span must be between 0 and 540 days.",
                [*where, ("membership_life_span", None)],
                trigger=str(days),
            )
        )
    key_type = "CONTACT_INFO"
    if pb.WhichOneof("user_list") != "crm_based_user_list":
        found.append(
            AdsError(
                "user_list_error",
                "CONCRETE_TYPE_REQUIRED",
                "This sandbox serves CRM-based (Customer Match) lists: set crm_based_user_list.",
                where,
            )
        )
    else:
        key_type = _KEY_TYPES.get(pb.crm_based_user_list.upload_key_type, "")
        if not key_type:
            found.append(
                AdsError(
                    "field_error",
                    "REQUIRED",
                    "The required field was not present.",
                    [*where, ("crm_based_user_list", None), ("upload_key_type", None)],
                )
            )
    status = "CLOSED" if pb.membership_status == 3 else "OPEN"
    record = UserListRecord(0, customer, name, pb.description, days, key_type or "CONTACT_INFO", status)
    return record, found


HANDLERS: dict[str, tuple[Any, type, Any, bool]] = {
    "MutateUserLists": (mutate, uls.MutateUserListsRequest, uls.MutateUserListsResponse, True),
}
SERVICE = "google.ads.googleads.v26.services.UserListService"
