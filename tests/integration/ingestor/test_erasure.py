"""Erasure reaches a customer however the shop was named, and says truthfully when nothing matched."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from shared.bus.topics import ORDERS_RAW
from shared.messages import RawReceived
from shared.store.db import Store
from shared.store.models import AuditEntry, Customer, Erasure, Order
from tests.integration.bus.harness import wait_for
from tests.integration.ingestor.harness import pipeline
from tests.integration.ingestor.test_ingest import _order

pytestmark = pytest.mark.integration
DOMAIN = "demo.myshopify.com"


def _redact(email: str, shop_domain: str = DOMAIN) -> dict[str, object]:
    return {
        "shop_id": 1,
        "shop_domain": shop_domain,
        "customer": {"id": 4242, "email": email, "phone": None},
        "orders_to_redact": [],
    }


def test_redact_by_shop_domain_erases_a_customer_imported_under_the_default_shop(
    store: Store, tmp_path: Path
) -> None:
    """A bulk import with no ``--shop`` stores under ``default``; Shopify's redact names the domain."""
    with pipeline(store, tmp_path) as p:
        imported = RawReceived(
            source="import",
            topic="import/shopify",
            shop="default",
            body=json.dumps(
                _order(61, "2026-02-01T00:00:00Z", "80.00", email="Gone.Buyer@example.com")
            ).encode(),
            received_at=datetime.now(UTC),
        )
        p.publisher.publish(ORDERS_RAW, imported.to_envelope("default/61"))
        p.publisher.flush()
        wait_for(lambda: p.handled() == 1)
        with store.session() as s:
            (key,) = s.scalars(select(Customer.customer_key)).all()
        # Shopify's body may spell the domain differently from the header the edge lower-cased.
        assert p.post("customers/redact", _redact("gone.buyer@example.com", "Demo.MyShopify.com")) == 200
        wait_for(lambda: p.handled() == 2)
        changed = p.changed()
    with store.session() as s:
        assert s.scalars(select(Customer)).all() == []
        assert s.scalars(select(Order)).all() == []
        assert s.get(Erasure, key) is not None
        audit = s.scalars(select(AuditEntry)).one()
    assert audit.action == "customer.erased" and audit.details["customer_keys"] == [key]
    # the syncers learn of it: the ledger rows still held by a platform are removed on the next sync
    assert any(c["customer_key"] == key and c["erased"] for c in changed)


def test_redact_that_matches_nobody_is_audited_as_nothing_to_erase(store: Store, tmp_path: Path) -> None:
    with pipeline(store, tmp_path) as p:
        assert (
            p.post("orders/create", _order(62, "2026-02-01T00:00:00Z", "80.00", email="kept@example.com"))
            == 200
        )
        wait_for(lambda: p.handled() == 1)
        assert p.post("customers/redact", _redact("stranger@example.com")) == 200
        wait_for(lambda: p.handled() == 2)
    with store.session() as s:
        audit = s.scalars(select(AuditEntry)).one()
        assert len(s.scalars(select(Customer)).all()) == 1  # the other customer is untouched
    assert audit.action == "customer.erase_nothing_matched"
    assert audit.details["nothing_to_erase"] is True and audit.details["customer_keys"] == []


def test_shop_redact_reaches_customers_imported_under_the_default_shop(store: Store, tmp_path: Path) -> None:
    with pipeline(store, tmp_path) as p:
        imported = RawReceived(
            source="import",
            topic="import/shopify",
            shop="default",
            body=json.dumps(_order(63, "2026-02-01T00:00:00Z", "80.00", email="left@example.com")).encode(),
            received_at=datetime.now(UTC),
        )
        p.publisher.publish(ORDERS_RAW, imported.to_envelope("default/63"))
        p.publisher.flush()
        wait_for(lambda: p.handled() == 1)
        assert p.post("shop/redact", {"shop_id": 1, "shop_domain": DOMAIN}) == 200
        wait_for(lambda: p.handled() == 2)
    with store.session() as s:
        assert s.scalars(select(Customer)).all() == []
        audit = s.scalars(select(AuditEntry)).one()
    assert audit.action == "shop.erased" and audit.details["customers"] == 1
