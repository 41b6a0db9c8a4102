"""Composition root of the ingestor: raw topic in, store writer, outbox to ``customers.changed``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from services.ingestor.adapters.parse_worker import chosen
from services.ingestor.adapters.rates_store import load_stored_rates
from services.ingestor.domain import Rates
from services.ingestor.handlers import make_handler
from shared.bus import topics
from shared.bus.consumer import Handler
from shared.bus.producer import Publisher
from shared.config import Settings
from shared.runtime import ConsumerService, run_consumer_service, tune_gc_for_batches
from shared.store.db import Store

RATES_REFRESH_SECONDS = 60.0


def cached_rates(store: Store, base: str, ttl: float = RATES_REFRESH_SECONDS) -> Callable[[], Rates]:
    """Rates read from the store at most every ``ttl`` seconds (``rates load`` takes effect live)."""
    state: dict[str, object] = {"at": -ttl, "rates": Rates.only(base)}

    def get() -> Rates:
        now = time.monotonic()
        if now - float(state["at"]) >= ttl:  # type: ignore[arg-type]
            state["rates"], state["at"] = load_stored_rates(store, base), now
        return state["rates"]  # type: ignore[return-value]

    return get


def service(settings: Settings) -> ConsumerService:
    """The ingestor's consumer declaration."""

    def handler(store: Store, publisher: Publisher) -> Handler:
        return make_handler(
            store,
            publisher,
            cached_rates(store, settings.base_currency),
            settings.var_dir / "exports",
            default_shop=settings.shop,
            worker=chosen(os.environ),
        )

    return ConsumerService(
        name="ingestor",
        topics=(topics.ORDERS_RAW,),
        heartbeat_forward_to=topics.CUSTOMERS_CHANGED,
        make_handler=handler,
        # Each batch costs a fixed round of statements (tombstones, stored customers, the outbox,
        # the commit); 1,000 raw records (~6 MB of Shopify orders) halves that share of an import.
        batch_size=1000,
    )


def serve(settings: Settings) -> None:
    """Run the ingestor in the foreground until SIGTERM."""
    tune_gc_for_batches()
    run_consumer_service(service(settings), settings)
