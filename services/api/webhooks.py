"""Webhook edge: verify, accept durably, answer at once; publishing happens after the reply.

Shopify signs the raw body with the app's secret (``X-Shopify-Hmac-Sha256``, base64 HMAC-SHA256)
and retries any non-2xx or slow answer (for 48 hours). A delivery is acknowledged only once it
is a committed row in the database together with its receipt (``adapters/inbox.py``), so it
survives a SIGKILL of any process and of the broker; the outbox relay publishes it to
``orders.raw``. A retry carries the same ``X-Shopify-Webhook-Id`` and is answered "duplicate"
without storing it twice. Headers outside the signature (the shop domain) are validated here,
and a body over ``MAX_RAW_BODY_BYTES`` gets 413 before anything is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, request

from services.api.errors import ApiError
from shared.messages import RawReceived
from shared.shops import InvalidShopDomain, normalize_shop_domain

bp = Blueprint("webhooks", __name__)

SHOPIFY_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "refunds/create",
        "customers/create",
        "customers/update",
        "checkouts/create",
        "checkouts/update",
        "customers/redact",
        "customers/data_request",
        "shop/redact",
    }
)
HELPDESK_TOPICS = frozenset({"tickets/create", "tickets/update"})
_ID = re.compile(rb'"id"\s*:\s*"?(\d{1,20})')
_ORDER_ID = re.compile(rb'"order_id"\s*:\s*"?(\d{1,20})')
_WEBHOOK_ID = re.compile(r"[\x21-\x7e]{1,128}")


def shopify_signature(secret: str, body: bytes) -> str:
    """Shopify's signature of a raw body: base64 HMAC-SHA256 (what senders put in the header)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_shopify_hmac(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of Shopify's base64 HMAC-SHA256 over the raw body."""
    if not header:
        return False
    return hmac.compare_digest(shopify_signature(secret, body).encode(), header.strip().encode())


def _resource_key(shop: str, body: bytes, fallback: str, topic: str = "") -> str:
    """Kafka key: the shop and the resource id (so updates of one order stay in order).

    A refund is keyed by its order, as an import keys it: on the order's partition it is
    handled after the ``orders/create`` it refunds. Keyed by its own id it could reach another
    ingestor first and be dead-lettered as ``refund_without_order``.
    """
    head = body[:4096]
    match = (_ORDER_ID.search(head) if topic == "refunds/create" else None) or _ID.search(head)
    return f"{shop}/{match.group(1).decode() if match else fallback}"


def _accept(source: str, topic: str, shop: str, webhook_id: str | None) -> dict[str, Any]:
    resources = current_app.extensions["audiencesync"]
    if not current_app.config["SETTINGS"].kafka_bootstrap:
        raise ApiError(503, "broker_not_configured", "KAFKA_BOOTSTRAP_SERVERS is not set")
    body = request.get_data(cache=False)
    raw = RawReceived(
        source=source, topic=topic, shop=shop, body=body, received_at=datetime.now(UTC), webhook_id=webhook_id
    )
    fallback = webhook_id or hashlib.sha256(body).hexdigest()[:16]
    envelope = raw.to_envelope(_resource_key(shop, body, fallback, topic))
    if not resources.inbox.accept(envelope, webhook_id=webhook_id, topic=topic):
        return {"status": "duplicate", "webhook_id": webhook_id}
    resources.relay.wake()
    return {"status": "accepted", "webhook_id": webhook_id}


def webhook_id(header: str | None) -> str | None:
    """The delivery id retries repeat (a UUID from Shopify): printable ASCII, at most 128 characters.

    Unsigned like the shop domain, and the key of the receipts table: anything else is a 400, not
    a database error.
    """
    if header is None:
        return None
    if not _WEBHOOK_ID.fullmatch(header):
        raise ApiError(
            400, "invalid_webhook_id", "the webhook id header is not 1-128 printable ASCII characters"
        )
    return header


def shop_domain(header: str | None, default: str) -> str:
    """The shop a delivery belongs to: the header's domain (``shared.shops``), or ``default`` without one.

    ``X-Shopify-Shop-Domain`` is not covered by the signature, so it is checked here: a value that
    is not a host name (empty once stripped, spaces, control characters) is refused with 400.
    """
    if header is None:
        return default
    try:
        return normalize_shop_domain(header)
    except InvalidShopDomain:
        raise ApiError(400, "invalid_shop_domain", "X-Shopify-Shop-Domain is not a shop domain") from None


def _require_signature(secret: str | None, header_name: str) -> None:
    if not secret:
        raise ApiError(503, "webhook_secret_missing", "the webhook secret is not configured")
    if not verify_shopify_hmac(secret, request.get_data(cache=True), request.headers.get(header_name)):
        raise ApiError(401, "invalid_signature", f"{header_name} does not match the body")


@bp.post("/webhooks/shopify/<path:topic>")
def shopify(topic: str) -> tuple[dict[str, Any], int]:
    """Receive one Shopify webhook (orders, refunds, customers, checkouts, privacy)."""
    if topic not in SHOPIFY_TOPICS:
        raise ApiError(404, "unknown_topic", f"unsupported Shopify topic {topic!r}")
    settings = current_app.config["SETTINGS"]
    _require_signature(settings.shopify_webhook_secret, "X-Shopify-Hmac-Sha256")
    header_topic = request.headers.get("X-Shopify-Topic")
    if header_topic and header_topic != topic:
        raise ApiError(400, "topic_mismatch", "X-Shopify-Topic differs from the URL topic")
    shop = shop_domain(request.headers.get("X-Shopify-Shop-Domain"), settings.shop)
    return _accept("shopify", topic, shop, webhook_id(request.headers.get("X-Shopify-Webhook-Id"))), 200


@bp.post("/webhooks/helpdesk/<path:topic>")
def helpdesk(topic: str) -> tuple[dict[str, Any], int]:
    """Receive a helpdesk ticket event (customer email, ticket id, created_at), signed the same way."""
    if topic not in HELPDESK_TOPICS:
        raise ApiError(404, "unknown_topic", f"unsupported helpdesk topic {topic!r}")
    settings = current_app.config["SETTINGS"]
    _require_signature(settings.helpdesk_webhook_secret, "X-Signature-Sha256")
    return _accept("helpdesk", topic, settings.shop, webhook_id(request.headers.get("X-Webhook-Id"))), 200
