"""Money in the shop's base currency: a rates table, optionally dated, and one rounding rule.

Rounding: every stored amount is a ``Decimal`` quantized to 4 decimal places with
``ROUND_HALF_EVEN`` (banker's rounding: no upward drift when millions of amounts are summed).
Four places hold every ISO 4217 minor unit exactly (JPY 0, USD 2, BHD 3, CLF 4), so amounts in
their own currency are never rounded at all; only conversions are.

A rate is "units of the base currency per one unit of the currency": ``to_base`` multiplies.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from services.ingestor.domain.codes import iso_currencies
from services.ingestor.domain.errors import Reason, invalid

PLACES = Decimal("0.0001")
ZERO = Decimal(0)


MAX_STORED = Decimal(10) ** 14  # the money columns' Numeric(18, 4) holds less than this
RATE_MIN = Decimal("0.0000000001")  # the rates table's scale: anything smaller is stored as 0
RATE_MAX = Decimal(10) ** 10  # and its integer digits


class RatesError(ValueError):
    """A rates file that cannot be used; the message names the line or currency."""


def round_money(amount: Decimal) -> Decimal:
    """Quantize to the storage precision (4 dp, half-even)."""
    return amount.quantize(PLACES, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Rates:
    """Conversion to ``base``: undated ``rates`` plus dated ``history`` that wins from its date."""

    base: str
    rates: Mapping[str, Decimal] = field(default_factory=dict)
    history: Mapping[str, tuple[tuple[date, Decimal], ...]] = field(default_factory=dict)

    @classmethod
    def only(cls, base: str) -> Rates:
        """A table that knows only the base currency (every other currency has no rate)."""
        return cls(base=base.upper())

    def knows(self, currency: str) -> bool:
        """True when ``currency`` can be converted."""
        return currency == self.base or currency in self.rates or currency in self.history

    def rate(self, currency: str, on: date | None = None, *, path: str = "currency") -> Decimal:
        """Units of base per unit of ``currency`` on ``on``; no rate is an ``InvalidPayload``."""
        if currency == self.base:
            return Decimal(1)
        dated = self.history.get(currency)
        if dated and on is not None:
            # The latest dated rate on or before ``on``; before the first one, the undated rate.
            i = bisect_right(dated, on, key=lambda entry: entry[0])
            if i:
                return dated[i - 1][1]
        undated = self.rates.get(currency)
        if undated is not None:
            return undated
        if dated:
            return dated[0][1]
        raise invalid(path, Reason.NO_RATE, f"{currency} to {self.base}")

    def to_base(
        self, amount: Decimal, currency: str, on: date | datetime | None = None, *, path: str = "currency"
    ) -> Decimal:
        """``amount`` of ``currency`` in the base currency, rounded for storage."""
        if currency == self.base:
            return storable(amount, path)
        day = on.date() if isinstance(on, datetime) else on
        return _rounded(amount * self.rate(currency, day, path=path), path)

    def convert(
        self,
        amount: Decimal,
        source: str,
        target: str,
        on: date | datetime | None = None,
        *,
        path: str = "currency",
    ) -> Decimal:
        """``amount`` of ``source`` in ``target`` (through the base), rounded for storage."""
        if source == target:
            return storable(amount, path)
        day = on.date() if isinstance(on, datetime) else on
        ratio = self.rate(source, day, path=path) / self.rate(target, day, path=path)
        return _rounded(amount * ratio, path)


def storable(amount: Decimal, path: str, detail: str = "over what the store holds") -> Decimal:
    """``round_money``, refusing an amount the money columns cannot hold (``Numeric(18, 4)``).

    Each input amount is capped far lower, but products and sums are not: 99,999,999,999 EUR at
    a rate of 9,999, or a line of 1,000,000 units at 10^11, made PostgreSQL refuse the whole write
    (a handler error with a traceback) instead of one record refused for its reason.
    """
    try:
        rounded = round_money(amount)
    except InvalidOperation:  # over 28 significant digits
        raise invalid(path, Reason.AMOUNT_TOO_LARGE, detail) from None
    if abs(rounded) >= MAX_STORED:
        raise invalid(path, Reason.AMOUNT_TOO_LARGE, detail)
    return rounded


def _rounded(amount: Decimal, path: str) -> Decimal:
    """``storable`` for a converted amount (an absurd rate)."""
    return storable(amount, path, "after conversion")


def _currency(value: object, where: str) -> str:
    code = str(value).strip().upper()
    if code not in iso_currencies():
        raise RatesError(f"{where}: {code!r} is not an ISO 4217 currency")
    return code


def _rate(value: object, where: str) -> Decimal:
    try:
        rate = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise RatesError(f"{where}: rate is not a decimal") from None
    if not rate.is_finite() or rate <= 0:
        raise RatesError(f"{where}: rate must be a positive number")
    # The store keeps 10 decimal places and 10 integer digits (Numeric(20, 10)): 1E+400 made
    # PostgreSQL refuse the write (a traceback), and 1E-25 was stored as 0 and every amount in
    # that currency became 0. No currency pair is anywhere near either bound.
    if not RATE_MIN <= rate < RATE_MAX:
        raise RatesError(f"{where}: rate must be from {RATE_MIN:f} to under {RATE_MAX:,}")
    return rate


def _day(value: object, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise RatesError(f"{where}: date is not ISO 8601 (YYYY-MM-DD)") from None


def _build(base: str, undated: dict[str, Decimal], dated: dict[str, list[tuple[date, Decimal]]]) -> Rates:
    history = {cur: tuple(sorted(entries)) for cur, entries in dated.items()}
    for cur, entries in history.items():
        days = [d for d, _ in entries]
        if len(set(days)) != len(days):
            raise RatesError(f"{cur}: two rates for the same date")
    return Rates(base=base, rates=undated, history=history)


def parse_rates_yaml(text: str) -> Rates:
    """Rates from YAML: ``base``, ``rates: {EUR: 1.08}``, optional ``history: {2024-01-01: {EUR: 1.1}}``."""
    try:
        doc: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RatesError(f"not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(doc, Mapping) or "base" not in doc:
        raise RatesError("expected a mapping with a 'base' currency")
    base = _currency(doc["base"], "base")
    undated: dict[str, Decimal] = {}
    raw_rates = doc.get("rates") or {}
    if not isinstance(raw_rates, Mapping):
        raise RatesError("rates: expected a mapping of currency to rate")
    for cur, value in raw_rates.items():
        undated[_currency(cur, f"rates.{cur}")] = _rate(value, f"rates.{cur}")
    dated: dict[str, list[tuple[date, Decimal]]] = {}
    raw_history = doc.get("history") or {}
    if not isinstance(raw_history, Mapping):
        raise RatesError("history: expected a mapping of date to {currency: rate}")
    for when, entries in raw_history.items():
        day = _day(when, f"history.{when}")
        if not isinstance(entries, Mapping):
            raise RatesError(f"history.{day}: expected a mapping of currency to rate")
        for cur, value in entries.items():
            where = f"history.{day}.{cur}"
            dated.setdefault(_currency(cur, where), []).append((day, _rate(value, where)))
    return _build(base, undated, dated)


def parse_rates_csv(text: str) -> Rates:
    """Rates from CSV with header ``base,currency,rate`` and an optional ``date`` column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"base", "currency", "rate"} - set(reader.fieldnames or ())
    if missing:
        raise RatesError(f"header: missing column(s) {', '.join(sorted(missing))}")
    base: str | None = None
    undated: dict[str, Decimal] = {}
    dated: dict[str, list[tuple[date, Decimal]]] = {}
    for line, row in enumerate(reader, start=2):
        where = f"line {line}"
        row_base = _currency(row.get("base") or "", where)
        if base is not None and row_base != base:
            raise RatesError(f"{where}: every row must share one base currency")
        base = row_base
        cur, rate = _currency(row.get("currency") or "", where), _rate(row.get("rate") or "", where)
        when = (row.get("date") or "").strip()
        if when:
            dated.setdefault(cur, []).append((_day(when, where), rate))
        elif cur in undated:
            raise RatesError(f"{where}: {cur} has two undated rates")
        else:
            undated[cur] = rate
    if base is None:
        raise RatesError("no rates in the file")
    return _build(base, undated, dated)


def load_rates(path: Path) -> Rates:
    """Read a rates file (``.yaml``/``.yml`` or ``.csv``) for ``audiencesync rates load``."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in {".yaml", ".yml"}:
        return parse_rates_yaml(text)
    if path.suffix.lower() == ".csv":
        return parse_rates_csv(text)
    raise RatesError(f"{path.name}: expected a .yaml, .yml or .csv file")
