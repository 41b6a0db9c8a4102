"""The Google Ads API error model: ``GoogleAdsFailure`` in trailing metadata (AD_APIS.md 2.0, 2.6).

An error is ``(error_code field, enum name, message, location)``, e.g.
``("offline_user_data_job_error", "INVALID_SHA256_FORMAT", "...", [("operations", 2), ("create", None),
("user_identifiers", 0), ("hashed_email", None)])``. ``ads_abort`` fails the whole call; ``partial_failure``
builds the ``google.rpc.Status`` a partial-failure response carries.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.ads.googleads.v26.common.types.value import Value
from google.ads.googleads.v26.errors.types import errors as ads_errors
from google.protobuf import any_pb2, duration_pb2
from google.rpc import status_pb2

from services.sandbox_google.domain.googleads import AdsError, Location
from services.sandbox_google.errors import ADS_FAILURE_KEY, RpcAbortError


def _error(e: AdsError, quota: tuple[str, str, int] | None = None) -> ads_errors.GoogleAdsError:
    enum = ads_errors.ErrorCode.meta.fields[e.field].enum
    built = ads_errors.GoogleAdsError(
        error_code=ads_errors.ErrorCode(**{e.field: getattr(enum, e.name)}),
        message=e.message,
    )
    if e.trigger:
        built.trigger = Value(string_value=e.trigger)
    if e.location:
        built.location = ads_errors.ErrorLocation(
            field_path_elements=[
                ads_errors.ErrorLocation.FieldPathElement(
                    field_name=name, **({} if index is None else {"index": index})
                )
                for name, index in e.location
            ]
        )
    if quota is not None:
        scope, rate_name, retry = quota
        built.details = ads_errors.ErrorDetails(
            quota_error_details=ads_errors.QuotaErrorDetails(
                rate_scope=scope, rate_name=rate_name, retry_delay=duration_pb2.Duration(seconds=retry)
            )
        )
    return built


def failure(
    errs: Sequence[AdsError], request_id: str = "", quota: tuple[str, str, int] | None = None
) -> ads_errors.GoogleAdsFailure:
    """A GoogleAdsFailure holding these errors."""
    return ads_errors.GoogleAdsFailure(errors=[_error(e, quota) for e in errs], request_id=request_id)


def ads_abort(
    code: grpc.StatusCode, errs: Sequence[AdsError], quota: tuple[str, str, int] | None = None
) -> RpcAbortError:
    """Fail the call: the status, the failure in ``googleadsfailure-bin`` and in the status details."""
    built = failure(errs, quota=quota)
    pb = ads_errors.GoogleAdsFailure.pb(built)
    message = (
        errs[0].message if len(errs) == 1 else f"Multiple errors in 'details'. First error: {errs[0].message}"
    )
    return RpcAbortError(
        code, message, (pb,), trailing=((ADS_FAILURE_KEY, pb.SerializeToString()),), reason=errs[0].name
    )


def path_text(location: Location) -> str:
    """``operations[2].create.user_identifiers[0].hashed_email``."""
    return ".".join(name if index is None else f"{name}[{index}]" for name, index in location)


def partial_failure(errs: Sequence[AdsError]) -> status_pb2.Status:
    """``partial_failure_error``: INVALID_ARGUMENT with the failure packed as an Any."""
    first = errs[0]
    where = f", at {path_text(first.location)}" if first.location else ""
    message = (
        f"{first.message}{where}"
        if len(errs) == 1
        else f"Multiple errors in 'details'. First error: {first.message}{where}"
    )
    packed = any_pb2.Any()
    packed.Pack(ads_errors.GoogleAdsFailure.pb(failure(errs)))
    return status_pb2.Status(
        code=grpc.StatusCode.INVALID_ARGUMENT.value[0], message=message, details=[packed]
    )


# The errors every service can answer.


def permission_denied_customer() -> RpcAbortError:
    """USER_PERMISSION_DENIED, with Google's hint about login-customer-id."""
    return ads_abort(
        grpc.StatusCode.PERMISSION_DENIED,
        [
            AdsError(
                "authorization_error",
                "USER_PERMISSION_DENIED",
                "User doesn't have permission to access customer. Note: If you're accessing a client "
                "customer, the manager's customer id must be set in the 'login-customer-id' header. See "
                "https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid",
            )
        ],
    )


def concurrent_modification() -> RpcAbortError:
    """ABORTED / CONCURRENT_MODIFICATION: another change to the same list is in progress."""
    return ads_abort(
        grpc.StatusCode.ABORTED,
        [
            AdsError(
                "database_error",
                "CONCURRENT_MODIFICATION",
                "Multiple requests were attempting to modify the same resource at once. Retry the request.",
            )
        ],
    )


def invalid(errs: Sequence[AdsError]) -> RpcAbortError:
    """INVALID_ARGUMENT with these errors."""
    return ads_abort(grpc.StatusCode.INVALID_ARGUMENT, errs)
