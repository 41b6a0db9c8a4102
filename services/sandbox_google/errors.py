"""How the sandbox fails an RPC, in each API's own error model.

Data Manager (standard Google error model [doc: data-manager/api/devguides/concepts/understand-errors]):
a gRPC status with ``google.rpc.Status`` details in ``grpc-status-details-bin``: an ``ErrorInfo``
(reason = an ErrorReason name, domain ``datamanager.googleapis.com``) and, for bad arguments, a
``BadRequest`` with one field violation each.

Google Ads API (AD_APIS.md 2.0): a gRPC status plus trailing metadata
``google.ads.googleads.v26.errors.googleadsfailure-bin`` (a serialized ``GoogleAdsFailure``) and
``request-id``; the same failure also travels as an Any in ``grpc-status-details-bin``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from services.sandbox_google.domain.destinations import Violation

DM_DOMAIN = "datamanager.googleapis.com"
ADS_FAILURE_KEY = "google.ads.googleads.v26.errors.googleadsfailure-bin"
STATUS_DETAILS_KEY = "grpc-status-details-bin"
INVALID_ARGUMENT_MESSAGE = "There was a problem with the request."


@dataclass
class RpcAbortError(Exception):
    """Fail the current RPC with this status, message, details and extra trailing metadata."""

    code: grpc.StatusCode
    message: str
    details: Sequence[Any] = ()  # protobuf messages packed into google.rpc.Status.details
    trailing: tuple[tuple[str, str | bytes], ...] = ()
    reason: str = ""  # a short name for the call log and metrics

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


@dataclass(frozen=True)
class _Status(grpc.Status):  # type: ignore[misc]
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...] = field(default=())


def to_grpc_status(abort: RpcAbortError) -> grpc.Status:
    """The ``grpc.Status`` to give ``context.abort_with_status``."""
    packed = []
    for detail in abort.details:
        any_msg = any_pb2.Any()
        any_msg.Pack(detail)
        packed.append(any_msg)
    status = status_pb2.Status(code=abort.code.value[0], message=abort.message, details=packed)
    trailing = ((STATUS_DETAILS_KEY, status.SerializeToString()), *abort.trailing)
    return _Status(abort.code, abort.message, trailing)


# --- Data Manager -----------------------------------------------------------------------------


def dm_error(
    code: grpc.StatusCode, reason: str, message: str, metadata: dict[str, str] | None = None
) -> RpcAbortError:
    """A Data Manager error with one ErrorInfo."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DM_DOMAIN, metadata=metadata or {})
    return RpcAbortError(code, message, (info,), reason=reason)


def dm_invalid(violations: Sequence[Violation]) -> RpcAbortError:
    """INVALID_ARGUMENT with an ErrorInfo (the first reason) and every field violation."""
    first = violations[0]
    info = error_details_pb2.ErrorInfo(reason=first.reason, domain=DM_DOMAIN)
    bad = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(
                field=v.field, description=v.description, reason=v.reason
            )
            for v in violations
        ]
    )
    return RpcAbortError(
        grpc.StatusCode.INVALID_ARGUMENT, INVALID_ARGUMENT_MESSAGE, (info, bad), reason=first.reason
    )


def unauthenticated(method: str, reason: str) -> RpcAbortError:
    """Google's front-end answer to a missing, unknown or expired OAuth token (both APIs)."""
    service, _, name = method.strip("/").partition("/")
    info = error_details_pb2.ErrorInfo(
        reason=reason,
        domain="googleapis.com",
        metadata={"service": _host_of(service), "method": f"{service}.{name}"},
    )
    message = (
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
        "or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project."
    )
    return RpcAbortError(grpc.StatusCode.UNAUTHENTICATED, message, (info,), reason=reason)


def _host_of(service: str) -> str:
    return "datamanager.googleapis.com" if ".datamanager." in service else "googleads.googleapis.com"


def quota_exhausted(limit: str, service: str, retry_seconds: int) -> RpcAbortError:
    """RESOURCE_EXHAUSTED naming the limit in ``ErrorInfo.metadata.quota_limit`` (Data Manager)."""
    info = error_details_pb2.ErrorInfo(
        reason="RATE_LIMIT_EXCEEDED",
        domain="googleapis.com",
        metadata={
            "quota_limit": limit,
            "quota_metric": f"{DM_DOMAIN}/{service.lower()}_requests",
            "service": DM_DOMAIN,
            "consumer": "projects/sandbox",
        },
    )
    retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=retry_seconds))
    message = (
        f"Quota exceeded for quota metric '{service} requests' and limit '{limit}' of service '{DM_DOMAIN}'."
    )
    return RpcAbortError(
        grpc.StatusCode.RESOURCE_EXHAUSTED, message, (info, retry), reason="RESOURCE_EXHAUSTED"
    )


def new_request_id() -> str:
    """A request id in Google's style (opaque, unique)."""
    return uuid.uuid4().hex[:22]
