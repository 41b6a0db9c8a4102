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

from services.sandbox_google import datamanager_api, datamanager_lists, googleads_api
from services.sandbox_google.calls import CallInfo
from services.sandbox_google.config import GoogleSandboxConfig
from services.sandbox_google.errors import RpcAbortError, new_request_id, to_grpc_status
from services.sandbox_google.guards import datamanager_guard
from services.sandbox_google.runtime import CallRecord
from services.sandbox_google.service import GoogleSandbox
from services.sandbox_google.tls import write_certificate
from shared.log import get_logger

log = get_logger(__name__)

MAX_MESSAGE = 64 * 1024 * 1024  # a 100,000-identifier Ads request is ~7.2 MB (AD_APIS.md 2.0)

Guard = Callable[[GoogleSandbox, CallInfo, str, bool], None]


def _serializer(response_type: Any) -> Callable[[Any], bytes]:
    if response_type is None:  # google.protobuf.Empty and other plain protobuf messages
        return lambda message: bytes(message.SerializeToString())
    return response_type.serialize  # type: ignore[no-any-return]


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


def _handlers(sandbox: GoogleSandbox) -> list[grpc.GenericRpcHandler]:
    """One generic handler per gRPC service, built from each module's HANDLERS table."""
    services: list[grpc.GenericRpcHandler] = []
    for module, guard, ads in (
        (datamanager_api, datamanager_guard, False),
        (datamanager_lists, datamanager_guard, False),
    ):
        table = {
            name: grpc.unary_unary_rpc_method_handler(
                _dispatch(sandbox, module.SERVICE, name, fn, guard, mutate, ads),
                request_deserializer=request_type.deserialize,
                response_serializer=_serializer(response_type),
            )
            for name, (fn, request_type, response_type, mutate) in module.HANDLERS.items()
        }
        services.append(grpc.method_handlers_generic_handler(module.SERVICE, table))
    services.extend(googleads_api.generic_handlers(sandbox, _dispatch))
    return services


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
        key_pem, cert_pem, self.ca_pem_path = write_certificate(cert_dir)  # before listening
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
        from services.sandbox_google.admin import AdminServer

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
    def calls(self) -> Any:
        """Every RPC received (``calls["IngestionService/IngestAudienceMembers"]``)."""
        return self.sandbox.calls

    @property
    def faults(self) -> Any:
        """Transient errors, latency, quota windows, expired tokens, concurrent modification."""
        return self.sandbox.faults

    @property
    def clock(self) -> Any:
        """The sandbox clock; ``advance(seconds)`` passes processing times, quota days, life spans."""
        return self.sandbox.clock

    @property
    def state(self) -> Any:
        """Read access to lists, members, requests and jobs (``services.sandbox_google.state``)."""
        from services.sandbox_google.state import SandboxState

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
