"""The flask application factory: routes are registered here, handlers live in their modules."""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Any

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider

from services.api.adapters.inbox import SqlWebhookInbox
from services.api.cache import TtlCache
from services.api.errors import ApiError, problem, problem_response
from services.api.ratelimit import RateLimiter
from shared.bus.producer import Publisher
from shared.bus.topics import CUSTOMERS_CHANGED, ORDERS_RAW
from shared.config import Settings
from shared.messages import MAX_RAW_BODY_BYTES
from shared.store.db import Store
from shared.store.outbox import OutboxRelay

ANSWER_SECONDS = 1.0  # how stale a polled answer (sync status, audience health) may be


class Resources:
    """The app's adapters, created on first use (no I/O when the app is built)."""

    def __init__(
        self, settings: Settings, *, store: Store | None = None, publisher: Publisher | None = None
    ) -> None:
        self.settings = settings
        self._store = store
        self._publisher = publisher
        self._lock = threading.Lock()
        self._relay: OutboxRelay | None = None
        self.limiter = RateLimiter(settings.api_rate_per_second, settings.api_rate_burst)
        self.answers = TtlCache(ANSWER_SECONDS)  # polled reads; cleared by this process's writes

    @property
    def store(self) -> Store:
        """The database."""
        with self._lock:
            if self._store is None:
                self._store = Store(self.settings.database_url)
            return self._store

    @property
    def publisher(self) -> Publisher:
        """The Kafka producer (``acks=all``)."""
        with self._lock:
            if self._publisher is None:
                if not self.settings.kafka_bootstrap:
                    raise ApiError(503, "broker_not_configured", "KAFKA_BOOTSTRAP_SERVERS is not set")
                self._publisher = Publisher(self.settings.kafka_bootstrap, client_id="api")
            return self._publisher

    @property
    def inbox(self) -> SqlWebhookInbox:
        """Durable acceptance of webhooks (receipt and message in one transaction)."""
        return SqlWebhookInbox(self.store)

    @property
    def relay(self) -> OutboxRelay:
        """The thread that publishes accepted deliveries to the broker (started by the server, or
        on first use); it connects on its own thread, so a broker that is down delays nothing."""
        store = self.store  # takes the lock itself
        with self._lock:
            if self._relay is None:
                self._relay = OutboxRelay(
                    store, lambda: self.publisher, topics=(ORDERS_RAW, CUSTOMERS_CHANGED)
                ).start()
            return self._relay

    def close(self) -> None:
        """Stop the relay after a last pass, then close the producer (at server shutdown)."""
        with self._lock:
            relay, publisher = self._relay, self._publisher
            self._relay = None
        if relay is not None:
            relay.stop()
        if publisher is not None:
            publisher.close()


class IsoJson(DefaultJSONProvider):
    """JSON with ISO 8601 times everywhere (flask's default writes RFC 822 dates in nested dicts)."""

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime | date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def create_app(
    settings: Settings, *, store: Store | None = None, publisher: Publisher | None = None
) -> Flask:
    """Build the app for ``settings``; adapters may be injected (tests, the embedded stack)."""
    from services.api.adapters.quality import UploadRules
    from services.api.auth import authenticate
    from services.api.dashboard import install_dashboard
    from services.api.openapi import build_api
    from services.api.views import BLUEPRINTS
    from services.api.webhooks import bp as webhooks

    app = Flask("audiencesync", static_folder=None)  # no static route: it served the working directory
    app.json = IsoJson(app)
    app.config["SETTINGS"] = settings
    # The syncers' consent policies, for the identifier-quality report: read (and refused) at start.
    app.config["UPLOAD_RULES"] = UploadRules.from_env()
    app.config["MAX_CONTENT_LENGTH"] = MAX_RAW_BODY_BYTES  # 413 above it, before any receipt
    app.extensions["audiencesync"] = Resources(settings, store=store, publisher=publisher)
    api = build_api(app)  # problem details for every HTTPException (404, 405, 413, 422...)
    app.register_blueprint(webhooks)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.before_request(authenticate)
    install_dashboard(app, settings)  # the session-cookie pages at / (services/api/dashboard)

    @app.after_request
    def _forget_answers(response: Response) -> Response:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            app.extensions["audiencesync"].answers.clear()  # our own change shows at once
        return response

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return problem_response(problem(exc.status, exc.code, exc.message, **exc.extra), exc.headers)

    return app
