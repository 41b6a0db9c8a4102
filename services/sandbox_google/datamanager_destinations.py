"""Data Manager destinations at the edge: read from the request, checked, echoed in statuses.

Account access (``domain.accounts``) is checked here for both Data Manager services: the login
account is the destination's ``login_account`` (IngestionService) or the ``login-account``
metadata (UserListService).
"""

from __future__ import annotations

from typing import Any

import grpc
from google.ads import datamanager_v1 as dm

from services.sandbox_google.domain.accounts import may_access
from services.sandbox_google.domain.destinations import DestinationIn, Violation, check_destinations
from services.sandbox_google.errors import dm_error, dm_invalid
from services.sandbox_google.service import GoogleSandbox


def checked_destinations(sandbox: GoogleSandbox, destinations: Any) -> list[dict[str, Any]]:
    """Check destinations (shape, account access, list ids); returns them as plain dicts."""
    plain = [
        DestinationIn(
            reference=d.reference,
            operating_type=_account_type(d.operating_account),
            operating_id=d.operating_account.account_id.replace("-", ""),
            login_type=_account_type(d.login_account) if d.HasField("login_account") else "",
            login_id=d.login_account.account_id.replace("-", "") if d.HasField("login_account") else "",
            list_id=d.product_destination_id,
        )
        for d in destinations
    ]
    violations = check_destinations(plain)
    if violations:
        raise dm_invalid(violations)
    for d in plain:
        check_access(sandbox, d.operating_id, d.login_id)
    bad = []
    for i, d in enumerate(plain):
        found = sandbox.store.user_list(int(d.list_id))
        if found is None or found.customer_id != d.operating_id:
            bad.append(
                Violation(
                    f"destinations[{i}].product_destination_id",
                    "INVALID_USER_LIST_ID",
                    "User list is not valid.",
                )
            )
        elif found.upload_key_type != "CONTACT_INFO":
            bad.append(
                Violation(
                    f"destinations[{i}].product_destination_id",
                    "INVALID_USER_LIST_TYPE",
                    "Type of the user list is not applicable for this request.",
                )
            )
    if bad:
        raise dm_invalid(bad)
    return [
        {
            "reference": d.reference,
            "operating_id": d.operating_id,
            "login_id": d.login_id,
            "login_type": d.login_type,
            "list_id": d.list_id,
        }
        for d in plain
    ]


def _account_type(account: Any) -> str:
    """``account_type``, or the deprecated ``product`` field when only that is set (same numbers
    for the shared values: GOOGLE_ADS is 1 in both)."""
    value = account.account_type or account.product
    try:
        return str(dm.ProductAccount.AccountType(value).name)
    except ValueError:
        return "ACCOUNT_TYPE_UNSPECIFIED"


def check_access(sandbox: GoogleSandbox, operating_id: str, login_id: str) -> None:
    """PERMISSION_DENIED unless the caller may act on the operating account through the login
    account (``domain.accounts``)."""
    login = login_id or operating_id
    if not may_access(sandbox.config.customers, sandbox.config.login_customers, operating_id, login_id):
        raise dm_error(
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED",
            "The caller does not have permission",
            {"operating_account": operating_id, "login_account": login},
        )


def destination_message(d: dict[str, Any]) -> Any:
    """A stored destination as the Destination message a request status echoes."""
    dest = dm.Destination(
        reference=d["reference"],
        operating_account=dm.ProductAccount(account_id=d["operating_id"], account_type="GOOGLE_ADS"),
        product_destination_id=d["list_id"],
    )
    if d.get("login_id"):
        dest.login_account = dm.ProductAccount(
            account_id=d["login_id"], account_type=d.get("login_type") or "GOOGLE_ADS"
        )
    return dest
