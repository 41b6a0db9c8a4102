"""A real ingestor (ConsumerRunner + handler) on its own broker, fed through the real API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import func, select

from services.api.app import create_app
from services.ingestor.bootstrap import cached_rates
from services.ingestor.handlers import make_handler
from shared.bus.broker import EmbeddedBroker, ensure_topics
from shared.bus.consumer import ConsumerRunner, RunnerConfig
from shared.bus.envelope import decode
from shared.bus.producer import Publisher
from shared.bus.topics import ALL_TOPICS, CUSTOMERS_CHANGED, ORDERS_RAW
from shared.config import Settings
from shared.messages import CustomersChanged
from shared.store.db import Store
from shared.store.messages import SqlDeadLetterSink, SqlSeenMessages
from shared.store.models import DeadLetterRecord, ProcessedMessage
from tests.integration.bus.harness import SESSION_TIMEOUT_MS

SECRET = "ingest-secret"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "shopify"


def sample(name: str) -> dict[str, Any]:
    """A Shopify sample body as a dict (to tweak)."""
    data: dict[str, Any] = json.loads((FIXTURES / name).read_bytes())
    return data


@dataclass
class Pipeline:
    """The API test client and the ingestor consuming what it publishes."""

    store: Store
    broker: EmbeddedBroker
    client: Any
    publisher: Publisher
    runner: ConsumerRunner
    exports: Path

    def post(
        self,
        topic: str,
        body: bytes | dict[str, Any],
        webhook_id: str | None = None,
        shop: str = "demo.myshopify.com",
    ) -> int:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        signature = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
        response = self.client.post(
            f"/webhooks/shopify/{topic}",
            data=raw,
            headers={
                "X-Shopify-Hmac-Sha256": signature,
                "X-Shopify-Topic": topic,
                "X-Shopify-Webhook-Id": webhook_id or uuid.uuid4().hex,
                "X-Shopify-Shop-Domain": shop,
            },
        )
        return int(response.status_code)

    def handled(self) -> int:
        """Raw messages the ingestor has fully handled (stored or dead-lettered)."""
        with self.store.session() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(ProcessedMessage)
                    .where(ProcessedMessage.consumer == "ingestor")
                )
                or 0
            )

    def dead_letters(self) -> list[DeadLetterRecord]:
        with self.store.session() as s:
            return list(s.scalars(select(DeadLetterRecord).order_by(DeadLetterRecord.offset)))

    def changed(self) -> list[dict[str, Any]]:
        consumer = KafkaConsumer(
            bootstrap_servers=self.broker.bootstrap, enable_auto_commit=False, consumer_timeout_ms=1000
        )
        parts = [
            TopicPartition(CUSTOMERS_CHANGED, p)
            for p in consumer.partitions_for_topic(CUSTOMERS_CHANGED) or ()
        ]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        out: list[dict[str, Any]] = []
        for record in consumer:
            envelope = decode(record.value)
            if envelope.type == CustomersChanged.TYPE:  # a batch's changes, one entry per customer
                out += [
                    {"customer_key": k, "cause": c, "erased": False} for k, c in envelope.payload["changes"]
                ]
            else:
                out.append(envelope.payload)
        consumer.close()
        return out


@contextmanager
def pipeline(store: Store, tmp_path: Path, *, default_shop: str = "default") -> Iterator[Pipeline]:
    """Start a private broker, the API app and the ingestor runner; stop them afterwards
    (``default_shop``: the ingestor's ``SHOP`` setting)."""
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, ALL_TOPICS, partitions=2)
        settings = Settings(
            database_url=store.url,
            kafka_bootstrap=broker.bootstrap,
            shopify_webhook_secret=SECRET,
            shop="demo.myshopify.com",
        )
        publisher = Publisher(broker.bootstrap)
        app = create_app(settings, store=store, publisher=publisher)
        handler = make_handler(
            store, publisher, cached_rates(store, "USD"), tmp_path / "exports", default_shop=default_shop
        )
        runner = ConsumerRunner(
            RunnerConfig(
                name="ingestor",
                topics=(ORDERS_RAW,),
                bootstrap=broker.bootstrap,
                poll_timeout_ms=100,
                session_timeout_ms=SESSION_TIMEOUT_MS,
                backoff_base=0.05,  # retries of a failing batch: the same steps, shorter waits
                backoff_cap=1.0,
            ),
            handler,
            publisher=publisher,
            seen=SqlSeenMessages(store),
            dead_letters=SqlDeadLetterSink(store),
        )
        thread = threading.Thread(target=runner.run, daemon=True)
        thread.start()
        try:
            yield Pipeline(store, broker, app.test_client(), publisher, runner, tmp_path / "exports")
        finally:
            runner.stop.set()
            thread.join(15)
            app.extensions["audiencesync"].close()  # the webhook outbox relay, then the producer
