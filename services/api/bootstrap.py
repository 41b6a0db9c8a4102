"""Composition root of the api service: the flask app behind waitress, stopped by SIGTERM."""

from __future__ import annotations

import signal
from typing import Any

from shared.config import Settings
from shared.log import get_logger

log = get_logger(__name__)


class _Stop(Exception):  # noqa: N818 - control flow out of waitress's loop
    """Raised from the signal handler to leave the server loop."""


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int | None = None) -> None:
    """Serve the api in the foreground until SIGTERM/SIGINT."""
    from waitress import create_server

    from services.api.app import create_app

    server: Any = create_server(
        create_app(settings),
        host=host,
        port=port or settings.api_port,
        threads=8,
        clear_untrusted_proxy_headers=True,
    )

    def _handler(signum: int, _frame: Any) -> None:
        raise _Stop

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    log.info("service.started", service="api", url=f"http://{host}:{server.effective_port}")
    try:
        server.run()
    except _Stop:
        pass
    finally:
        server.close()
        log.info("service.stopped", service="api")
