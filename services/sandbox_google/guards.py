"""Checks every Data Manager call passes before its handler: OAuth token, quota window, quotas.

Order as Google's front end applies it: authentication first (an unauthenticated call is not
billed to a project), then the project's quotas.
"""

from __future__ import annotations

from services.sandbox_google.calls import CallInfo
from services.sandbox_google.domain.quotas import datamanager_buckets
from services.sandbox_google.errors import RpcAbortError, quota_exhausted, unauthenticated
from services.sandbox_google.service import GoogleSandbox


def access_token(sandbox: GoogleSandbox, call: CallInfo) -> None:
    """UNAUTHENTICATED for a missing, unknown or expired bearer token (both APIs' front end)."""
    header = call.header("authorization")
    scheme, _, token = header.partition(" ")
    if not header or scheme.lower() != "bearer" or not token:
        raise unauthenticated(call.method, "CREDENTIALS_MISSING")
    if sandbox.faults.is_expired(token):
        raise unauthenticated(call.method, "ACCESS_TOKEN_EXPIRED")
    if token not in sandbox.config.access_tokens:
        raise unauthenticated(call.method, "ACCESS_TOKEN_TYPE_UNSUPPORTED")


def datamanager_guard(sandbox: GoogleSandbox, call: CallInfo, service: str, mutate: bool) -> None:
    """Token, then an injected quota window, then the per-project quotas (RESOURCE_EXHAUSTED)."""
    access_token(sandbox, call)
    now = sandbox.clock.now()
    buckets = datamanager_buckets(sandbox.config.quotas, service, mutate)
    window_end = sandbox.faults.quota_window("datamanager", now)
    if window_end is not None:
        # Injected: behave as if the minute quota were used up until the window ends.
        raise quota_exhausted(buckets[0].name, service, max(1, int(window_end - now)))
    full = sandbox.quotas.take(buckets, now)
    if full is not None:
        raise quota_exhausted(full.name, service, sandbox.quotas.seconds_to_reset(full, now))


__all__ = ["RpcAbortError", "access_token", "datamanager_guard"]
