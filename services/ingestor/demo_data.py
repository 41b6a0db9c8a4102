"""Demo shop data: Shopify-shaped orders from ten countries with planted segments, and the truth.

``write_demo(FILE)`` writes ``FILE`` (one order per line: Shopify JSONL, or the generic CSV
layout), ``FILE.checkouts.jsonl`` (abandoned checkouts), ``FILE.tickets.jsonl`` (support
tickets), ``FILE.truth.csv`` (each customer's planted segment and the label the scorer should
give) and ``FILE.rates.yaml`` (the rates the prices were made with, for ``rates load``).

Deterministic: customer ``i`` draws from its own ``Random(f"{seed}:{i}")``, so the same seed and
``as_of`` give byte-identical files and a smaller ``customers`` is a prefix of a larger one.
Emails are on the reserved example.com/.net/.org domains, phones in each country's fictional
ranges where one exists (US/CA 555-01xx, GB Ofcom drama, AU ACMA, FR ARCEP), so no real person
is addressed. Speed: JSON is assembled from templates, the customer, address and product parts
serialized once, not per order: about 85 us of CPU an order (100,000 orders: ~9 s CPU, ~15 s wall
on the shared two-vCPU dev box; ``workers`` splits that across processes). The world tables live
here too (``fmt: off`` keeps them one row per entry): one module, one concept, one owner.
"""

from __future__ import annotations

import csv
import io
import json
import random
import unicodedata
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
CENT, ONE, ZERO = Decimal("0.01"), Decimal(1), Decimal(0)
FORMATS = ("shopify", "generic")
GENERIC_COLUMNS = (
    "order_id", "customer_id", "created_at", "currency", "gross", "email", "phone", "first_name", "last_name",
    "city", "region", "postal_code", "country", "discount", "refunded", "status", "channel", "categories",
    "accepts_marketing", "updated_at",
)  # fmt: skip

# segment -> (expected label, weight in %). Prospects (abandoned checkout, no order) come on top.
SEGMENTS: dict[str, tuple[str, int]] = {
    "loyal_high_value": ("icp", 10), "discount_hunter": ("negative_icp", 12),
    "serial_returner": ("negative_icp", 8), "support_heavy": ("negative_icp", 5),
    "one_time": ("neutral", 30), "new_customer": ("neutral", 10), "regular": ("neutral", 25),
}  # fmt: skip
PROSPECT_SHARE = 0.04
PROSPECTS_FROM = 10_000_000  # prospects' customer indexes start here
CHUNK = 1_000  # customers rendered per worker task
TEST_ORDER_CHANCE = 0.004
# Units of USD per unit of currency: the demo's rates table (written beside the orders).
RATES_TO_USD = {
    "USD": Decimal("1"), "EUR": Decimal("1.08"), "GBP": Decimal("1.27"), "JPY": Decimal("0.0067"),
    "AUD": Decimal("0.66"), "CAD": Decimal("0.74"), "BRL": Decimal("0.20"), "INR": Decimal("0.012"),
}  # fmt: skip


@dataclass(frozen=True)
class Country:
    """Where a demo customer lives. Patterns: # digit, % 1-9, ~ 1-5, ^ 6-9, @ letter."""

    code: str
    name: str
    currency: str
    locale: str
    offset_minutes: int
    weight: int
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    cities: tuple[tuple[str, str, str, str], ...]  # city, province, province code, postal pattern
    phones: tuple[str, ...]


def _t(text: str) -> tuple[str, ...]:
    return tuple(text.split(","))


# fmt: off
COUNTRIES: tuple[Country, ...] = (
    Country("US", "United States", "USD", "en-US", -300, 30,
            _t("James,Mary,Robert,Linda,Michael,Emily,David,Olivia"),
            _t("Smith,Johnson,Williams,Brown,Garcia,Miller,Davis,Rodriguez"),
            (("New York", "New York", "NY", "100##"), ("Chicago", "Illinois", "IL", "606##"),
             ("Austin", "Texas", "TX", "787##"), ("Seattle", "Washington", "WA", "981##")),
            ("+1 212 555 01##", "+1 312 555 01##", "+1 512 555 01##", "+1 206 555 01##")),
    Country("GB", "United Kingdom", "GBP", "en-GB", 0, 12,
            _t("Oliver,Amelia,George,Isla,Harry,Ava,Jack,Sophie"),
            _t("Taylor,Jones,Wilson,Evans,Thomas,Roberts,Walker,Wright"),
            (("London", "England", "ENG", "SW1A #@@"), ("Manchester", "England", "ENG", "M1 #@@"),
             ("Bristol", "England", "ENG", "BS1 #@@"), ("Edinburgh", "Scotland", "SCT", "EH1 #@@")),
            ("+44 20 7946 0###", "+44 161 496 0###", "+44 117 496 0###", "+44 131 496 0###")),
    Country("DE", "Germany", "EUR", "de-DE", 60, 10,
            _t("Lukas,Anna,Jürgen,Lea,Felix,Hannah,Maximilian,Sophie"),
            _t("Müller,Schmidt,Schneider,Fischer,Weber,Meyer,Wagner,Becker"),
            (("Berlin", "Berlin", "BE", "101##"), ("München", "Bayern", "BY", "803##"),
             ("Hamburg", "Hamburg", "HH", "200##"), ("Köln", "Nordrhein-Westfalen", "NW", "506##")),
            ("+49 151 %#######", "+49 160 %#######", "+49 176 %#######")),
    Country("FR", "France", "EUR", "fr-FR", 60, 8,
            _t("Louis,Chloé,Hugo,Léa,Jules,Manon,Gabriel,Hélène"),
            _t("Martin,Bernard,Dubois,Thomas,Robert,Richard,Petit,Durand"),
            (("Paris", "Île-de-France", "IDF", "750##"), ("Lyon", "Auvergne-Rhône-Alpes", "ARA", "6900#"),
             ("Toulouse", "Occitanie", "OCC", "3100#"), ("Lille", "Hauts-de-France", "HDF", "5900#")),
            ("+33 1 99 00 ## ##", "+33 4 65 71 ## ##", "+33 5 36 49 ## ##", "+33 3 53 01 ## ##")),
    Country("JP", "Japan", "JPY", "ja-JP", 540, 6,
            _t("Haruto,Yui,Sota,Hina,Ren,Aoi,Yuto,Sakura"),
            _t("Sato,Suzuki,Takahashi,Tanaka,Watanabe,Ito,Yamamoto,Nakamura"),
            (("Tokyo", "Tokyo", "JP-13", "100-####"), ("Osaka", "Osaka", "JP-27", "530-####"),
             ("Yokohama", "Kanagawa", "JP-14", "220-####"), ("Sapporo", "Hokkaido", "JP-01", "060-####")),
            ("+81 90 %### ####", "+81 80 %### ####", "+81 70 %### ####")),
    Country("AU", "Australia", "AUD", "en-AU", 600, 7,
            _t("Jack,Charlotte,William,Mia,Noah,Matilda,Thomas,Chloe"),
            _t("Smith,Jones,Williams,Brown,Wilson,Taylor,Nguyen,Kelly"),
            (("Sydney", "New South Wales", "NSW", "2000"), ("Melbourne", "Victoria", "VIC", "3000"),
             ("Brisbane", "Queensland", "QLD", "4000"), ("Perth", "Western Australia", "WA", "6000")),
            ("+61 2 5550 ####", "+61 3 7010 ####", "+61 7 5550 ####", "+61 8 7010 ####")),
    Country("CA", "Canada", "CAD", "en-CA", -300, 8,
            _t("Liam,Emma,Ethan,Chloé,Lucas,Ava,Nathan,Léa"),
            _t("Tremblay,Gagnon,Roy,Côté,Smith,Brown,Wilson,Martin"),
            (("Toronto", "Ontario", "ON", "M5V #@#"), ("Vancouver", "British Columbia", "BC", "V6B #@#"),
             ("Montréal", "Quebec", "QC", "H2X #@#"), ("Calgary", "Alberta", "AB", "T2P #@#")),
            ("+1 416 555 01##", "+1 604 555 01##", "+1 514 555 01##", "+1 403 555 01##")),
    Country("NL", "Netherlands", "EUR", "nl-NL", 60, 5,
            _t("Daan,Emma,Sem,Julia,Lucas,Tess,Finn,Sanne"),
            _t("de Jong,Jansen,de Vries,van den Berg,Bakker,Visser,Smit,Meijer"),
            (("Amsterdam", "Noord-Holland", "NH", "1012 @@"), ("Rotterdam", "Zuid-Holland", "ZH", "3011 @@"),
             ("Utrecht", "Utrecht", "UT", "3511 @@"), ("Eindhoven", "Noord-Brabant", "NB", "5611 @@")),
            ("+31 6 ~### ####",)),
    Country("BR", "Brazil", "BRL", "pt-BR", -180, 6,
            _t("Miguel,Alice,Arthur,Helena,Gael,Laura,João,Valentina"),
            _t("Silva,Santos,Oliveira,Souza,Lima,Pereira,Ferreira,Costa"),
            (("São Paulo", "São Paulo", "SP", "01310-###"),
             ("Rio de Janeiro", "Rio de Janeiro", "RJ", "20040-###"),
             ("Belo Horizonte", "Minas Gerais", "MG", "30130-###"),
             ("Curitiba", "Paraná", "PR", "80010-###")),
            ("+55 11 9####-####", "+55 21 9####-####", "+55 31 9####-####", "+55 41 9####-####")),
    Country("IN", "India", "INR", "en-IN", 330, 8,
            _t("Aarav,Ananya,Vihaan,Diya,Arjun,Isha,Rohan,Priya"),
            _t("Sharma,Patel,Singh,Kumar,Gupta,Reddy,Iyer,Das"),
            (("Mumbai", "Maharashtra", "MH", "4000##"), ("Delhi", "Delhi", "DL", "1100##"),
             ("Bengaluru", "Karnataka", "KA", "5600##"), ("Kolkata", "West Bengal", "WB", "7000##")),
            ("+91 ^#### #####",)),
)
# fmt: on
STREETS = _t(
    "Market Street,High Street,Station Road,Park Avenue,Church Lane,Mill Road,Queen Street,Oak Drive"
)
_FILL = {"#": "0123456789", "%": "123456789", "~": "12345", "^": "6789", "@": "ABDEFGHJLNPQRSTUWXYZ"}


@dataclass(frozen=True)
class Product:
    """A catalog entry; prices are USD list prices converted to each market's charm price."""

    product_id: int
    title: str
    product_type: str
    vendor: str
    usd: Decimal
    grams: int


def _catalog(rows: str, first_id: int) -> tuple[Product, ...]:
    out = []
    for i, row in enumerate(rows.strip().splitlines()):
        title, kind, vendor, usd, grams = (part.strip() for part in row.split("|"))
        out.append(Product(first_id + i * 10, title, kind, vendor, Decimal(usd), int(grams)))
    return tuple(out)


STANDARD = _catalog(
    """
    Organic Cotton Tee|Apparel|Northwind Basics|28|200
    Everyday Crew Socks (3 pack)|Apparel|Northwind Basics|16|150
    Canvas Tote Bag|Accessories|Harbor & Co|24|300
    Ceramic Pour-Over Set|Home|Kiln Studio|42|900
    Lavender Body Wash|Beauty|Meadow Apothecary|14|400
    Trail Water Bottle|Outdoor|Summit Gear|22|350
    Recycled Notebook Set|Stationery|Paper Trail|18|500
    Wool Beanie|Accessories|Harbor & Co|26|120
    """,
    7_100_000_000_000,
)
PREMIUM = _catalog(
    """
    Merino Wool Sweater|Apparel|Northwind Atelier|148|600
    Leather Weekender Bag|Accessories|Harbor & Co|289|1800
    Cast Iron Dutch Oven|Home|Kiln Studio|189|5200
    Down Insulated Jacket|Outdoor|Summit Gear|259|900
    Ceramic Dinnerware Set (16 pc)|Home|Kiln Studio|219|6400
    Cashmere Scarf|Accessories|Northwind Atelier|129|200
    """,
    7_200_000_000_000,
)
SHIPPING_USD = Decimal("6.5")
_REFERRALS = (  # (landing_site, referring_site) as JSON values
    ('"/?utm_source=google&utm_medium=cpc&gclid=demo"', '"https://www.google.com/"'),
    ('"/products/demo?utm_source=facebook&utm_medium=paid_social"', '"https://l.facebook.com/"'),
    ('"/?utm_source=instagram&utm_medium=social"', '"https://l.instagram.com/"'),
    ('"/?utm_source=klaviyo&utm_medium=email&utm_campaign=winback"', "null"),
    ('"/"', "null"),
    ('"/collections/all"', '"https://www.bing.com/"'),
)
_COUPON_SITES = (
    ('"/?utm_source=couponfollow&utm_medium=affiliate"', '"https://couponfollow.com/"'),
    ('"/?utm_source=honey&utm_medium=affiliate"', '"https://www.joinhoney.com/"'),
)
_SUBJECTS = ("Where is my order?", "Item arrived damaged", "Wrong size", "Refund status", "Change address")


def _fill(rng: random.Random, pattern: str) -> str:
    return "".join(rng.choice(_FILL[ch]) if ch in _FILL else ch for ch in pattern)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def _scale(currency: str) -> int:
    """Minor units per unit: the generator counts money in integer cents (yen for JPY)."""
    return 1 if currency == "JPY" else 100


def _fmt(minor: int, currency: str) -> str:
    """Integer minor units as Shopify's decimal string ("49.99", "7400")."""
    return str(minor) if currency == "JPY" else f"{minor // 100}.{minor % 100:02d}"


@cache
def _price(usd: Decimal, currency: str) -> int:
    """A local charm price in minor units for a USD list price (49.99, 7,400 JPY, 4,199 INR)."""
    local = usd / RATES_TO_USD[currency]
    if currency == "JPY":
        return int((local / 100).quantize(ONE) * 100)
    if currency == "INR":
        return int((local / 10).quantize(ONE) * 10 - 1) * 100
    return int(local.quantize(ONE)) * 100 - 1


@cache
def _free_shipping_over(currency: str) -> int:
    return int(Decimal(60) / RATES_TO_USD[currency]) * _scale(currency)


@cache
def _local(offset_minutes: int) -> tuple[timedelta, str]:
    """A UTC offset and its ISO 8601 suffix ("+05:30")."""
    sign, minutes = ("-" if offset_minutes < 0 else "+"), abs(offset_minutes)
    return timedelta(minutes=offset_minutes), f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _stamp(moment: datetime, country: Country) -> str:
    """A naive UTC moment as Shopify writes it: local time with the country's offset."""
    delta, suffix = _local(country.offset_minutes)
    return (moment + delta).isoformat() + suffix


def _set(amount: str, currency: str) -> str:
    """A ``*_set`` object (shop and presentment money) as JSON text."""
    money = f'{{"amount":"{amount}","currency_code":"{currency}"}}'
    return f'{{"shop_money":{money},"presentment_money":{money}}}'


def _product(product: Product, currency: str) -> tuple[int, str]:
    """A product's local price and the static middle of its line-item JSON (made once)."""
    found = _PRODUCTS.get((product.product_id, currency))
    if found is None:
        found = _PRODUCTS[product.product_id, currency] = _product_json(product, currency)
    return found


_PRODUCTS: dict[tuple[int, str], tuple[int, str]] = {}


def _product_json(product: Product, currency: str) -> tuple[int, str]:
    price = _price(product.usd, currency)
    text = _fmt(price, currency)
    static = _dumps({
        "product_id": product.product_id, "variant_id": product.product_id + 1, "title": product.title,
        "name": product.title, "variant_title": None, "sku": f"SKU-{product.product_id % 100_000}",
        "vendor": product.vendor, "product_type": product.product_type, "fulfillable_quantity": 0,
        "fulfillment_service": "manual", "fulfillment_status": "fulfilled", "gift_card": False,
        "grams": product.grams, "requires_shipping": True, "taxable": True, "price": text,
        "total_discount": "0.00", "tax_lines": [], "duties": [], "properties": [],
    })[1:-1]  # fmt: skip
    return price, f'{static},"price_set":{_set(text, currency)},"total_discount_set":{_set("0.00", currency)}'


@dataclass
class DemoCustomer:
    """One generated customer: who, which segment, and what they did (as JSON text and rows)."""

    index: int
    customer_id: int
    segment: str
    label: str
    country: Country
    email: str
    first_name: str
    last_name: str
    phone: str | None
    city: tuple[str, str, str, str]
    postal_code: str
    street: str
    subscribed: bool
    orders: list[str] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)
    checkouts: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)
    test_orders: int = 0
    parts: dict[str, str] = field(default_factory=dict)  # JSON serialized once per customer

    def serialize(self, created: datetime) -> None:
        """Serialize the parts every order repeats (the customer record is ``created`` then)."""
        c, city, stamp = self.country, self.city, _stamp(created, self.country)
        address = {
            "first_name": self.first_name, "last_name": self.last_name,
            "name": f"{self.first_name} {self.last_name}", "address1": self.street, "address2": None,
            "company": None, "city": city[0], "province": city[1], "province_code": city[2],
            "zip": self.postal_code, "country": c.name, "country_code": c.code, "phone": self.phone,
            "latitude": None, "longitude": None,
        }  # fmt: skip
        consent = {"state": "subscribed" if self.subscribed else "not_subscribed",
                   "opt_in_level": "single_opt_in", "consent_updated_at": stamp}  # fmt: skip
        customer = {
            "id": self.customer_id, "email": self.email, "created_at": stamp, "updated_at": stamp,
            "first_name": self.first_name, "last_name": self.last_name, "state": "enabled", "note": None,
            "verified_email": True, "tax_exempt": False, "phone": self.phone, "currency": c.currency,
            "tags": "", "email_marketing_consent": consent, "sms_marketing_consent": None,
            "admin_graphql_api_id": f"gid://shopify/Customer/{self.customer_id}",
            "default_address": {"id": self.customer_id + 1, "customer_id": self.customer_id, **address,
                                "country_name": c.name, "default": True},
        }  # fmt: skip
        address_json = _dumps(address)
        self.parts = {
            "customer": _dumps(customer), "address": address_json, "email": _dumps(self.email),
            "phone": _dumps(self.phone), "consent": "true" if self.subscribed else "false",
            "tail": f'"customer":{_dumps(customer)},"billing_address":{address_json},'
                    f'"shipping_address":{address_json}}}',
        }  # fmt: skip


def _customer(rng: random.Random, index: int, segment: str) -> DemoCustomer:
    country = rng.choices(COUNTRIES, weights=[c.weight for c in COUNTRIES])[0]
    first, last = rng.choice(country.first_names), rng.choice(country.last_names)
    place = rng.randrange(len(country.cities))
    city, phone = country.cities[place], country.phones[place % len(country.phones)]  # area code matches city
    domain = ("example.com", "example.net", "example.org")[index % 3]
    return DemoCustomer(
        index=index, customer_id=6_000_000_000_000 + index * 10, segment=segment,
        label=SEGMENTS[segment][0] if segment in SEGMENTS else "neutral", country=country,
        email=f"{_ascii(first)}.{_ascii(last)}.{index}@{domain}", first_name=first, last_name=last,
        phone=_fill(rng, phone) if rng.random() < 0.6 else None, city=city,
        postal_code=_fill(rng, city[3]), street=f"{rng.randint(1, 240)} {rng.choice(STREETS)}",
        subscribed=rng.random() < (0.8 if segment == "loyal_high_value" else 0.45),
    )  # fmt: skip


@dataclass(frozen=True)
class _Plan:
    """One order to make: when (naive UTC), lines, discount %, share of lines returned, tier."""

    when: datetime
    lines: int
    discount_pct: int
    returned: float
    premium: bool = False


def _plans(rng: random.Random, segment: str, now: datetime) -> list[_Plan]:
    """The order history a segment implies, oldest first."""

    def days_ago(oldest: int, newest: int, n: int = 1) -> list[datetime]:
        return sorted(
            now - timedelta(seconds=rng.randrange(newest * 86_400, oldest * 86_400)) for _ in range(n)
        )

    def maybe(p: float, value: Any, other: Any = 0) -> Any:
        return value if rng.random() < p else other

    if segment == "loyal_high_value":  # many, recent, premium, full price, kept
        return [_Plan(t, rng.randint(2, 4), maybe(0.1, 10), maybe(0.05, 0.3, 0.0), premium=True)
                for t in days_ago(720, 3, rng.randint(6, 14))]  # fmt: skip
    if segment == "discount_hunter":  # only buys with 25-50% codes, single cheap items
        return [_Plan(t, 1, maybe(0.9, rng.choice((25, 30, 40, 50))), 0.0)
                for t in days_ago(540, 5, rng.randint(3, 8))]  # fmt: skip
    if segment == "serial_returner":  # most orders half or fully returned
        return [_Plan(t, rng.randint(2, 4), 0, maybe(0.75, rng.choice((0.5, 1.0)), 0.0))
                for t in days_ago(540, 10, rng.randint(4, 9))]  # fmt: skip
    if segment == "support_heavy":  # ordinary orders, many tickets (see _build)
        return [
            _Plan(t, rng.randint(1, 3), 0, maybe(0.2, 0.3, 0.0)) for t in days_ago(400, 10, rng.randint(2, 5))
        ]
    if segment == "one_time":  # one order, long ago
        return [_Plan(days_ago(720, 200)[0], rng.randint(1, 2), maybe(0.2, 10), 0.0)]
    if segment == "new_customer":  # first order in the last three weeks
        return [_Plan(days_ago(20, 1)[0], rng.randint(1, 3), maybe(0.3, 10), 0.0)]
    if segment == "regular":
        return [_Plan(t, rng.randint(1, 3), maybe(0.2, 10), maybe(0.08, 0.3, 0.0))
                for t in days_ago(540, 15, rng.randint(2, 4))]  # fmt: skip
    return []  # a prospect: checkouts only


class _Line(NamedTuple):
    """A generated line item: its JSON and what the refund, totals and generic row need."""

    json: str
    line_id: int
    price: int
    quantity: int
    grams: int
    product_type: str


def _lines(rng: random.Random, plan: _Plan, order_id: int, cur: str) -> tuple[list[_Line], int, int]:
    """Line items with their discount allocations, and the order's gross and discount (minor units)."""
    lines, gross, discount = [], 0, 0
    for j, product in enumerate(rng.sample(PREMIUM if plan.premium else STANDARD, plan.lines)):
        qty = 1 if rng.random() < 0.8 else 2
        price, static = _product(product, cur)
        cut = price * qty * plan.discount_pct // 100
        gross, discount = gross + price * qty, discount + cut
        line_id = order_id * 10 + j
        allocation = "[]"
        if cut:
            amount = _fmt(cut, cur)
            allocation = (
                f'[{{"amount":"{amount}","discount_application_index":0,"amount_set":{_set(amount, cur)}}}]'
            )
        text = (
            f'{{"id":{line_id},"admin_graphql_api_id":"gid://shopify/LineItem/{line_id}",{static},'
            f'"quantity":{qty},"current_quantity":{qty},"discount_allocations":{allocation}}}'
        )
        lines.append(_Line(text, line_id, price, qty, product.grams, product.product_type))
    return lines, gross, discount


def _refund(rng: random.Random, cust: DemoCustomer, plan: _Plan, order_id: int, lines: list[_Line],
            gross: int, discount: int) -> tuple[str, int, datetime]:  # fmt: skip
    """A return of the first lines, net of their share of the discount, as refund JSON."""
    c, cur = cust.country, cust.country.currency
    back = lines[: max(1, round(len(lines) * plan.returned))]
    when = plan.when + timedelta(days=rng.randint(5, 25))
    value = sum(line.price * line.quantity for line in back)
    amount = value - discount * value // gross
    refund_id, stamp = order_id + 7, _stamp(when, c)
    items = ",".join(
        f'{{"id":{line.line_id + 3},"line_item_id":{line.line_id},"quantity":{line.quantity},'
        f'"restock_type":"return","subtotal":"{_fmt(line.price, cur)}","total_tax":"0.00",'
        f'"subtotal_set":{_set(_fmt(line.price, cur), cur)}}}'
        for line in back
    )
    text = (
        f'{{"id":{refund_id},"order_id":{order_id},"created_at":"{stamp}","processed_at":"{stamp}",'
        f'"note":"Returned","restock":true,"order_adjustments":[],"refund_line_items":[{items}],'
        f'"transactions":[{{"id":{refund_id + 1},"order_id":{order_id},"kind":"refund","status":"success",'
        f'"gateway":"shopify_payments","amount":"{_fmt(amount, cur)}","currency":"{cur}",'
        f'"created_at":"{stamp}"}}]}}'
    )
    return text, amount, when


def _order(
    rng: random.Random, cust: DemoCustomer, plan: _Plan, k: int, test: bool
) -> tuple[str, dict[str, str]]:
    """One order as Shopify JSON text and as a generic-layout row."""
    c, cur, p = cust.country, cust.country.currency, cust.parts
    order_id, number = 5_000_000_000_000 + cust.index * 100 + k, 1001 + cust.index * 100 + k
    lines, gross, discount = _lines(rng, plan, order_id, cur)
    shipping = 0 if gross - discount > _free_shipping_over(cur) else _price(SHIPPING_USD, cur)
    total, refunded, refund = gross - discount + shipping, 0, ""
    created, updated = _stamp(plan.when, c), _stamp(plan.when + timedelta(minutes=rng.randint(1, 90)), c)
    if plan.returned and not test:
        refund, refunded, when = _refund(rng, cust, plan, order_id, lines, gross, discount)
        updated = _stamp(when, c)
    status = "paid" if not refund else "refunded" if refunded >= gross - discount else "partially_refunded"
    landing, referrer = rng.choice(_COUPON_SITES if cust.segment == "discount_hunter" else _REFERRALS)
    source = "web" if rng.random() < 0.9 else rng.choice(("pos", "shopify_draft_order"))
    web = source == "web"
    g, d, t, sub, ship = (_fmt(v, cur) for v in (gross, discount, total, gross - discount, shipping))
    codes = apps = "[]"
    if plan.discount_pct:
        code = f"SAVE{plan.discount_pct}"
        codes = f'[{{"code":"{code}","amount":"{d}","type":"percentage"}}]'
        apps = (f'[{{"type":"discount_code","code":"{code}","value":"{plan.discount_pct}.0",'
                '"value_type":"percentage","allocation_method":"across","target_selection":"all",'
                '"target_type":"line_item"}]')  # fmt: skip
    text = (
        f'{{"id":{order_id},"admin_graphql_api_id":"gid://shopify/Order/{order_id}","name":"#{number}",'
        f'"order_number":{number},"app_id":{580111 if web else "null"},"confirmed":true,'
        f'"test":{"true" if test else "false"},"email":{p["email"]},"contact_email":{p["email"]},'
        f'"phone":{p["phone"]},"created_at":"{created}","processed_at":"{created}","updated_at":"{updated}",'
        f'"currency":"{cur}","presentment_currency":"{cur}","customer_locale":"{c.locale}",'
        f'"buyer_accepts_marketing":{p["consent"]},"cancel_reason":null,"cancelled_at":null,'
        f'"financial_status":"{status}","fulfillment_status":"fulfilled","source_name":"{source}",'
        f'"landing_site":{landing if web else "null"},"referring_site":{referrer if web else "null"},'
        f'"payment_gateway_names":["{"bogus" if test else "shopify_payments"}"],'
        f'"taxes_included":{"false" if c.code in ("US", "CA") else "true"},"tags":"","note":null,'
        f'"total_weight":{sum(line.grams * line.quantity for line in lines)},'
        f'"total_line_items_price":"{g}","total_line_items_price_set":{_set(g, cur)},'
        f'"subtotal_price":"{sub}","subtotal_price_set":{_set(sub, cur)},'
        f'"total_discounts":"{d}","total_discounts_set":{_set(d, cur)},'
        f'"total_price":"{t}","total_price_set":{_set(t, cur)},"total_tax":"0.00",'
        f'"total_shipping_price_set":{_set(ship, cur)},"current_total_discounts":"{d}",'
        f'"current_subtotal_price":"{_fmt(gross - discount - refunded, cur)}",'
        f'"current_total_price":"{_fmt(total - refunded, cur)}","discount_codes":{codes},'
        f'"discount_applications":{apps},"line_items":[{",".join(line.json for line in lines)}],'
        f'"refunds":[{refund}],"shipping_lines":[{{"id":{order_id + 5},"title":"Standard","code":"Standard",'
        f'"source":"shopify","price":"{ship}","discounted_price":"{ship}","discount_allocations":[]}}],'
        f"{p['tail']}"
    )
    row = {
        "order_id": str(order_id), "customer_id": str(cust.customer_id), "created_at": created,
        "currency": cur, "gross": g, "email": cust.email, "phone": cust.phone or "",
        "first_name": cust.first_name, "last_name": cust.last_name, "city": cust.city[0],
        "region": cust.city[2], "postal_code": cust.postal_code, "country": c.code, "discount": d,
        "refunded": _fmt(refunded, cur), "status": status, "channel": source,
        "categories": "|".join(dict.fromkeys(line.product_type for line in lines)),
        "accepts_marketing": p["consent"], "updated_at": updated,
    }  # fmt: skip
    return text, row


def _checkout(rng: random.Random, cust: DemoCustomer, when: datetime) -> str:
    """An abandoned checkout: contact given, never completed."""
    c, cur = cust.country, cust.country.currency
    token = f"{rng.getrandbits(128):032x}"
    items, value = [], 0
    for product in rng.sample(STANDARD + PREMIUM, rng.randint(1, 3)):
        price = _product(product, cur)[0]
        value += price
        items.append({"product_id": product.product_id, "variant_id": product.product_id + 1,
                      "title": product.title, "sku": None, "product_type": product.product_type,
                      "vendor": product.vendor, "quantity": 1, "price": _fmt(price, cur),
                      "line_price": _fmt(price, cur)})  # fmt: skip
    landing, referrer = (json.loads(value) for value in rng.choice(_REFERRALS))
    total = _fmt(value, cur)
    body = {
        "id": 3_000_000_000_000 + cust.index * 10 + len(cust.checkouts), "token": token,
        "cart_token": token[:24], "email": cust.email, "phone": cust.phone, "created_at": _stamp(when, c),
        "updated_at": _stamp(when + timedelta(minutes=rng.randint(1, 20)), c), "completed_at": None,
        "closed_at": None, "currency": cur, "presentment_currency": cur, "customer_locale": c.locale,
        "buyer_accepts_marketing": cust.subscribed, "source_name": "web", "landing_site": landing,
        "referring_site": referrer, "total_line_items_price": total, "subtotal_price": total,
        "total_discounts": "0.00", "total_tax": "0.00", "total_price": total, "line_items": items,
        "abandoned_checkout_url": f"https://demo-shop.myshopify.com/checkouts/{token}/recover",
    }  # fmt: skip
    parts = cust.parts
    return f'{_dumps(body)[:-1]},"customer":{parts["customer"]},"shipping_address":{parts["address"]}}}'


def _ticket(rng: random.Random, cust: DemoCustomer, when: datetime, k: int) -> str:
    """A support ticket, in the generic shape or (one in five) the Zendesk-like one."""
    subject, stamp = rng.choice(_SUBJECTS), _stamp(when, cust.country)
    if rng.random() < 0.2:
        ticket = {"id": 100_000 + cust.index * 20 + k, "created_at": stamp, "subject": subject,
                  "status": "solved", "requester": {"email": cust.email}}  # fmt: skip
        return _dumps({"ticket": ticket})
    return _dumps({"ticket_id": f"T-{cust.index}-{k}", "customer_email": cust.email,
                   "customer_id": str(cust.customer_id), "created_at": stamp, "subject": subject,
                   "channel": "email", "status": "solved"})  # fmt: skip


def _build(rng: random.Random, cust: DemoCustomer, now: datetime) -> DemoCustomer:
    """Fill one customer's orders, checkouts and tickets from their segment's plans."""
    plans = _plans(rng, cust.segment, now)
    first_seen = plans[0].when if plans else now - timedelta(seconds=rng.randrange(86_400, 30 * 86_400))
    cust.serialize(first_seen - timedelta(minutes=rng.randint(2, 30)))
    for plan in plans:
        text, row = _order(rng, cust, plan, len(cust.orders), False)
        cust.orders.append(text)
        cust.rows.append(row)
        if rng.random() < TEST_ORDER_CHANCE:  # a merchant's test checkout, flagged test: true
            cust.orders.append(_order(rng, cust, plan, len(cust.orders), True)[0])
            cust.test_orders += 1
    if not plans or rng.random() < 0.1:
        since = max(plans[-1].when if plans else first_seen, now - timedelta(days=30))
        cust.checkouts.append(
            _checkout(
                rng, cust, since + timedelta(seconds=rng.randrange(1 + int((now - since).total_seconds())))
            )
        )
    if plans:
        count = rng.randint(4, 10) if cust.segment == "support_heavy" else int(rng.random() < 0.07)
        for k in range(count):
            after = rng.choice(plans).when
            cust.tickets.append(_ticket(rng, cust, after + timedelta(seconds=rng.randrange(3 * 86_400)), k))
    return cust


def _generate_range(seed: int, as_of: date, start: int, stop: int) -> Iterator[DemoCustomer]:
    """Customers ``start..stop-1``; indexes from ``PROSPECTS_FROM`` on are prospects."""
    now = datetime.combine(as_of, time(12))  # naive UTC throughout; _stamp adds the offset
    names, weights = list(SEGMENTS), [w for _, w in SEGMENTS.values()]
    for i in range(start, stop):
        if i < PROSPECTS_FROM:
            rng = random.Random(f"{seed}:{i}")
            yield _build(rng, _customer(rng, i, rng.choices(names, weights)[0]), now)
        else:
            rng = random.Random(f"{seed}:p{i - PROSPECTS_FROM}")
            yield _build(rng, _customer(rng, i, "prospect"), now)


def _ranges(customers: int, size: int) -> list[tuple[int, int]]:
    prospects = round(customers * PROSPECT_SHARE)
    spans = [(a, min(a + size, customers)) for a in range(0, customers, size)]
    return spans + [
        (PROSPECTS_FROM + a, PROSPECTS_FROM + min(a + size, prospects)) for a in range(0, prospects, size)
    ]


def generate(customers: int, seed: int, as_of: date) -> Iterator[DemoCustomer]:
    """``customers`` buying customers, then ``PROSPECT_SHARE`` as many prospects (checkouts only)."""
    for start, stop in _ranges(customers, CHUNK):
        yield from _generate_range(seed, as_of, start, stop)


@dataclass(frozen=True)
class DemoSummary:
    """What ``write_demo`` wrote."""

    customers: int
    orders: int
    test_orders: int
    checkouts: int
    tickets: int
    files: tuple[Path, ...]


def sibling(out: Path, suffix: str) -> Path:
    """``FILE.<suffix>`` beside ``FILE``."""
    return out.with_name(f"{out.name}.{suffix}")


def rates_yaml(base: str = "USD") -> str:
    """The demo's rates table in the ``rates load`` YAML format."""
    per_base = RATES_TO_USD[base]
    rows = [
        f'  {cur}: "{(rate / per_base).quantize(Decimal("0.000001"))}"'
        for cur, rate in RATES_TO_USD.items()
        if cur != base
    ]
    return "\n".join([f"base: {base}", "rates:  # units of base per unit of currency", *rows]) + "\n"


@dataclass(frozen=True)
class _Chunk:
    """A range of customers rendered to file text in a worker process."""

    orders: str
    checkouts: str
    tickets: str
    truth: str
    counts: tuple[int, int, int, int, int]  # customers, orders, test orders, checkouts, tickets


def _render(job: tuple[int, date, str, int, int]) -> _Chunk:
    seed, as_of, fmt, start, stop = job
    orders, truth = io.StringIO(), io.StringIO()
    rows, truth_rows = csv.DictWriter(orders, fieldnames=GENERIC_COLUMNS), csv.writer(truth)
    checkouts: list[str] = []
    tickets: list[str] = []
    counts = [0, 0, 0, 0, 0]
    for cust in _generate_range(seed, as_of, start, stop):
        if fmt == "generic":
            rows.writerows(cust.rows)
        else:
            orders.writelines(f"{o}\n" for o in cust.orders)
        checkouts.extend(f"{c}\n" for c in cust.checkouts)
        tickets.extend(f"{t}\n" for t in cust.tickets)
        truth_rows.writerow(
            (cust.customer_id, cust.email, cust.segment, cust.label, cust.country.code, len(cust.rows))
        )
        generic = fmt == "generic"
        made = (1, len(cust.rows) if generic else len(cust.orders), 0 if generic else cust.test_orders,
                len(cust.checkouts), len(cust.tickets))  # fmt: skip
        counts = [a + b for a, b in zip(counts, made, strict=True)]
    customers_, orders_, tests, checkouts_, tickets_ = counts
    totals = (customers_, orders_, tests, checkouts_, tickets_)
    return _Chunk(orders.getvalue(), "".join(checkouts), "".join(tickets), truth.getvalue(), totals)


def _rendered(jobs: list[tuple[int, date, str, int, int]], workers: int) -> Iterator[_Chunk]:
    """Chunks in order; with several workers at most two chunks per worker are in flight."""
    if workers <= 1 or len(jobs) == 1:
        yield from map(_render, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[_Chunk]] = deque()
        for job in jobs:
            pending.append(pool.submit(_render, job))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def write_demo(out: Path, *, customers: int, seed: int, as_of: date, fmt: str = "shopify",
               workers: int = 1) -> DemoSummary:  # fmt: skip
    """Write the orders file and its siblings (the generic layout has no test orders).

    ``workers`` processes render chunks of ``CHUNK`` customers in parallel; the files are the same
    whatever the number (every customer has its own seed). Default one: each chunk's ~20 MB of
    text is pickled back to this process, which on two busy cores cost more than it saved.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    names = ("checkouts.jsonl", "tickets.jsonl", "truth.csv", "rates.yaml")
    files = (out, *(sibling(out, name) for name in names))
    jobs = [(seed, as_of, fmt, start, stop) for start, stop in _ranges(customers, CHUNK)]
    totals = [0, 0, 0, 0, 0]
    with (
        open(files[0], "w", encoding="utf-8", newline="") as orders_f,
        open(files[1], "w", encoding="utf-8") as checkouts_f,
        open(files[2], "w", encoding="utf-8") as tickets_f,
        open(files[3], "w", encoding="utf-8", newline="") as truth_f,
    ):
        if fmt == "generic":
            csv.DictWriter(orders_f, fieldnames=GENERIC_COLUMNS).writeheader()
        csv.writer(truth_f).writerow(
            ("shop_customer_id", "email", "segment", "expected_label", "country", "orders")
        )
        for chunk in _rendered(jobs, workers):
            orders_f.write(chunk.orders)
            checkouts_f.write(chunk.checkouts)
            tickets_f.write(chunk.tickets)
            truth_f.write(chunk.truth)
            totals = [a + b for a, b in zip(totals, chunk.counts, strict=True)]
    files[4].write_text(rates_yaml(), encoding="utf-8")
    customers_made, orders, tests, checkouts, tickets = totals
    return DemoSummary(customers_made, orders, tests, checkouts, tickets, files)


def demo_order_bodies(customers: int, seed: int = 1, as_of: date = date(2026, 1, 1)) -> list[bytes]:
    """Every generated order as the bytes a webhook would carry (for tests and benchmarks)."""
    return [order.encode() for cust in generate(customers, seed, as_of) for order in cust.orders]
