"""The SQL aggregation equals a hand computation on a hand-built shop, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.scorer.adapters.aggregates import load_aggregates
from services.scorer.domain import CustomerAggregates, epoch_days
from shared.store.db import Store
from tests.integration.scorer.shop import AS_OF, ShopWriter, at, key

pytestmark = pytest.mark.integration


def _hand_built_shop(store: Store) -> None:
    with store.transaction() as session:
        shop = ShopWriter(session)
        shop.customer("ana", country="DE", email=True, sms=False)
        shop.order("ana", "2024-01-10 10:00", 100, referral="google", lines=(("Shoes", 1), ("Apparel", 2)))
        second = shop.order("ana", "2024-03-05 12:00", 200, discount=50, lines=(("Shoes", 1),))
        shop.refund("ana", second, "2024-03-20 09:00", 30)
        shop.refund("ana", second, "2024-07-15 09:00", 20)  # after as_of
        shop.order("ana", "2024-03-05 18:00", 50, referral="email", lines=(("Shoes", 1),))  # same day
        shop.order("ana", "2024-04-01 10:00", 999, test=True, lines=(("Toys", 9),))
        cancelled = shop.order("ana", "2024-04-02 10:00", 500, cancelled=True, lines=(("Toys", 9),))
        shop.refund("ana", cancelled, "2024-04-03 10:00", 500)
        shop.order("ana", "2024-08-01 10:00", 70, lines=(("Toys", 9),))  # after as_of
        shop.ticket("ana", "2024-02-01 10:00")
        shop.ticket("ana", "2024-09-01 10:00")  # after as_of
        shop.checkout("ana", "2024-06-01 08:30")
        shop.checkout("ana", "2024-05-01 08:30", completed="2024-05-01 08:45")
        shop.checkout("ana", "2024-07-10 08:30")  # after as_of

        # Generic import rows: refunded amounts on the orders, no refund records.
        shop.customer("bo", country="GB", email=False, sms=True)
        shop.order("bo", "2024-04-01 10:00", 80, discount=40, refunded=40, updated="2024-04-02 10:00",
                   referral=None, channel="pos")  # fmt: skip
        shop.order("bo", "2024-05-01 10:00", 20, discount=10, referral=None, channel="pos")
        shop.order(
            "bo", "2024-06-10 10:00", 30, refunded=15, updated="2024-07-05 10:00"
        )  # refund after as_of

        shop.customer("cy", country=None)
        shop.checkout("cy", "2024-06-20 12:00")

        shop.customer("di")
        shop.order("di", "2024-07-02 10:00", 40)  # after as_of only


EXPECTED = {
    "ana": {
        "n_orders": 3, "order_days": 2, "first_order_at": epoch_days(at("2024-01-10 10:00")),
        "last_order_at": epoch_days(at("2024-03-05 18:00")), "gross_total": 300.0, "refunded_total": 30.0,
        "first_order_total": 100.0, "orders_30d": 0.0, "orders_90d": 0.0, "orders_180d": 3.0,
        "orders_365d": 3.0, "spend_90d": 0.0, "spend_180d": 300.0,
        "refunded_orders": 1, "discount_total": 50.0, "discounted_orders": 1, "discount_depth_sum": 0.25,
        "discount_depth_min": 0.0, "tickets": 1,
        "last_abandoned_checkout_at": epoch_days(at("2024-06-01 08:30")), "accepts_email": True,
        "accepts_sms": False, "country": "DE", "channel": "google", "top_category": "Shoes",
    },
    "bo": {
        "n_orders": 3, "order_days": 3, "first_order_at": epoch_days(at("2024-04-01 10:00")),
        "last_order_at": epoch_days(at("2024-06-10 10:00")), "gross_total": 80.0, "refunded_total": 40.0,
        "first_order_total": 40.0, "orders_30d": 1.0, "orders_90d": 2.0, "orders_180d": 3.0,
        "orders_365d": 3.0, "spend_90d": 40.0, "spend_180d": 80.0,
        "refunded_orders": 1, "discount_total": 50.0, "discounted_orders": 2, "discount_depth_sum": 1.0,
        "discount_depth_min": 0.0, "tickets": 0, "last_abandoned_checkout_at": math.nan,
        "accepts_email": False, "accepts_sms": True, "country": "GB", "channel": "pos", "top_category": "",
    },
    "cy": {
        "n_orders": 0, "order_days": 0, "first_order_at": math.nan, "last_order_at": math.nan,
        "gross_total": 0.0, "refunded_total": 0.0, "refunded_orders": 0, "discount_total": 0.0,
        "first_order_total": math.nan, "orders_30d": 0.0, "orders_90d": 0.0, "orders_180d": 0.0,
        "orders_365d": 0.0, "spend_90d": 0.0, "spend_180d": 0.0,
        "discounted_orders": 0, "discount_depth_sum": 0.0, "discount_depth_min": math.nan, "tickets": 0,
        "last_abandoned_checkout_at": epoch_days(at("2024-06-20 12:00")), "accepts_email": True,
        "accepts_sms": False, "country": "", "channel": "", "top_category": "",
    },
}  # fmt: skip
EXPECTED["di"] = EXPECTED["cy"] | {"last_abandoned_checkout_at": math.nan, "country": "US"}


def _row(agg: CustomerAggregates, name: str) -> dict[str, object]:
    i = agg.customer_key.tolist().index(key(name))
    return {column: getattr(agg, column)[i] for column in EXPECTED["ana"]}


def _assert_matches(got: dict[str, object], want: dict[str, object]) -> None:
    for column, value in want.items():
        if isinstance(value, float):
            assert got[column] == pytest.approx(value, abs=1e-6, nan_ok=True), column
        else:
            assert got[column] == value, column


def test_aggregates_equal_a_hand_computation(store: Store) -> None:
    _hand_built_shop(store)
    with store.session() as session:
        agg = load_aggregates(session, AS_OF)
    assert sorted(agg.customer_key.tolist()) == agg.customer_key.tolist()
    assert sorted(agg.customer_key.tolist()) == sorted(key(n) for n in EXPECTED)
    for name, want in EXPECTED.items():
        _assert_matches(_row(agg, name), want)


def test_a_set_of_keys_gives_the_same_rows_and_skips_unknown_keys(store: Store) -> None:
    _hand_built_shop(store)
    with store.session() as session:
        some = load_aggregates(session, AS_OF, keys=[key("bo"), key("ana"), key("nobody"), key("ana")])
    assert some.customer_key.tolist() == sorted([key("ana"), key("bo")])
    _assert_matches(_row(some, "ana"), EXPECTED["ana"])
    _assert_matches(_row(some, "bo"), EXPECTED["bo"])


def test_orders_after_keeps_only_the_later_period_with_refunds_up_to_as_of(store: Store) -> None:
    _hand_built_shop(store)
    with store.session() as session:
        later = load_aggregates(session, at("2024-12-31 00:00"), orders_after=at("2024-03-01 00:00"))
    ana = _row(later, "ana")
    # Orders of 2024-03-05 (two) and 2024-08-01; the refunds of the March order (30 + 20).
    assert (ana["n_orders"], ana["gross_total"], ana["refunded_total"]) == (3, 270.0, 50.0)
    assert ana["channel"] == "google" and ana["top_category"] == "Toys"
    bo = _row(later, "bo")
    assert (bo["n_orders"], bo["gross_total"], bo["refunded_total"]) == (3, 80.0, 55.0)


def test_an_empty_shop_gives_empty_aggregates(store: Store) -> None:
    with store.session() as session:
        agg = load_aggregates(session, AS_OF)
        none = load_aggregates(session, AS_OF, keys=[])
    assert len(agg) == 0 and len(none) == 0
    assert np.isnan(agg.first_order_at).all()


def test_a_key_bound_reads_the_same_rows_for_a_sample_of_customers(store: Store) -> None:
    _hand_built_shop(store)
    with store.session() as session:
        everyone = load_aggregates(session, AS_OF)
        bound = sorted(everyone.customer_key.tolist())[2]
        sample = load_aggregates(session, AS_OF, key_below=bound)
    assert sample.customer_key.tolist() == sorted(everyone.customer_key.tolist())[:2]
    for name in EXPECTED:
        if key(name) < bound:
            _assert_matches(_row(sample, name), EXPECTED[name])


def test_a_whole_shop_read_gives_every_customer_the_rows_read_by_key(store: Store) -> None:
    # The whole shop's passes run on connections of their own, beside the customers read; each
    # scatters into the customers' rows as it streams (read by key, one connection does it all).
    with store.transaction() as session:
        shop = ShopWriter(session)
        for i in range(7):
            shop.customer(f"buyer{i}")
            shop.order(f"buyer{i}", "2024-02-01 10:00", 10 + i, lines=(("Shoes", 1),))
            shop.order(f"buyer{i}", "2024-05-01 10:00", 20 * i, referral="email", lines=(("Toys", 2),))
    with store.session() as session:
        whole = load_aggregates(session, AS_OF)
        by_key = load_aggregates(session, AS_OF, keys=whole.customer_key.tolist())
    assert whole.n_orders.tolist() == [2] * 7
    for name in CustomerAggregates.__dataclass_fields__:
        mine, theirs = getattr(whole, name), getattr(by_key, name)
        assert mine.tolist() == theirs.tolist() or np.allclose(mine, theirs, equal_nan=True), name
