"""One customer across events arriving out of order: older facts fill, never overwrite (both databases)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.identity import customer_key
from shared.messages import RawReceived
from shared.store.db import Store
from shared.store.models import Customer, SupportTicket
from tests.integration.bus.harness import wait_for
from tests.integration.ingestor.harness import Pipeline, pipeline
from tests.integration.ingestor.test_ingest import SHOP, _order

pytestmark = pytest.mark.integration
EMAIL = "ana@example.de"


def _ticket(p: Pipeline, created_at: str) -> None:
    """A helpdesk ticket carrying only an email, published as the helpdesk edge does."""
    body = json.dumps({"ticket_id": "T-1", "customer_email": EMAIL, "created_at": created_at}).encode()
    raw = RawReceived(
        source="helpdesk", topic="tickets/create", shop=SHOP, body=body, received_at=datetime.now(UTC)
    )
    p.publisher.publish_many("orders.raw", [raw.to_envelope(f"{SHOP}/ticket-{uuid.uuid4().hex}")])
    p.publisher.flush()


def _placed(order_id: int, updated_at: str, *, country: str, consent: str) -> dict[str, object]:
    body = _order(order_id, updated_at, "40.00", email=EMAIL)
    body["created_at"] = updated_at
    body["shipping_address"] = {**body["shipping_address"], "country_code": country}  # type: ignore[dict-item]
    body["customer"] = {**body["customer"], "email_marketing_consent": {"state": consent}}  # type: ignore[dict-item]
    return body


def _customer(store: Store) -> Customer:
    key = customer_key(shop=SHOP, email=EMAIL, shop_customer_id=None)
    with store.session() as s:
        customer = s.get(Customer, key)
        assert customer is not None
        s.expunge(customer)
        return customer


def test_ticket_then_that_customers_older_order_fills_the_shop_customer_id(
    store: Store, tmp_path: Path
) -> None:
    with pipeline(store, tmp_path) as p:
        _ticket(p, "2026-03-01T09:00:00Z")
        wait_for(lambda: p.handled() == 1)
        assert _customer(store).shop_customer_id is None  # the ticket knows only the email
        assert (
            p.post("orders/create", _placed(61, "2026-01-10T10:00:00Z", country="DE", consent="subscribed"))
            == 200
        )
        wait_for(lambda: p.handled() == 2)
        letters = p.dead_letters()
    customer = _customer(store)
    assert letters == []
    assert customer.shop_customer_id == "777"  # filled by the older order
    assert (customer.country, customer.accepts_email_marketing) == ("DE", True)
    assert customer.first_seen_at.isoformat().startswith("2026-01-10T10:00")  # the order shows them earlier
    assert customer.updated_at.isoformat().startswith("2026-03-01T09:00")  # the version stays the newest
    with store.session() as s:
        assert [t.customer_key for t in s.query(SupportTicket)] == [customer.customer_key]


def test_an_older_order_never_overwrites_what_a_newer_one_said(store: Store, tmp_path: Path) -> None:
    with pipeline(store, tmp_path) as p:
        assert (
            p.post("orders/create", _placed(71, "2026-02-01T00:00:00Z", country="DE", consent="subscribed"))
            == 200
        )
        wait_for(lambda: p.handled() == 1)
        assert (
            p.post("orders/create", _placed(72, "2026-01-01T00:00:00Z", country="FR", consent="unsubscribed"))
            == 200
        )
        wait_for(lambda: p.handled() == 2)
        older_late = _customer(store)
        assert (
            p.post("orders/create", _placed(73, "2026-03-01T00:00:00Z", country="FR", consent="unsubscribed"))
            == 200
        )
        wait_for(lambda: p.handled() == 3)
    assert (older_late.country, older_late.accepts_email_marketing) == ("DE", True)
    newest = _customer(store)
    assert (newest.country, newest.accepts_email_marketing) == ("FR", False)  # a newer order does update
