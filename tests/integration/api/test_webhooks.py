"""Webhook edge through real HTTP handling, the real broker and each database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import select

from services.api.app import create_app
from services.api.auth import create_token, revoke_token
from shared.bus.broker import EmbeddedBroker, ensure_topics, free_port
from shared.bus.envelope import decode
from shared.bus.producer import Publisher
from shared.bus.topics import ORDERS_RAW
from shared.config import Settings
from shared.messages import MAX_RAW_BODY_BYTES, RawReceived
from shared.store.db import Store
from shared.store.models import OutboxMessage, WebhookReceipt
from shared.store.outbox import pending_count, relay_outbox

pytestmark = pytest.mark.integration

SECRET = "whsec-test-1"
SAMPLE = (
    Path(__file__).resolve().parents[2] / "fixtures" / "shopify" / "orders_create.shopify_docs_2026-07.json"
)


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def client(store: Store, broker: EmbeddedBroker):  # type: ignore[no-untyped-def]
    ensure_topics(broker.bootstrap, [ORDERS_RAW], partitions=4)
    settings = Settings(
        database_url=store.url,
        kafka_bootstrap=broker.bootstrap,
        shopify_webhook_secret=SECRET,
        helpdesk_webhook_secret=SECRET,
    )
    publisher = Publisher(broker.bootstrap)
    app = create_app(settings, store=store, publisher=publisher)
    yield app.test_client()
    app.extensions["audiencesync"].close()  # the outbox relay, then the producer


def _raw_messages(bootstrap: str, webhook_id: str) -> list[RawReceived]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=1000)
    parts = [TopicPartition(ORDERS_RAW, p) for p in consumer.partitions_for_topic(ORDERS_RAW) or ()]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    found = [RawReceived.from_envelope(decode(r.value)) for r in consumer]
    consumer.close()
    return [m for m in found if m.webhook_id == webhook_id]


def _post(client, body: bytes, webhook_id: str, topic: str = "orders/create", signature: str | None = None):  # type: ignore[no-untyped-def]
    return client.post(
        f"/webhooks/shopify/{topic}",
        data=body,
        headers={
            "X-Shopify-Hmac-Sha256": signature if signature is not None else sign(body),
            "X-Shopify-Topic": topic,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Shop-Domain": "demo.myshopify.com",
            "Content-Type": "application/json",
        },
    )


def test_signed_webhook_is_published_raw_once_even_when_shopify_retries(
    client, broker: EmbeddedBroker
) -> None:  # type: ignore[no-untyped-def]
    body = SAMPLE.read_bytes()
    webhook_id = uuid.uuid4().hex
    first = _post(client, body, webhook_id)
    retry = _post(client, body, webhook_id)
    assert first.status_code == 200 and first.json["status"] == "accepted"
    assert retry.status_code == 200 and retry.json["status"] == "duplicate"
    [message] = _raw_messages(broker.bootstrap, webhook_id)
    assert message.body == body  # byte for byte: the ingestor verifies nothing was re-encoded
    assert (message.source, message.topic, message.shop) == ("shopify", "orders/create", "demo.myshopify.com")


@pytest.mark.parametrize(
    "signature", ["", "bm90IHRoZSByaWdodCBtYWM=", sign(b"other body"), sign(b"{}", "wrong")]
)
def test_bad_signatures_are_refused_and_nothing_is_published(
    client, broker: EmbeddedBroker, signature: str
) -> None:  # type: ignore[no-untyped-def]
    webhook_id = uuid.uuid4().hex
    response = _post(client, b"{}", webhook_id, signature=signature)
    assert response.status_code == 401
    assert response.json["code"] == "invalid_signature"
    assert _raw_messages(broker.bootstrap, webhook_id) == []


def test_malformed_bodies_with_valid_signatures_reach_the_raw_topic_for_dead_lettering(
    client, broker: EmbeddedBroker
) -> None:  # type: ignore[no-untyped-def]
    webhook_id = uuid.uuid4().hex
    body = b'{"id": 1, "email": "\xff\xfe'
    assert _post(client, body, webhook_id).status_code == 200
    assert [m.body for m in _raw_messages(broker.bootstrap, webhook_id)] == [body]


def test_unknown_topic_and_topic_mismatch_are_refused(client) -> None:  # type: ignore[no-untyped-def]
    assert _post(client, b"{}", "w1", topic="products/create").status_code == 404
    response = client.post(
        "/webhooks/shopify/orders/create",
        data=b"{}",
        headers={"X-Shopify-Hmac-Sha256": sign(b"{}"), "X-Shopify-Topic": "orders/paid"},
    )
    assert response.status_code == 400 and response.json["code"] == "topic_mismatch"


def test_every_route_but_health_needs_a_valid_token(client, store: Store) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 401
    name = f"ops-{uuid.uuid4().hex[:6]}"
    token = create_token(store, name, ["*"])
    assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/metrics", headers={"Authorization": "Bearer as_wrong"}).status_code == 401
    assert revoke_token(store, name)
    assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_shopify_documented_hmac_vector() -> None:
    from services.api.webhooks import verify_shopify_hmac

    body = b'{"id":820982911946154508,"email":"jon@example.com","total_price":"404.95","currency":"USD"}'
    assert verify_shopify_hmac("hush", body, "WlnfNIV1vZxtNujRH4ejEjcDBDNu4FO3kBv/FlO51vk=")
    assert not verify_shopify_hmac("hush", body + b" ", "WlnfNIV1vZxtNujRH4ejEjcDBDNu4FO3kBv/FlO51vk=")


def _receipts_and_outbox(store: Store) -> tuple[int, int]:
    with store.session() as s:
        return (
            len(s.scalars(select(WebhookReceipt)).all()),
            len(s.scalars(select(OutboxMessage).where(OutboxMessage.topic == ORDERS_RAW)).all()),
        )


def test_refusals_before_acceptance_leave_no_receipt_and_publish_nothing(
    client, store: Store, broker: EmbeddedBroker
) -> None:  # type: ignore[no-untyped-def]
    """Over the body cap: 413. A shop domain or webhook id that is not one: 400. No receipt either way,
    so Shopify's retry of a fixed delivery is not answered 'duplicate'."""
    big = b'{"id": 1, "note": "' + b"x" * MAX_RAW_BODY_BYTES + b'"}'
    too_large = _post(client, big, "too-large")
    assert too_large.status_code == 413
    too_long = "a" * 60 + "." + "b" * 60 + "." + "c" * 60 + "." + "d" * 40 + ".myshopify.com"  # 239
    bad = ("\xa0", "", "not a domain", "shop", "shop.myshopify.com/../x", "ex\u00e4mple.com", too_long)
    for header in bad:
        response = client.post(
            "/webhooks/shopify/orders/create",
            data=b"{}",
            headers={"X-Shopify-Hmac-Sha256": sign(b"{}"), "X-Shopify-Shop-Domain": header},
        )
        assert response.status_code == 400, header
        assert response.json["code"] == "invalid_shop_domain"
    long_id = _post(client, b"{}", "w" * 129)
    assert long_id.status_code == 400 and long_id.json["code"] == "invalid_webhook_id"
    assert _receipts_and_outbox(store) == (0, 0)
    assert _raw_messages(broker.bootstrap, "too-large") == []


def test_an_accepted_webhook_is_durable_before_the_broker_has_it(store: Store) -> None:
    """With the broker unreachable the delivery is still acknowledged: it is committed in the
    database with its receipt, and a relay publishes it once a broker answers."""
    settings = Settings(
        database_url=store.url,
        kafka_bootstrap=f"127.0.0.1:{free_port()}",  # nothing listens there
        shopify_webhook_secret=SECRET,
    )
    app = create_app(settings, store=store)
    try:
        response = _post(app.test_client(), SAMPLE.read_bytes(), "while-broker-down")
        assert response.status_code == 200 and response.json["status"] == "accepted"
        assert _receipts_and_outbox(store) == (1, 1)
        assert pending_count(store) == 1
    finally:
        app.extensions["audiencesync"].close()
    with EmbeddedBroker() as later:
        ensure_topics(later.bootstrap, [ORDERS_RAW], partitions=1)
        with Publisher(later.bootstrap) as publisher:
            assert relay_outbox(store, publisher) == 1
        [message] = _raw_messages(later.bootstrap, "while-broker-down")
    assert message.body == SAMPLE.read_bytes()
