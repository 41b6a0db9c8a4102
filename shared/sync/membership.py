"""Who belongs in each destination: selection, exclusion that wins, consent.

A destination is one audience definition on one platform account (a Meta ad account, a Google
Ads customer). A customer belongs when the
audience selects them, no exclusion audience of the same account selects them (exclusion
wins: nobody sits in an include list and the suppression list of the same account), and the
consent policy allows it. Erased customers have no label, so they are never selected.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from shared.definitions.audiences import AudienceDefinition, Selection


class ConsentRule(Protocol):
    """Whether a customer may be uploaded to a list of a role (``include`` or ``exclusion``)."""

    def allows(self, customer: CustomerView, role: str) -> bool:
        """True when the customer may be in the list."""
        ...


class Consent(enum.StrEnum):
    """How marketing consent limits uploads (``META_CONSENT``); a ``ConsentRule``."""

    MARKETING = "marketing"  # include lists need email or SMS consent; suppression lists do not
    STRICT = "strict"  # every list needs consent, suppression lists too
    ANY = "any"  # consent is handled outside audiencesync

    def allows(self, customer: CustomerView, role: str) -> bool:
        """``consents`` under this policy."""
        return consents(customer, self, role)


@dataclass(frozen=True, slots=True)
class CustomerView:
    """What the syncer knows about one labelled customer: label, consent, one platform's identifiers."""

    key: str
    label: str
    stage: str | None
    value: Decimal | None
    email_consent: bool | None
    sms_consent: bool | None
    identifiers: Mapping[str, str]  # platform field (EMAIL, PHONE, ... / email, phone, ...) -> value
    country: str | None = None  # ISO alpha-2 of the customer's address (consent regions)
    ad_user_data: bool | None = None  # Google's two ad consent signals; None: never stated
    ad_personalization: bool | None = None


def consents(customer: CustomerView, policy: Consent, role: str) -> bool:
    """Whether the consent policy lets this customer into a list of this role."""
    if policy is Consent.ANY or (policy is Consent.MARKETING and role == "exclusion"):
        # A suppression list only ever reduces what a customer is shown.
        return True
    return customer.email_consent is True or customer.sms_consent is True


def _selects(selection: Selection, customer: CustomerView) -> bool:
    value = float(customer.value) if customer.value is not None else None
    return selection.matches(customer.label, customer.stage, value)


@dataclass(frozen=True)
class Destination:
    """One audience definition on one platform account, with the exclusions that beat it."""

    audience: AudienceDefinition
    account: str
    exclusions: tuple[Selection, ...] = ()
    value_based: bool = False  # uploads carry the predicted value (Meta's LOOKALIKE_VALUE)

    @property
    def key(self) -> str:
        """The audience key."""
        return self.audience.key

    def wants(self, customer: CustomerView, policy: ConsentRule) -> bool:
        """Whether ``customer`` belongs in this destination."""
        if not _selects(self.audience.select, customer):
            return False
        if any(_selects(exclusion, customer) for exclusion in self.exclusions):
            return False
        return policy.allows(customer, self.audience.role)


@dataclass(frozen=True)
class Target:
    """How an audience goes to one platform: on which accounts (empty: all), value-based or not."""

    accounts: tuple[str, ...] = ()
    value_based: bool = False


# The adapter's reading of an audience definition: its target on that platform, or None.
Targets = Callable[[AudienceDefinition], Target | None]


def destinations(
    audiences: Sequence[AudienceDefinition], accounts: Sequence[str], targets: Targets
) -> list[Destination]:
    """Every (audience, account) pair the platform's ``targets`` accept, exclusions attached to includes."""
    out: list[Destination] = []
    for account in accounts:
        on_account = []
        for audience in audiences:
            target = targets(audience)
            if target is not None and (not target.accounts or account in target.accounts):
                on_account.append((audience, target))
        exclusions = tuple(a.select for a, _ in on_account if a.role == "exclusion")
        for audience, target in on_account:
            kept = exclusions if audience.role == "include" else ()
            out.append(Destination(audience, account, kept, target.value_based))
    return out
