"""Who may be uploaded to Google Customer Match, and with which consent signals.

Google's EU user consent policy covers the EEA, the United Kingdom and Switzerland: their users
are uploaded only when both ``ad_user_data`` and ``ad_personalization`` are granted, and a
withdrawal takes them off every list. audiencesync treats "unknown" as "not granted" there, and
treats a customer whose country is unknown as one of them (the cautious reading: uploading a
European without consent breaks the policy, leaving out an American costs one match).
Elsewhere the installation chooses (``GOOGLE_CONSENT_ELSEWHERE``):

- ``none``: nothing beyond Google's terms is required (consent sent as stored, unspecified if
  unknown);
- ``marketing``: email or SMS marketing consent, as Meta's default policy;
- ``ad``: the same two ad signals as in the EEA.

Shopify's marketing-email consent is not ad consent: the ad signals reach the store through the
customers import columns ``ad_user_data`` / ``ad_personalization`` (docs/syncer-google.md,
"Consent"; docs/import.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from shared.sync.membership import CustomerView

# EU member states, the other EEA states (IS, LI, NO), the UK and Switzerland (ISO 3166 alpha-2).
CONSENT_REGION = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
        "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
        "IS", "LI", "NO",
        "GB", "CH",
    }
)  # fmt: skip


class Elsewhere(enum.StrEnum):
    """What customers outside the consent region need (``GOOGLE_CONSENT_ELSEWHERE``)."""

    NONE = "none"
    MARKETING = "marketing"
    AD = "ad"


class Signal(enum.StrEnum):
    """One consent signal as Google takes it (Data Manager ``ConsentStatus`` names)."""

    GRANTED = "CONSENT_GRANTED"
    DENIED = "CONSENT_DENIED"
    UNSPECIFIED = "CONSENT_STATUS_UNSPECIFIED"


@dataclass(frozen=True, slots=True)
class AdConsent:
    """A member's two ad signals, as uploaded."""

    ad_user_data: Signal
    ad_personalization: Signal

    @property
    def granted(self) -> bool:
        """Both signals granted."""
        return self.ad_user_data is Signal.GRANTED and self.ad_personalization is Signal.GRANTED


def signal(stored: bool | None) -> Signal:
    """The stored flag as a signal: unknown stays unspecified (never guessed)."""
    if stored is None:
        return Signal.UNSPECIFIED
    return Signal.GRANTED if stored else Signal.DENIED


def in_consent_region(country: str | None) -> bool:
    """Whether the policy's region applies; an unknown country counts as inside it."""
    return country is None or country.upper() in CONSENT_REGION


def member_consent(ad_user_data: bool | None, ad_personalization: bool | None) -> AdConsent:
    """The member-level consent sent with each upload (it overrides the request's)."""
    return AdConsent(signal(ad_user_data), signal(ad_personalization))


def may_upload(
    *,
    country: str | None,
    ad_user_data: bool | None,
    ad_personalization: bool | None,
    marketing: bool,
    elsewhere: Elsewhere,
) -> bool:
    """Whether this customer may be on a Google list at all (include and exclusion lists alike).

    ``marketing`` is the customer's email-or-SMS marketing consent. An explicit denial of an ad
    signal keeps anyone off, wherever they live: Google rejects members whose consent says denied.
    """
    consent = member_consent(ad_user_data, ad_personalization)
    if Signal.DENIED in (consent.ad_user_data, consent.ad_personalization):
        return False
    if in_consent_region(country) or elsewhere is Elsewhere.AD:
        return consent.granted
    if elsewhere is Elsewhere.MARKETING:
        return marketing
    return True


@dataclass(frozen=True)
class GoogleConsent:
    """The engine's ``ConsentRule`` for Google lists (include and exclusion lists alike)."""

    elsewhere: Elsewhere = Elsewhere.MARKETING

    def allows(self, customer: CustomerView, role: str) -> bool:
        """``may_upload`` for one labelled customer."""
        return may_upload(
            country=customer.country,
            ad_user_data=customer.ad_user_data,
            ad_personalization=customer.ad_personalization,
            marketing=customer.email_consent is True or customer.sms_consent is True,
            elsewhere=self.elsewhere,
        )
