"""Identifier quality of an audience before upload, per country: why a list will match poorly.

For the customers an audience selects now, per country: the share with a valid email, a valid
phone, a complete name + postcode + country (Google matches an address only whole), consent for
each platform, and duplicates (customers sharing a hashed email or phone with another customer:
the platform counts them once). Stored identifiers are the normalized, valid ones, so holding an
identifier means it is valid; the values themselves are never read out. Consent is each
platform's upload rule as its syncer applies it (``META_CONSENT``, ``GOOGLE_CONSENT_ELSEWHERE``,
the audience's role), so the share is who may be uploaded, not a stricter reading of it.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from shared.config import env_choice
from shared.definitions.audiences import AudienceDefinition
from shared.store.db import Store
from shared.store.models import Customer, CustomerIdentifier, Label
from shared.sync.google_consent import Elsewhere, GoogleConsent
from shared.sync.membership import Consent, CustomerView

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


@dataclass(frozen=True)
class UploadRules:
    """Who each platform's syncer lets into a list of one role (``include`` or ``exclusion``)."""

    role: str = "include"
    meta: Consent = Consent.MARKETING
    google: GoogleConsent = field(default_factory=GoogleConsent)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, role: str = "include") -> UploadRules:
        """The installation's policies, read as the syncers read them (the api reads them once,
        at start); ``SettingsError`` names a bad one."""
        env = os.environ if environ is None else environ
        meta = env_choice(env, "META_CONSENT", Consent, Consent.MARKETING)
        elsewhere = env_choice(env, "GOOGLE_CONSENT_ELSEWHERE", Elsewhere, Elsewhere.MARKETING)
        return cls(role, meta, GoogleConsent(elsewhere))

    def allowed(self, member: Member) -> dict[str, bool]:
        """Per platform, whether ``member`` may be uploaded."""
        view = CustomerView(
            key="",
            label="",
            stage=None,
            value=None,
            email_consent=member.email_marketing,
            sms_consent=member.sms_marketing,
            identifiers={},
            country=member.country,
            ad_user_data=member.ad_user_data,
            ad_personalization=member.ad_personalization,
        )
        return {"meta": self.meta.allows(view, self.role), "google": self.google.allows(view, self.role)}


def summarize(members: Iterable[Member], rules: UploadRules | None = None) -> list[dict[str, Any]]:
    """Per country (``null`` when unknown), largest first: counts and shares."""
    rules = rules or UploadRules()
    groups: dict[str | None, list[Member]] = defaultdict(list)
    for member in members:
        groups[member.country].append(member)
    rows = []
    for country, group in groups.items():
        n = len(group)

        def share(count: int, n: int = n) -> float:
            return round(count / n, 4) if n else 0.0

        allowed = [rules.allowed(m) for m in group]  # once per member, both platforms
        rows.append(
            {
                "country": country,
                "customers": n,
                "valid_email": share(sum("EMAIL" in m.fields for m in group)),
                "valid_phone": share(sum("PHONE" in m.fields for m in group)),
                "complete_address": share(sum(m.fields >= ADDRESS for m in group)),
                "consent": {
                    platform: share(sum(a[platform] for a in allowed)) for platform in ("meta", "google")
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
