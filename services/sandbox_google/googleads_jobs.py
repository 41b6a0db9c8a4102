"""Google Ads API OfflineUserDataJobService and google.longrunning.Operations (AD_APIS.md 2.2-2.4).

A job is created PENDING with its Customer Match metadata and consent, receives operations
(partial failure optional) while PENDING, and on Run becomes RUNNING; ``jobs.settle_jobs`` finishes
it (SUCCESS / FAILED) once ``--job-seconds`` have passed. Run returns a long-running operation
that ``GetOperation`` reports done with ``OfflineUserDataJobMetadata.match_rate_range``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import grpc
from google.ads.googleads.v26.resources.types import offline_user_data_job as job_types
from google.ads.googleads.v26.services.types import offline_user_data_job_service as svc
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2

from services.sandbox_google import googleads_guard
from services.sandbox_google.calls import CallInfo
from services.sandbox_google.domain.googleads import JOB, AdsError, AdsIdentifier, OperationIn, check_add
from services.sandbox_google.errors import RpcAbortError
from services.sandbox_google.googleads_errors import concurrent_modification, invalid, partial_failure
from services.sandbox_google.googleads_lists import parse_list_name
from services.sandbox_google.service import JOB_ID_START, GoogleSandbox
from services.sandbox_google.store import JobRow

_JOB = re.compile(r"^customers/([0-9]{10})/offlineUserDataJobs/([0-9]+)$")
CONSENT_NAMES = {0: "UNSPECIFIED", 1: "UNKNOWN", 2: "GRANTED", 3: "DENIED"}
Job = job_types.OfflineUserDataJob


def _customer_of(resource_name: str) -> str:
    match = _JOB.match(resource_name)
    return match.group(1) if match else "x"


def _job(sandbox: GoogleSandbox, resource_name: str, customer: str) -> JobRow:
    match = _JOB.match(resource_name)
    job = sandbox.store.job(int(match.group(2))) if match else None
    if job is None or job.customer_id != customer:
        raise invalid(
            [
                AdsError(
                    "request_error",
                    "RESOURCE_NOT_FOUND",
                    "Resource was not found.",
                    [("resource_name", None)],
                    trigger=resource_name,
                )
            ]
        )
    return job


def create(sandbox: GoogleSandbox, request: svc.CreateOfflineUserDataJobRequest, call: CallInfo) -> Any:
    """CreateOfflineUserDataJob: a CUSTOMER_MATCH_USER_LIST job on a CRM list, consent not DENIED."""
    customer = googleads_guard.check(sandbox, call, request.customer_id, operations=1, customer_match=True)
    pb = Job.pb(request.job)
    where: list[tuple[str, int | None]] = [("job", None)]
    if pb.type_ != 4:
        name = "NOT_ON_ALLOWLIST_FOR_STORE_SALES_DIRECT" if pb.type_ in (2, 3) else "INVALID_USER_LIST_TYPE"
        raise invalid(
            [
                AdsError(
                    JOB, name, "This sandbox serves CUSTOMER_MATCH_USER_LIST jobs.", [*where, ("type", None)]
                )
            ]
        )
    meta = pb.customer_match_user_list_metadata
    parsed = parse_list_name(meta.user_list)
    record = sandbox.store.user_list(parsed[1]) if parsed and parsed[0] == customer else None
    if record is None:
        raise invalid(
            [
                AdsError(
                    JOB,
                    "INVALID_USER_LIST_ID",
                    "The user list ID provided for the job is invalid.",
                    [*where, ("customer_match_user_list_metadata", None), ("user_list", None)],
                )
            ]
        )
    consent = (
        CONSENT_NAMES.get(meta.consent.ad_user_data, "UNSPECIFIED"),
        CONSENT_NAMES.get(meta.consent.ad_personalization, "UNSPECIFIED"),
    )
    if "DENIED" in consent:
        raise invalid(
            [
                AdsError(
                    JOB,
                    "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS",
                    "The customer has not accepted the customer data terms in the conversion settings page.",
                    [*where, ("customer_match_user_list_metadata", None), ("consent", None)],
                )
            ]
        )
    external = pb.external_id if pb.HasField("external_id") else None
    if external is not None and sandbox.store.external_id_used(customer, external):
        raise invalid(
            [
                AdsError(
                    JOB,
                    "EXTERNAL_UPDATE_ID_ALREADY_EXISTS",
                    "The external update ID already exists.",
                    [*where, ("external_id", None)],
                )
            ]
        )
    if request.validate_only:
        return svc.CreateOfflineUserDataJobResponse()
    job_id = sandbox.store.next_id("job", JOB_ID_START)
    sandbox.store.add_job(
        JobRow(
            job_id,
            customer,
            record.id,
            "PENDING",
            consent[0],
            consent[1],
            external,
            None,
            False,
            sandbox.clock.now(),
            None,
            None,
            "",
            None,
        )
    )
    return svc.CreateOfflineUserDataJobResponse(
        resource_name=f"customers/{customer}/offlineUserDataJobs/{job_id}"
    )


def add(sandbox: GoogleSandbox, request: svc.AddOfflineUserDataJobOperationsRequest, call: CallInfo) -> Any:
    """AddOfflineUserDataJobOperations: checks, partial failure, staged until the job runs."""
    # One Add request counts as one operation whatever its size [forum].
    customer = googleads_guard.check(
        sandbox, call, _customer_of(request.resource_name), operations=1, customer_match=True
    )
    job = _job(sandbox, request.resource_name, customer)
    if job.status != "PENDING":
        raise invalid(
            [
                AdsError(
                    JOB,
                    "JOB_ALREADY_STARTED",
                    "The job has already been started (run); no operations can be added.",
                )
            ]
        )
    if sandbox.faults.take_concurrent_modification():
        raise concurrent_modification()
    record = sandbox.store.user_list(job.list_id)
    pb = svc.AddOfflineUserDataJobOperationsRequest.pb(request)
    ops = [operation_in(op) for op in pb.operations]
    checked = check_add(
        ops,
        job.op_kind,
        sandbox.store.job_has_ops(job.id) or job.remove_all,
        record.upload_key_type if record else "CONTACT_INFO",
    )
    if checked.request_errors:
        raise invalid(checked.request_errors)
    if checked.operation_errors and not pb.enable_partial_failure:
        raise invalid(checked.operation_errors)
    response = svc.AddOfflineUserDataJobOperationsResponse()
    if checked.operation_errors:
        response.partial_failure_error = partial_failure(checked.operation_errors)
    if pb.validate_only:
        return response
    staged = [
        (s.kind, s.key, json.dumps([i.text() for i in s.identifiers]))
        for s in checked.staged
        if s.kind != "remove_all"
    ]
    kinds = {s.kind for s in checked.staged if s.kind != "remove_all"}
    remove_all = job.remove_all or any(s.kind == "remove_all" for s in checked.staged)
    sandbox.store.add_job_ops(job.id, staged)
    sandbox.store.save_job(
        JobRow(
            **{**job.__dict__, "op_kind": job.op_kind or next(iter(kinds), None), "remove_all": remove_all}
        )
    )
    return response


def operation_in(pb: Any) -> OperationIn:
    """An OfflineUserDataJobOperation (or UserDataOperation) reduced to plain data for the rules."""
    which = pb.WhichOneof("operation") or ""
    if which == "remove_all":
        return OperationIn("remove_all")
    data = getattr(pb, which) if which else None
    if data is None:
        return OperationIn("create")
    idents = []
    for ident in data.user_identifiers:
        kind = ident.WhichOneof("identifier") or ""
        if kind == "hashed_email":
            idents.append(AdsIdentifier("email", ident.hashed_email))
        elif kind == "hashed_phone_number":
            idents.append(AdsIdentifier("phone", ident.hashed_phone_number))
        elif kind == "address_info":
            a = ident.address_info
            idents.append(
                AdsIdentifier(
                    "address", parts=(a.hashed_first_name, a.hashed_last_name, a.country_code, a.postal_code)
                )
            )
        elif kind in ("mobile_id", "third_party_user_id"):
            idents.append(
                AdsIdentifier("mobile" if kind == "mobile_id" else "third_party", getattr(ident, kind))
            )
        else:
            idents.append(AdsIdentifier(""))
    return OperationIn(which, tuple(idents), has_consent=data.HasField("consent"))


def run(sandbox: GoogleSandbox, request: svc.RunOfflineUserDataJobRequest, call: CallInfo) -> Any:
    """RunOfflineUserDataJob: PENDING -> RUNNING; one job per list at a time."""
    customer = googleads_guard.check(
        sandbox, call, _customer_of(request.resource_name), operations=1, customer_match=True
    )
    job = _job(sandbox, request.resource_name, customer)
    if job.status != "PENDING":
        raise invalid([AdsError(JOB, "JOB_ALREADY_STARTED", "The job has already been started (run).")])
    busy = any(j.list_id == job.list_id and j.status == "RUNNING" for j in sandbox.store.jobs(customer))
    if busy or sandbox.faults.take_concurrent_modification():
        raise concurrent_modification()
    name = f"customers/{customer}/operations/{job.id}"
    if request.validate_only:
        return operations_pb2.Operation(name=name, done=True)
    now = sandbox.clock.now()
    updated = JobRow(
        **{
            **job.__dict__,
            "status": "RUNNING",
            "run_at": now,
            "done_at": now + sandbox.config.job_seconds,
            "operation": name,
        }
    )
    sandbox.store.save_job(updated)
    return operation_message(updated)


def operation_message(job: JobRow) -> operations_pb2.Operation:
    """The long-running operation of a run job: done once the job has finished."""
    meta = job_types.OfflineUserDataJobMetadata(
        match_rate_range=f"MATCH_RANGE_{job.match_range}" if job.match_range else "UNSPECIFIED"
    )
    packed = any_pb2.Any()
    packed.Pack(job_types.OfflineUserDataJobMetadata.pb(meta))
    op = operations_pb2.Operation(
        name=job.operation or "", metadata=packed, done=job.status in ("SUCCESS", "FAILED")
    )
    if op.done:
        result = any_pb2.Any()
        result.Pack(empty_pb2.Empty())
        op.response.CopyFrom(result)
    return op


def get_operation(sandbox: GoogleSandbox, request: operations_pb2.GetOperationRequest, call: CallInfo) -> Any:
    """google.longrunning.Operations/GetOperation for run jobs (not billed)."""
    googleads_guard.check_operation_access(sandbox, call)
    job = sandbox.store.job_by_operation(request.name)
    if job is None:
        raise RpcAbortError(
            grpc.StatusCode.NOT_FOUND, f"Operation {request.name} not found.", reason="NOT_FOUND"
        )
    return operation_message(job)


HANDLERS: dict[str, tuple[Any, Any, Any, bool]] = {
    "CreateOfflineUserDataJob": (
        create,
        svc.CreateOfflineUserDataJobRequest,
        svc.CreateOfflineUserDataJobResponse,
        True,
    ),
    "AddOfflineUserDataJobOperations": (
        add,
        svc.AddOfflineUserDataJobOperationsRequest,
        svc.AddOfflineUserDataJobOperationsResponse,
        True,
    ),
    "RunOfflineUserDataJob": (run, svc.RunOfflineUserDataJobRequest, None, True),
}
SERVICE = "google.ads.googleads.v26.services.OfflineUserDataJobService"
OPERATIONS_HANDLERS: dict[str, tuple[Any, Any, Any, bool]] = {
    "GetOperation": (get_operation, operations_pb2.GetOperationRequest, None, False),
}
OPERATIONS_SERVICE = "google.longrunning.Operations"
