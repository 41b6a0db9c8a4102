"""Composition root of the scorer service: its topics, its handler, its adapters, wired once."""

from __future__ import annotations

from datetime import UTC, datetime

from services.scorer.handlers import make_handler
from shared.bus import topics
from shared.bus.consumer import Handler
from shared.bus.producer import Publisher
from shared.config import Settings
from shared.definitions import load_definitions
from shared.runtime import ConsumerService, run_consumer_service
from shared.store.db import Store


def utc_now() -> datetime:
    """The scorer's clock: incremental rescores are as of the moment they run."""
    return datetime.now(UTC)


def service(settings: Settings) -> ConsumerService:
    """The scorer's consumer declaration (the YAML definitions are validated here, at start)."""
    scoring = load_definitions(settings.config_file).scoring

    def handler(store: Store, publisher: Publisher) -> Handler:
        return make_handler(store, publisher, scoring, utc_now)

    return ConsumerService(
        name="scorer",
        topics=(topics.CUSTOMERS_CHANGED,),
        heartbeat_forward_to=topics.LABELS_CHANGED,
        make_handler=handler,
    )


def serve(settings: Settings) -> None:
    """Run the scorer in the foreground until SIGTERM."""
    run_consumer_service(service(settings), settings)
