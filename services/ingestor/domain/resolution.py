"""Who is this customer, and what do we now know of them: the one rule for every event.

Orders, checkouts, customer records and support tickets all name their customer the same way
and all feed the same customer row, whether they arrive one by one or in a batch of 500:

- **Key.** A stored (or earlier in the same batch) customer with the event's shop customer id
  wins; else the key derived from the email; else the key derived from the shop id.
- **Fields.** Each customer-level field (shop customer id, country, consents) takes the newest
  non-empty value among the stored row and the events, versions compared by the events' own
  timestamps. An older event therefore fills a field that is still empty (a ticket with only an
  email, then that customer's older order, leaves the shop customer id filled) but never
  overwrites a value that came with a newer version. Empty never clears.
- ``first_seen_at`` is the earliest moment any event showed the customer; ``updated_at`` the
  newest version seen.

Pure: plain data in, plain data out; the adapter reads and writes the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from shared.identity import customer_key

# The customer row's fields that events fill, in the order the row lists them.
FIELDS = (
    "shop_customer_id",
    "country",
    "accepts_email_marketing",
    "accepts_sms_marketing",
    "ad_user_data",
    "ad_personalization",
)


@dataclass(frozen=True, slots=True)
class Sighting:
    """What one event says about its customer: identity, customer-level facts, and their version."""

    shop: str
    email: str | None  # the raw address the key derives from (screened; never stored)
    shop_customer_id: str | None
    country: str | None
    accepts_email_marketing: bool | None
    accepts_sms_marketing: bool | None
    seen_at: datetime  # the event's version: its updated_at (or created_at when it has none)
    first_seen: datetime  # when the event shows the customer existed (an order's created_at)
    # Google's ad consent signals: only a customers import states them (None: not stated).
    ad_user_data: bool | None = None
    ad_personalization: bool | None = None


@dataclass(frozen=True, slots=True)
class StoredCustomer:
    """The customer row as stored (the fields this rule reads)."""

    customer_key: str
    shop: str
    shop_customer_id: str | None
    country: str | None
    accepts_email_marketing: bool | None
    accepts_sms_marketing: bool | None
    first_seen_at: datetime
    updated_at: datetime
    ad_user_data: bool | None = None
    ad_personalization: bool | None = None


@dataclass(frozen=True, slots=True)
class CustomerWrite:
    """The row to write for one customer; ``changed``: a fact others care about is new."""

    row: dict[str, object]
    new: bool
    changed: bool


@lru_cache(maxsize=65536)
def _derived_key(shop: str, email: str | None, shop_customer_id: str | None) -> str | None:
    # A repeat buyer brings the same email on every order; canonicalizing and hashing it once
    # per process is most of the key's cost in a bulk import.
    return customer_key(shop=shop, email=email, shop_customer_id=shop_customer_id)


def resolve_keys(
    sightings: Sequence[Sighting], stored_ids: Mapping[tuple[str, str], str]
) -> list[str | None]:
    """The customer key of each sighting, in order (None: neither an email nor an id).

    ``stored_ids`` maps (shop, shop customer id) to the stored customer holding that id. A
    customer an earlier sighting of the same batch created counts as stored for later ones,
    exactly as if the events had come one by one.
    """
    known = dict(stored_ids)
    keys: list[str | None] = []
    for s in sightings:
        cid = s.shop_customer_id
        key = known.get((s.shop, cid)) if cid else None
        if key is None:
            key = _derived_key(s.shop, s.email, cid)
            if key is not None and cid:
                known.setdefault((s.shop, cid), key)
        keys.append(key)
    return keys


def merge_customer(
    key: str, stored: StoredCustomer | None, sightings: Sequence[Sighting], now: datetime
) -> CustomerWrite | None:
    """The customer row after these sightings (in arrival order); None when nothing would change.

    Ties between versions go to the later arrival, as an update with the same timestamp does.
    """
    values: dict[str, object] = {}
    for name in FIELDS:
        best_at: datetime | None = None
        best: object = None
        for s in sightings:
            value = getattr(s, name)
            if value is not None and (best_at is None or s.seen_at >= best_at):
                best_at, best = s.seen_at, value
        if stored is not None:
            kept = getattr(stored, name)
            if kept is not None and (best_at is None or stored.updated_at > best_at):
                best = kept
        values[name] = best
    first_seen = min(min(s.first_seen for s in sightings), now)
    updated_at = max(s.seen_at for s in sightings)
    if stored is None:
        row = {"customer_key": key, "shop": sightings[0].shop, **values}
        return CustomerWrite(
            {**row, "first_seen_at": first_seen, "updated_at": updated_at}, new=True, changed=True
        )
    changed = any(values[name] != getattr(stored, name) for name in FIELDS)
    first_seen = min(first_seen, stored.first_seen_at)
    updated_at = max(updated_at, stored.updated_at)
    if not changed and first_seen == stored.first_seen_at and updated_at == stored.updated_at:
        return None
    row = {"customer_key": key, **values, "first_seen_at": first_seen, "updated_at": updated_at}
    return CustomerWrite(row, new=False, changed=changed)
