"""Google Ads API v26 surface (filled in by the Ads path)."""

from __future__ import annotations

from typing import Any

import grpc

from services.sandbox_google.service import GoogleSandbox


def generic_handlers(sandbox: GoogleSandbox, dispatch: Any) -> list[grpc.GenericRpcHandler]:
    """The Ads API's gRPC services."""
    return []
