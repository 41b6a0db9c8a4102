"""Which fields each platform accepts, how each is normalized, and whether it travels hashed.

Field names are spelled as the platform spells them: Meta's customer-file schema keys, and for
Google the identifiers of the Data Manager API and the Google Ads API's OfflineUserDataJobService
(address parts as first_name / last_name / country_code / postal_code). docs/identifiers.md cites
the source of every rule.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from shared.identity import attributes, names, phones, places
from shared.identity.emails import EmailStyle, email
from shared.identity.names import NamePart
from shared.identity.result import Platform, Reason

Normalizer = Callable[[object, str | None], str | Reason]


class HashedInput(enum.Enum):
    """What a value that is already a SHA-256 hex digest means for a field."""

    PASS_THROUGH = "pass_through"  # noqa: S105 - not a secret. Hashed field: use it as is (lowercased), never hash again
    REJECT = "reject"  # unhashed field: a hash here is a mistake upstream
    OPAQUE = "opaque"  # an id: 64 hex digits are just an id


@dataclass(frozen=True, slots=True)
class FieldRule:
    """How one platform field is normalized, and whether it is sent as SHA-256 hex."""

    normalize: Normalizer
    hashed: bool
    uses_country: bool = False
    hashed_input: HashedInput = HashedInput.PASS_THROUGH
    email_style: EmailStyle | None = None  # set for email fields: enables the batch fast path


def _email(style: EmailStyle) -> FieldRule:
    return FieldRule(lambda value, _: email(value, style), hashed=True, email_style=style)


def _name(part: NamePart, *, spaces: bool) -> FieldRule:
    return FieldRule(lambda value, _: names.person_name(value, part, spaces=spaces), hashed=True)


def _unhashed(normalize: Normalizer, *, uses_country: bool = False) -> FieldRule:
    return FieldRule(normalize, False, uses_country, HashedInput.REJECT)


def _opaque(normalize: Normalizer) -> FieldRule:
    return FieldRule(normalize, hashed=False, hashed_input=HashedInput.OPAQUE)


_META: dict[str, FieldRule] = {
    "EMAIL": _email(EmailStyle.PLAIN),
    "PHONE": FieldRule(phones.e164_digits, hashed=True, uses_country=True),
    "FN": _name(NamePart.GIVEN, spaces=False),
    "LN": _name(NamePart.FAMILY, spaces=False),
    "FI": FieldRule(lambda value, _: names.first_initial(value), hashed=True),
    "CT": FieldRule(lambda value, _: places.meta_city(value), hashed=True),
    "ST": FieldRule(places.meta_state, hashed=True, uses_country=True),
    "ZIP": FieldRule(places.meta_zip, hashed=True, uses_country=True),
    "COUNTRY": FieldRule(lambda value, _: places.country(value, upper=False), hashed=True),
    "GEN": FieldRule(lambda value, _: attributes.gender(value), hashed=True),
    "DOBY": FieldRule(lambda value, _: attributes.birth_year(value), hashed=True),
    "DOBM": FieldRule(lambda value, _: attributes.birth_month(value), hashed=True),
    "DOBD": FieldRule(lambda value, _: attributes.birth_day(value), hashed=True),
    "MADID": _unhashed(lambda value, _: attributes.mobile_id(value, lowercase=True)),
    "EXTERN_ID": _opaque(lambda value, _: attributes.external_id(value)),
    "LOOKALIKE_VALUE": _unhashed(lambda value, _: attributes.lookalike_value(value)),
}


def _google(email_style: EmailStyle) -> dict[str, FieldRule]:
    return {
        "email": _email(email_style),
        "phone": FieldRule(phones.e164, hashed=True, uses_country=True),
        "first_name": _name(NamePart.GIVEN, spaces=True),
        "last_name": _name(NamePart.FAMILY, spaces=True),
        "country_code": _unhashed(lambda value, _: places.country(value, upper=True)),
        "postal_code": _unhashed(places.google_postal, uses_country=True),
        "mobile_id": _unhashed(lambda value, _: attributes.mobile_id(value, lowercase=False)),
        "user_id": _opaque(lambda value, _: attributes.external_id(value)),
    }


RULES: Mapping[Platform, Mapping[str, FieldRule]] = MappingProxyType(
    {
        Platform.META: MappingProxyType(_META),
        Platform.GOOGLE_ADS: MappingProxyType(_google(EmailStyle.SQUEEZED)),
        Platform.GOOGLE_DM: MappingProxyType(_google(EmailStyle.GOOGLE_DM)),
    }
)
