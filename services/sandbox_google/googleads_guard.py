"""Checks every Google Ads API call passes before its handler (AD_APIS.md 2.0, 2.6, 2.7, 2.8).

Order: OAuth token, developer token, customer id format, login-customer-id, account access,
Customer Match allowlist (OfflineUserDataJobService only), then quota. Each answers with a
GoogleAdsFailure in trailing metadata, as the Ads API does.
"""

from __future__ import annotations

import re

import grpc

from services.sandbox_google.calls import CallInfo
from services.sandbox_google.domain.accounts import may_access
from services.sandbox_google.domain.googleads import AdsError
from services.sandbox_google.googleads_errors import ads_abort, invalid, permission_denied_customer
from services.sandbox_google.service import GoogleSandbox

_CID = re.compile(r"^[0-9]{10}$")
DAY = 86_400


def check(
    sandbox: GoogleSandbox, call: CallInfo, customer_id: str, *, operations: int, customer_match: bool
) -> str:
    """Run every check for a call on ``customer_id``; count ``operations`` against the daily quota.

    Returns the customer id without dashes.
    """
    _oauth(sandbox, call)
    token = call.header("developer-token")
    if not token:
        raise invalid(
            [
                AdsError(
                    "request_error",
                    "DEVELOPER_TOKEN_PARAMETER_MISSING",
                    "Developer token parameter is missing in the request header.",
                )
            ]
        )
    if token not in sandbox.config.all_developer_tokens:
        raise ads_abort(
            grpc.StatusCode.UNAUTHENTICATED,
            [
                AdsError(
                    "authentication_error", "DEVELOPER_TOKEN_INVALID", "The developer token is not valid."
                )
            ],
        )
    customer = customer_id.replace("-", "")
    if not _CID.match(customer):
        raise invalid(
            [
                AdsError(
                    "request_error",
                    "INVALID_CUSTOMER_ID",
                    "The customer ID is not valid.",
                    trigger=customer_id,
                )
            ]
        )
    _access(sandbox, call, customer)
    if customer_match and token not in sandbox.config.allowlisted_developer_tokens:
        # Since 2026-04-01 only developer tokens that uploaded between Oct 2025 and Mar 2026 may use
        # Customer Match through the Ads API; the rest must move to the Data Manager API.
        raise ads_abort(
            grpc.StatusCode.PERMISSION_DENIED,
            [
                AdsError(
                    "not_allowlisted_error",
                    "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE",
                    "Customer is not allowlisted for accessing this feature.",
                )
            ],
        )
    _quota(sandbox, token, operations)
    return customer


def _oauth(sandbox: GoogleSandbox, call: CallInfo) -> None:
    header = call.header("authorization")
    scheme, _, token = header.partition(" ")
    if not header or scheme.lower() != "bearer" or not token:
        raise ads_abort(
            grpc.StatusCode.UNAUTHENTICATED,
            [
                AdsError(
                    "authentication_error",
                    "OAUTH_TOKEN_HEADER_INVALID",
                    "The OAuth token in the header is not valid.",
                )
            ],
        )
    if sandbox.faults.is_expired(token):
        raise ads_abort(
            grpc.StatusCode.UNAUTHENTICATED,
            [
                AdsError(
                    "authentication_error", "OAUTH_TOKEN_EXPIRED", "OAuth token in the header has expired."
                )
            ],
        )
    if token not in sandbox.config.access_tokens:
        raise ads_abort(
            grpc.StatusCode.UNAUTHENTICATED,
            [
                AdsError(
                    "authentication_error", "OAUTH_TOKEN_INVALID", "OAuth token in the header is not valid."
                )
            ],
        )


def _access(sandbox: GoogleSandbox, call: CallInfo, customer: str) -> None:
    login = call.header("login-customer-id").replace("-", "")
    if login and not _CID.match(login):
        raise invalid(
            [
                AdsError(
                    "header_error",
                    "INVALID_LOGIN_CUSTOMER_ID",
                    "The login customer ID could not be validated.",
                )
            ]
        )
    if not may_access(sandbox.config.customers, sandbox.config.login_customers, customer, login):
        raise permission_denied_customer()


def _quota(sandbox: GoogleSandbox, token: str, operations: int) -> None:
    now = sandbox.clock.now()
    window_end = sandbox.faults.quota_window("googleads", now)
    if window_end is not None:
        retry = max(1, int(window_end - now))
        raise ads_abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            [
                AdsError(
                    "quota_error",
                    "RESOURCE_TEMPORARILY_EXHAUSTED",
                    f"Too many requests. Retry in {retry} seconds.",
                )
            ],
            quota=("DEVELOPER", "Number of operations per developer token", retry),
        )
    from services.sandbox_google.domain.quotas import Bucket

    bucket = Bucket(f"ads-operations:{token}", sandbox.config.quotas.ads_operations_per_day, DAY)
    if sandbox.quotas.take((bucket,), now, cost=max(1, operations)) is not None:
        retry = sandbox.quotas.seconds_to_reset(bucket, now)
        raise ads_abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            [AdsError("quota_error", "RESOURCE_EXHAUSTED", f"Too many requests. Retry in {retry} seconds.")],
            quota=("DEVELOPER", "Number of operations for basic access", retry),
        )


def check_operation_access(sandbox: GoogleSandbox, call: CallInfo) -> None:
    """google.longrunning.Operations: OAuth and developer token only (not billed)."""
    _oauth(sandbox, call)
    if call.header("developer-token") not in sandbox.config.all_developer_tokens:
        raise ads_abort(
            grpc.StatusCode.UNAUTHENTICATED,
            [
                AdsError(
                    "authentication_error", "DEVELOPER_TOKEN_INVALID", "The developer token is not valid."
                )
            ],
        )
