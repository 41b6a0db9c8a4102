"""Composition root of the syncer-meta service: its topics, its handler, its adapters, wired once."""

from __future__ import annotations

from shared.bus import topics
from shared.bus.consumer import Handler, unhandled
from shared.bus.producer import Publisher
from shared.config import Settings
from shared.runtime import ConsumerService, run_consumer_service
from shared.store.db import Store


def _handler(store: Store, publisher: Publisher) -> Handler:
    return unhandled


SERVICE = ConsumerService(
    name="syncer-meta",
    topics=(topics.LABELS_CHANGED,),
    heartbeat_forward_to=None,
    make_handler=_handler,
)


def serve(settings: Settings) -> None:
    """Run the syncer-meta in the foreground until SIGTERM."""
    run_consumer_service(SERVICE, settings)
