"""Identifier quality of an audience before upload, per country: why a list will match poorly.

For the customers an audience selects now, per country: the share with a valid email, a valid
phone, a complete name + postcode + country (Google matches an address only whole), consent for
each platform, and duplicates (customers sharing a hashed email or phone with another customer:
the platform counts them once). Stored identifiers are the normalized, valid ones, so holding an
identifier means it is valid; the values themselves are never read out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from shared.definitions.audiences import AudienceDefinition
from shared.store.db import Store
from shared.store.models import Customer, CustomerIdentifier, Label

PLATFORM = "meta"  # the identifier set read: Meta's is a superset of Google's fields
ADDRESS = frozenset({"FN", "LN", "ZIP", "COUNTRY"})


@dataclass(frozen=True)
class Member:
    """What the report needs of one selected customer (plain data)."""

    country: str | None
    fields: frozenset[str]
    email_marketing: bool | None
    sms_marketing: bool | None
    ad_user_data: bool | None
    ad_personalization: bool | None
    duplicate: bool


def summarize(members: Iterable[Member]) -> list[dict[str, Any]]:
    """Per country (``null`` when unknown), largest first: counts and shares."""
    groups: dict[str | None, list[Member]] = defaultdict(list)
    for member in members:
        groups[member.country].append(member)
    rows = []
    for country, group in groups.items():
        n = len(group)

        def share(count: int, n: int = n) -> float:
            return round(count / n, 4) if n else 0.0

        rows.append(
            {
                "country": country,
                "customers": n,
                "valid_email": share(sum("EMAIL" in m.fields for m in group)),
                "valid_phone": share(sum("PHONE" in m.fields for m in group)),
                "complete_address": share(sum(m.fields >= ADDRESS for m in group)),
                "consent": {
                    "meta": share(sum(bool(m.email_marketing or m.sms_marketing) for m in group)),
                    "google": share(sum(bool(m.ad_user_data and m.ad_personalization) for m in group)),
                },
                "duplicates": share(sum(m.duplicate for m in group)),
            }
        )
    return sorted(rows, key=lambda r: (-r["customers"], r["country"] or ""))


def members(store: Store, audience: AudienceDefinition) -> list[Member]:
    """The audience's selected customers with their identifier fields and consent."""
    with store.session() as session:
        labelled = session.execute(
            select(
                Customer.customer_key,
                Customer.country,
                Customer.accepts_email_marketing,
                Customer.accepts_sms_marketing,
                Customer.ad_user_data,
                Customer.ad_personalization,
                Label.label,
                Label.stage,
                Label.value,
            ).join(Label, Label.customer_key == Customer.customer_key)
        ).all()
        selected = {
            row.customer_key: row
            for row in labelled
            if audience.select.matches(
                row.label, row.stage, float(row.value) if row.value is not None else None
            )
        }
        fields: dict[str, set[str]] = defaultdict(set)
        holders: Counter[tuple[str, str]] = Counter()
        owner: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for key, field, value in session.execute(
            select(CustomerIdentifier.customer_key, CustomerIdentifier.field, CustomerIdentifier.value).where(
                CustomerIdentifier.platform == PLATFORM
            )
        ):
            if key in selected:
                fields[key].add(field)
                if field in ("EMAIL", "PHONE"):
                    holders[(field, value)] += 1
                    owner[key].append((field, value))
    return [
        Member(
            row.country,
            frozenset(fields.get(key, ())),
            row.accepts_email_marketing,
            row.accepts_sms_marketing,
            row.ad_user_data,
            row.ad_personalization,
            any(holders[pair] > 1 for pair in owner.get(key, ())),
        )
        for key, row in selected.items()
    ]
