"""Money: rates tables (undated and dated), conversion, rounding, and the rates file loaders."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from services.ingestor.domain import (
    InvalidPayload,
    Rates,
    RatesError,
    ingest_order,
    load_rates,
    parse_rates_csv,
    parse_rates_yaml,
    round_money,
)

from .payloads import minimal_order

DATED = Rates(
    base="USD",
    rates={"EUR": Decimal("1.10")},
    history={"EUR": ((date(2024, 1, 1), Decimal("1.05")), (date(2024, 7, 1), Decimal("1.08")))},
)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("1.00005", "1.0000"),
        ("1.00015", "1.0002"),
        ("2.5", "2.5000"),
        ("-0.00005", "-0.0000"),
        ("7400", "7400.0000"),
    ],
)
def test_rounding_is_half_even_to_four_places(amount: str, expected: str) -> None:
    assert str(round_money(Decimal(amount))) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "on", "expected"),
    [
        ("100", "USD", None, "100.0000"),  # the base converts to itself
        ("100", "EUR", None, "110.0000"),  # no date: the undated rate
        ("100", "EUR", date(2023, 12, 31), "110.0000"),  # before any dated rate: the undated one
        ("100", "EUR", date(2024, 1, 1), "105.0000"),  # from its date on, a dated rate wins
        ("100", "EUR", date(2024, 6, 30), "105.0000"),
        ("100", "EUR", date(2025, 1, 1), "108.0000"),  # the latest dated rate on or before the day
        ("0.01", "EUR", datetime(2024, 8, 1, 23, 30, tzinfo=UTC), "0.0108"),
    ],
)
def test_to_base(amount: str, currency: str, on: date | None, expected: str) -> None:
    assert str(DATED.to_base(Decimal(amount), currency, on)) == expected


def test_convert_goes_through_the_base() -> None:
    rates = Rates(base="USD", rates={"EUR": Decimal("1.08"), "GBP": Decimal("1.27")})
    assert rates.convert(Decimal("100"), "GBP", "EUR") == Decimal("117.5926")
    assert rates.convert(Decimal("100"), "EUR", "EUR") == Decimal("100.0000")


def test_a_currency_without_a_rate_is_a_validation_reason() -> None:
    with pytest.raises(InvalidPayload) as caught:
        Rates.only("USD").to_base(Decimal("1"), "JPY", path="refunds.0.currency")
    assert (caught.value.field_path, caught.value.reason) == ("refunds.0.currency", "no_rate")


def test_an_absurd_rate_is_refused_not_crashed() -> None:
    rates = Rates(base="USD", rates={"EUR": Decimal("1e20")})
    with pytest.raises(InvalidPayload) as caught:
        rates.to_base(Decimal("999999999999"), "EUR")
    assert caught.value.reason == "amount_too_large"


def test_orders_convert_with_their_own_day(rates: Rates) -> None:
    dated = Rates(
        base="USD", rates={"BRL": Decimal("0.20")}, history={"BRL": ((date(2025, 3, 1), Decimal("0.17")),)}
    )
    facts = ingest_order(minimal_order(), shop="s", rates=dated).facts
    assert (facts.gross, facts.gross_base) == (Decimal("199.8000"), Decimal("33.9660"))
    assert facts.net_base == facts.gross_base - facts.discount_base - facts.refunded_base
    assert all(isinstance(v, Decimal) for v in (facts.gross, facts.net_base, facts.discount_depth))


def test_yaml_rates_file() -> None:
    rates = parse_rates_yaml(
        """
        base: usd
        rates:
          EUR: 1.08      # a YAML float is read through its text, never binary
          JPY: "0.0067"
        history:
          2024-01-01: {EUR: "1.05"}
        """
    )
    assert rates.base == "USD"
    assert rates.rates == {"EUR": Decimal("1.08"), "JPY": Decimal("0.0067")}
    assert rates.rate("EUR", date(2024, 2, 1)) == Decimal("1.05")


def test_csv_rates_file() -> None:
    rates = parse_rates_csv(
        "base,currency,rate,date\nUSD,EUR,1.08,\nUSD,EUR,1.05,2024-01-01\nUSD,GBP,1.27,\n"
    )
    assert rates.rates == {"EUR": Decimal("1.08"), "GBP": Decimal("1.27")}
    assert rates.history == {"EUR": ((date(2024, 1, 1), Decimal("1.05")),)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rates: {EUR: 1}", "base"),
        ("base: USD\nrates: {EUR: -1}", "rates.EUR: rate must be a positive number"),
        ("base: USD\nrates: {EUR: abc}", "rates.EUR: rate is not a decimal"),
        ("base: USD\nrates: {EURO: 1}", "not an ISO 4217 currency"),
        ("base: USD\nhistory: {someday: {EUR: 1}}", "date is not ISO 8601"),
        ("base: [", "not valid YAML"),
    ],
)
def test_bad_yaml_rates_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(RatesError, match=message):
        parse_rates_yaml(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("currency,rate\nEUR,1\n", "missing column"),
        ("base,currency,rate\nUSD,EUR,1\nGBP,EUR,1\n", "line 3: every row must share one base"),
        ("base,currency,rate\nUSD,EUR,1\nUSD,EUR,2\n", "line 3: EUR has two undated rates"),
        (
            "base,currency,rate,date\nUSD,EUR,1,2024-01-01\nUSD,EUR,2,2024-01-01\n",
            "two rates for the same date",
        ),
        ("base,currency,rate\n", "no rates"),
    ],
)
def test_bad_csv_rates_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(RatesError, match=message):
        parse_rates_csv(text)


def test_load_rates_by_suffix(tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text("base: EUR\nrates: {USD: '0.92'}\n")
    (tmp_path / "r.csv").write_text("base,currency,rate\nEUR,USD,0.92\n")
    (tmp_path / "r.txt").write_text("")
    assert load_rates(tmp_path / "r.yml") == load_rates(tmp_path / "r.csv")
    with pytest.raises(RatesError, match=r"expected a \.yaml"):
        load_rates(tmp_path / "r.txt")
