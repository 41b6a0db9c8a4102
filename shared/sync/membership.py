"""Who belongs in each Meta destination: selection, exclusion that wins, consent.

A destination is one audience definition on one ad account. A customer belongs when the
audience selects them, no exclusion audience of the same account selects them (exclusion
wins: nobody sits in an include list and the suppression list of the same account), and the
consent policy allows it. Erased customers have no label, so they are never selected.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from shared.definitions.audiences import AudienceDefinition, Selection


class Consent(enum.StrEnum):
    """How marketing consent limits uploads (``META_CONSENT``)."""

    MARKETING = "marketing"  # include lists need email or SMS consent; suppression lists do not
    STRICT = "strict"  # every list needs consent, suppression lists too
    ANY = "any"  # consent is handled outside audiencesync


@dataclass(frozen=True, slots=True)
class CustomerView:
    """What the syncer knows about one labelled customer: label, consent, Meta identifiers."""

    key: str
    label: str
    stage: str | None
    value: Decimal | None
    email_consent: bool | None
    sms_consent: bool | None
    identifiers: Mapping[str, str]  # Meta field (EMAIL, PHONE, FN, ...) -> SHA-256 hex


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
    """One audience definition on one Meta ad account, with the exclusions that beat it."""

    audience: AudienceDefinition
    account: str
    exclusions: tuple[Selection, ...] = ()

    @property
    def key(self) -> str:
        """The audience key."""
        return self.audience.key

    @property
    def value_based(self) -> bool:
        """Whether uploads carry LOOKALIKE_VALUE (a value-based lookalike seed)."""
        return bool(self.audience.meta and self.audience.meta.value_based)

    def wants(self, customer: CustomerView, policy: Consent) -> bool:
        """Whether ``customer`` belongs in this destination."""
        if not _selects(self.audience.select, customer):
            return False
        if any(_selects(exclusion, customer) for exclusion in self.exclusions):
            return False
        return consents(customer, policy, self.audience.role)


def _on_account(audience: AudienceDefinition, account: str) -> bool:
    meta = audience.meta
    return meta is not None and (not meta.accounts or account in meta.accounts)


def destinations(audiences: Sequence[AudienceDefinition], accounts: Sequence[str]) -> list[Destination]:
    """Every (audience, account) pair with a Meta destination, exclusions attached to includes."""
    out: list[Destination] = []
    for account in accounts:
        on_account = [a for a in audiences if _on_account(a, account)]
        exclusions = tuple(a.select for a in on_account if a.role == "exclusion")
        for audience in on_account:
            out.append(Destination(audience, account, exclusions if audience.role == "include" else ()))
    return out
