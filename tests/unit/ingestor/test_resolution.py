"""The one customer-resolution rule: which key, which fields an event fills or updates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ingestor.domain.resolution import Sighting, StoredCustomer, merge_customer, resolve_keys
from shared.identity import customer_key

SHOP = "shop.example"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def at(day: int) -> datetime:
    return datetime(2026, 1, day, tzinfo=UTC)


def seen(day: int, **facts: object) -> Sighting:
    values: dict[str, object] = {
        "shop": SHOP,
        "email": "ana@example.de",
        "shop_customer_id": None,
        "country": None,
        "accepts_email_marketing": None,
        "accepts_sms_marketing": None,
        "seen_at": at(day),
        "first_seen": at(day),
        **facts,
    }
    return Sighting(**values)  # type: ignore[arg-type]


def stored(day: int, **facts: object) -> StoredCustomer:
    values: dict[str, object] = {
        "customer_key": "k",
        "shop": SHOP,
        "shop_customer_id": None,
        "country": None,
        "accepts_email_marketing": None,
        "accepts_sms_marketing": None,
        "first_seen_at": at(day),
        "updated_at": at(day),
        **facts,
    }
    return StoredCustomer(**values)  # type: ignore[arg-type]


def test_an_older_order_fills_the_shop_id_a_newer_ticket_left_empty() -> None:
    write = merge_customer("k", stored(20), [seen(5, shop_customer_id="777", country="DE")], NOW)
    assert write is not None and write.changed and not write.new
    assert write.row["shop_customer_id"] == "777" and write.row["country"] == "DE"
    assert write.row["updated_at"] == at(20)  # the version stays the newest seen
    assert write.row["first_seen_at"] == at(5)  # the older event shows the customer earlier


@pytest.mark.parametrize(
    ("stored_day", "event_day", "kept"),
    [
        (20, 5, "US"),  # older event: the stored, newer value stays
        (5, 20, "FR"),  # newer event: its value wins
        (10, 10, "FR"),  # same version: the later arrival wins, as an update would
    ],
)
def test_the_newest_non_empty_value_wins(stored_day: int, event_day: int, kept: str) -> None:
    write = merge_customer("k", stored(stored_day, country="US"), [seen(event_day, country="FR")], NOW)
    country = write.row["country"] if write else "US"
    assert country == kept


def test_an_empty_value_never_clears_and_nothing_new_writes_nothing() -> None:
    assert merge_customer("k", stored(5, country="US"), [seen(5)], NOW) is None
    write = merge_customer("k", stored(5, country="US"), [seen(9)], NOW)
    assert write is not None and not write.changed and write.row["country"] == "US"


def test_within_a_batch_the_newest_event_wins_whatever_the_arrival_order() -> None:
    events = [seen(9, accepts_email_marketing=True), seen(3, accepts_email_marketing=False)]
    write = merge_customer("k", None, events, NOW)
    assert write is not None and write.new
    assert write.row["accepts_email_marketing"] is True
    assert (write.row["first_seen_at"], write.row["updated_at"]) == (at(3), at(9))


def test_a_stored_shop_id_wins_over_the_email_then_email_then_id() -> None:
    by_email = customer_key(shop=SHOP, email="ana@example.de", shop_customer_id=None)
    by_id = customer_key(shop=SHOP, email=None, shop_customer_id="5")
    keys = resolve_keys(
        [
            seen(1, shop_customer_id="777"),
            seen(1, email="bo@example.de", shop_customer_id="1"),
            seen(1, email=None, shop_customer_id="5"),
            seen(1, email=None),
        ],
        {(SHOP, "1"): "stored-key"},
    )
    assert keys == [by_email, "stored-key", by_id, None]


def test_a_customer_made_earlier_in_the_batch_is_found_by_its_shop_id() -> None:
    # One by one, the second event would find the first one's customer by shop id: same in a batch.
    first = seen(1, shop_customer_id="777")
    second = seen(2, email=None, shop_customer_id="777")
    keys = resolve_keys([first, second], {})
    assert keys[0] == keys[1] == customer_key(shop=SHOP, email="ana@example.de", shop_customer_id=None)
