"""Serving both Google APIs on one gRPC TLS port, plus the loopback admin endpoint.

Each RPC goes through ``_dispatch``: injected latency and UNAVAILABLE first, then the API's own
authentication and quota checks, then due asynchronous work is applied and the handler runs in
one store transaction. Requests are parsed with the official packages' message types
(``deserialize``) and answered with them (``serialize``).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2

from services.sandbox_google import (
    datamanager_api,
    datamanager_lists,
    googleads_jobs,
    googleads_lists,
    googleads_search,
    googleads_userdata,
)
from services.sandbox_google.admin import AdminServer
from services.sandbox_google.calls import CallInfo
from services.sandbox_google.config import GoogleSandboxConfig
from services.sandbox_google.errors import RpcAbortError, new_request_id, to_grpc_status
from services.sandbox_google.guards import datamanager_guard
from services.sandbox_google.runtime import CallLog, CallRecord, Faults, SandboxClock
from services.sandbox_google.service import GoogleSandbox
from services.sandbox_google.state import SandboxState
from services.sandbox_google.tls import write_certificate
from shared.log import get_logger

log = get_logger(__name__)

MAX_MESSAGE = 64 * 1024 * 1024  # a 100,000-identifier Ads request is ~7.2 MB (AD_APIS.md 2.0)

Guard = Callable[[GoogleSandbox, CallInfo, str, bool], None]


def _serializer(response_type: Any) -> Callable[[Any], bytes]:
    if response_type is None:  # google.protobuf.Empty, google.longrunning.Operation: plain protobuf
        return lambda message: bytes(message.SerializeToString())
    return response_type.serialize  # type: ignore[no-any-return]


def _deserializer(request_type: Any) -> Callable[[bytes], Any]:
    if hasattr(request_type, "deserialize"):  # proto-plus: the official packages' message types
        return request_type.deserialize  # type: ignore[no-any-return]
    return request_type.FromString  # type: ignore[no-any-return]


def _dispatch(
    sandbox: GoogleSandbox, service: str, name: str, handler: Any, guard: Guard, mutate: bool, ads: bool
) -> Callable[[Any, grpc.ServicerContext], Any]:
    method = f"/{service}/{name}"
    short = service.rsplit(".", 1)[-1]

    def behaviour(request: Any, context: grpc.ServicerContext) -> Any:
        metadata = {k.lower(): v for k, v in context.invocation_metadata() if isinstance(v, str)}
        call = CallInfo(method, metadata, new_request_id())
        try:
            _faults(sandbox)
            guard(sandbox, call, short, mutate)
            sandbox.settle()
            with sandbox.store.transaction():
                response = handler(sandbox, request, call)
        except RpcAbortError as abort:
            sandbox.calls.record(CallRecord(method, abort.code.name))
            log.info("sandbox_google.refused", method=method, code=abort.code.name, reason=abort.reason)
            if ads:
                abort.trailing = (*abort.trailing, ("request-id", call.request_id))
            else:  # the standard model's RequestInfo, which Google asks callers to log
                abort.details = (*abort.details, error_details_pb2.RequestInfo(request_id=call.request_id))
            context.abort_with_status(to_grpc_status(abort))
            raise  # abort_with_status raises; this line is never reached
        sandbox.calls.record(CallRecord(method, "OK"))
        if ads:
            context.set_trailing_metadata((("request-id", call.request_id),))
        return response

    return behaviour


def _faults(sandbox: GoogleSandbox) -> None:
    """Latency, then a transient UNAVAILABLE, before any check (an outage precedes the API)."""
    if sandbox.faults.latency_ms:
        time.sleep(sandbox.faults.latency_ms / 1000)
    if sandbox.faults.draw_transient():
        raise RpcAbortError(
            grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable.", reason="UNAVAILABLE"
        )


def _no_guard(sandbox: GoogleSandbox, call: CallInfo, service: str, mutate: bool) -> None:
    """Ads API handlers run their checks themselves: they need the request's customer id."""


# (service, handlers table, guard, Ads API error model, server streaming)
_SURFACES: tuple[tuple[str, dict[str, Any], Guard, bool, bool], ...] = (
    (datamanager_api.SERVICE, datamanager_api.HANDLERS, datamanager_guard, False, False),
    (datamanager_lists.SERVICE, datamanager_lists.HANDLERS, datamanager_guard, False, False),
    (googleads_lists.SERVICE, googleads_lists.HANDLERS, _no_guard, True, False),
    (googleads_jobs.SERVICE, googleads_jobs.HANDLERS, _no_guard, True, False),
    (googleads_jobs.OPERATIONS_SERVICE, googleads_jobs.OPERATIONS_HANDLERS, _no_guard, True, False),
    (googleads_search.SERVICE, googleads_search.HANDLERS, _no_guard, True, False),
    (googleads_userdata.SERVICE, googleads_userdata.HANDLERS, _no_guard, True, False),
    (googleads_search.SERVICE, googleads_search.STREAM_HANDLERS, _no_guard, True, True),
)


def _handlers(sandbox: GoogleSandbox) -> list[grpc.GenericRpcHandler]:
    """One generic handler per gRPC service, built from each module's handler table."""
    tables: dict[str, dict[str, grpc.RpcMethodHandler]] = {}
    for service, handlers, guard, ads, stream in _SURFACES:
        make = grpc.unary_stream_rpc_method_handler if stream else grpc.unary_unary_rpc_method_handler
        for name, (fn, request_type, response_type, mutate) in handlers.items():
            behaviour = _dispatch(sandbox, service, name, fn, guard, mutate, ads)
            tables.setdefault(service, {})[name] = make(
                _streamed(behaviour) if stream else behaviour,
                request_deserializer=_deserializer(request_type),
                response_serializer=_serializer(response_type),
            )
    return [grpc.method_handlers_generic_handler(service, table) for service, table in tables.items()]


def _streamed(
    behaviour: Callable[[Any, grpc.ServicerContext], Any],
) -> Callable[[Any, grpc.ServicerContext], Any]:
    """A server-streaming method: the handler returns every message; checks fail before the first."""

    def stream(request: Any, context: grpc.ServicerContext) -> Any:
        return iter(behaviour(request, context))

    return stream


class RunningSandbox:
    """A sandbox serving gRPC over TLS: ``port``, ``ca_pem_path``, ``admin_url``, state, faults."""

    def __init__(self, sandbox: GoogleSandbox) -> None:
        self.sandbox = sandbox
        config = sandbox.config
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        cert_dir = config.cert_dir
        if cert_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="google-sandbox-")
            cert_dir = Path(self._tmp.name)
        key_pem, cert_pem, self.ca_pem_path = write_certificate(
            cert_dir, config.tls_identity, config.tls_names
        )  # before listening
        self.ca_pem = cert_pem
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="sandbox-google"),
            handlers=_handlers(sandbox),
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE),
                ("grpc.max_send_message_length", MAX_MESSAGE),
                ("grpc.so_reuseport", 0),
            ],
        )
        credentials = grpc.ssl_server_credentials([(key_pem, cert_pem)])
        self.host = config.host
        self.port: int = self._server.add_secure_port(f"{config.host}:{config.port}", credentials)
        if self.port == 0:
            raise OSError(f"cannot listen on {config.host}:{config.port}")
        self._admin = AdminServer(sandbox, config.admin_port)
        self.admin_url = self._admin.url

    @property
    def endpoint(self) -> str:
        """``localhost:PORT``: the host name matches the certificate (give it to the clients)."""
        return f"localhost:{self.port}"

    @property
    def config(self) -> GoogleSandboxConfig:
        """The validated configuration."""
        return self.sandbox.config

    @property
    def calls(self) -> CallLog:
        """Every RPC received (``calls["IngestionService/IngestAudienceMembers"]``)."""
        return self.sandbox.calls

    @property
    def faults(self) -> Faults:
        """Transient errors, latency, quota windows, expired tokens, concurrent modification."""
        return self.sandbox.faults

    @property
    def clock(self) -> SandboxClock:
        """The sandbox clock; ``advance(seconds)`` passes processing times, quota days, life spans."""
        return self.sandbox.clock

    @property
    def state(self) -> SandboxState:
        """Read access to lists, members (with consent), sizes and jobs."""
        return SandboxState(self.sandbox)

    def start(self) -> RunningSandbox:
        """Serve gRPC and the admin endpoint in background threads."""
        self._server.start()
        self._admin.start()
        log.info("sandbox_google.started", port=self.port, admin=self.admin_url, ca=str(self.ca_pem_path))
        return self

    def stop(self) -> None:
        """Stop serving (requests in flight get 2 s), close the admin endpoint and the state."""
        self._server.stop(grace=2).wait(5)
        self._admin.stop()
        self.sandbox.close()
        if self._tmp is not None:
            self._tmp.cleanup()
        log.info("sandbox_google.stopped", port=self.port)


def start_sandbox(config: GoogleSandboxConfig | None = None, **overrides: Any) -> RunningSandbox:
    """Build, bind and start a sandbox; the caller stops it (``running.stop()``)."""
    base = config or GoogleSandboxConfig()
    return RunningSandbox(GoogleSandbox(replace(base, **overrides))).start()


@contextmanager
def run_google_sandbox(
    config: GoogleSandboxConfig | None = None, **overrides: Any
) -> Iterator[RunningSandbox]:
    """``with run_google_sandbox(cfg, match_rate=0.5) as sb:`` — started, then stopped on exit."""
    running = start_sandbox(config, **overrides)
    try:
        yield running
    finally:
        running.stop()
