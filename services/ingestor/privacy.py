"""Shopify's mandatory privacy webhooks: erase a customer, export their data, erase a shop.

Erasure deletes every fact, leaves a tombstone of the customer key (a hash) so late events
cannot bring the customer back, and announces ``CustomerChanged(erased=True)``: the scorer
drops the label and the syncers remove the customer from every platform audience on the
next sync (the ledger keeps the hashed rows needed to send the removal).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ingestor.adapters.facts_store import FactsWriter
from services.ingestor.domain import CustomerRedact, DataRequest, Ingested, ShopRedact
from shared.identity import customer_key
from shared.log import get_logger
from shared.shops import InvalidShopDomain, normalize_shop_domain
from shared.store.models import (
    AuditEntry,
    Checkout,
    Customer,
    CustomerIdentifier,
    Label,
    Order,
    Refund,
    SupportTicket,
)

log = get_logger(__name__)


def shop_aliases(body_shop: str | None, header_shop: str | None, *, default_shop: str) -> list[str]:
    """Every name the shop a privacy request is about may have stored its customers under.

    Webhooks name a shop by its domain (``x.myshopify.com``, lower-cased at the edge), a bulk
    import by ``--shop`` or the ``SHOP`` setting (``default`` unless set), and a privacy body
    carries its own ``shop_domain`` spelled as Shopify likes: an erasure must reach the customer
    under each spelling of the body's shop (as written, lower-cased, its handle ``x``, the handle's
    domain), and under the default when it may be that shop.

    Only the signed body decides which shop: the ``X-Shopify-Shop-Domain`` header is not signed,
    so a header naming another shop (a replayed body of one shop sent with another's name) adds
    nothing. The default counts only when it is not another shop's domain: ``SHOP=a.myshopify.com``
    holds shop a, and a ``shop/redact`` from a development store b on the same app used to erase
    every customer of a. A placeholder such as ``default`` (imports of a deployment that never named
    its shop) is searched, as an erasure should rather reach too far than miss the customer.
    """
    shop = body_shop or header_shop
    names: list[str] = []
    if shop:
        for spelling in (shop.strip(), shop.strip().lower()):
            handle = spelling.removesuffix(".myshopify.com")
            names += [spelling, handle, f"{handle}.myshopify.com"]
    if default_shop in names or not _is_domain(default_shop):
        names.append(default_shop)
    return list(dict.fromkeys(names))


def _is_domain(name: str) -> bool:
    try:
        normalize_shop_domain(name)
    except InvalidShopDomain:
        return False
    return True


def candidate_keys(
    session: Session, shops: Iterable[str], email: str | None, customer_id: str | None
) -> list[str]:
    """Every key the customer may be stored under, in any of ``shops``: by shop id, by email, by id."""
    keys: list[str] = []
    for shop in shops:
        if customer_id:
            keys.extend(
                session.scalars(
                    select(Customer.customer_key).where(
                        Customer.shop == shop, Customer.shop_customer_id == customer_id
                    )
                )
            )
        for computed in (
            customer_key(shop=shop, email=email, shop_customer_id=None),
            customer_key(shop=shop, email=None, shop_customer_id=customer_id),
        ):
            if computed:
                keys.append(computed)
    return list(dict.fromkeys(keys))


def redact_customer(
    writer: FactsWriter, got: Ingested[CustomerRedact], shop: str, default_shop: str
) -> list[str]:
    """``customers/redact``: erase the customer under every key and shop name they may have.

    Returns the keys of the customers that existed. The audit entry says truthfully what was
    found: ``customer.erased`` with those keys, or ``customer.erase_nothing_matched``. Either way
    a tombstone is left for each candidate key, so an order that arrives later for this person
    is dropped rather than bringing them back.
    """
    facts = got.facts
    shops = shop_aliases(facts.shop_domain, shop, default_shop=default_shop)
    shop = facts.shop_domain or shop
    for name in shops:
        writer.erase_orders(name, facts.order_ids)
    keys = candidate_keys(writer.session, shops, got.contact.email, facts.customer_id)
    matched = [key for key in keys if writer.session.get(Customer, key) is not None]
    writer.erase(keys, shop, "customers/redact")
    if not matched:
        log.info("privacy.nothing_to_erase", shop=shop, candidates=len(keys))
    writer.session.add(
        AuditEntry(
            at=writer.now,
            actor="shopify",
            action="customer.erased" if matched else "customer.erase_nothing_matched",
            target=shop,
            details={"customer_keys": matched, "shops_searched": shops, "nothing_to_erase": not matched},
        )
    )
    return matched


def redact_shop(writer: FactsWriter, facts: ShopRedact, shop: str, default_shop: str) -> list[str]:
    """``shop/redact``: erase every customer of the shop, under every name it may be stored under."""
    shops = shop_aliases(facts.shop_domain, shop, default_shop=default_shop)
    keys = list(writer.session.scalars(select(Customer.customer_key).where(Customer.shop.in_(shops))))
    erased = writer.erase(keys, facts.shop_domain, "shop/redact")
    writer.session.add(
        AuditEntry(
            at=writer.now,
            actor="shopify",
            action="shop.erased" if erased else "shop.erase_nothing_matched",
            target=facts.shop_domain,
            details={"customers": len(erased), "shops_searched": shops},
        )
    )
    return erased


def _rows(session: Session, model: Any, *where: Any) -> list[dict[str, Any]]:
    columns = [c.key for c in model.__table__.columns]
    return [{c: getattr(row, c) for c in columns} for row in session.scalars(select(model).where(*where))]


def export_customer(
    session: Session, got: Ingested[DataRequest], fallback_shop: str, default_shop: str, exports: Path
) -> Path:
    """``customers/data_request``: write everything we hold about the customer to a JSON file.

    We hold no raw contact data, so the export lists hashed identifiers and facts; the shop
    forwards it to the customer.
    """
    facts = got.facts
    shop = facts.shop_domain or fallback_shop
    shops = shop_aliases(facts.shop_domain, fallback_shop, default_shop=default_shop)
    keys = candidate_keys(session, shops, got.contact.email, facts.customer_id)
    customers = []
    for key in keys:
        if session.get(Customer, key) is None:
            continue
        customers.append(
            {
                "customer": _rows(session, Customer, Customer.customer_key == key)[0],
                "identifiers": _rows(session, CustomerIdentifier, CustomerIdentifier.customer_key == key),
                "orders": _rows(session, Order, Order.customer_key == key),
                "refunds": _rows(session, Refund, Refund.customer_key == key),
                "support_tickets": _rows(session, SupportTicket, SupportTicket.customer_key == key),
                "checkouts": _rows(session, Checkout, Checkout.customer_key == key),
                "label": _rows(session, Label, Label.customer_key == key),
            }
        )
    exports.mkdir(parents=True, exist_ok=True)
    ref = facts.request_id or facts.customer_id or "unknown"
    name = f"data_request-{ref}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path = exports / name.replace("/", "_")
    path.write_text(
        json.dumps(
            {
                "shop": shop,
                "request_id": facts.request_id,
                "customer_id": facts.customer_id,
                "generated_at": datetime.now(UTC).isoformat(),
                "records": customers,
            },
            default=str,
            indent=2,
        )
    )
    session.add(
        AuditEntry(
            at=datetime.now(UTC),
            actor="shopify",
            action="customer.data_exported",
            target=shop,
            details={"file": path.name, "customers": len(customers)},
        )
    )
    return path
