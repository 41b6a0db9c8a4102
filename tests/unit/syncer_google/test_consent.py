"""Google's EU user consent policy as audiencesync applies it, case by case."""

from __future__ import annotations

import pytest

from shared.sync.google_consent import Elsewhere, Signal, may_upload, member_consent

Y, N, U = True, False, None


@pytest.mark.parametrize(
    ("country", "user_data", "personalization", "marketing", "elsewhere", "allowed"),
    [
        ("DE", Y, Y, False, Elsewhere.NONE, True),  # EEA, both granted
        ("DE", Y, U, True, Elsewhere.NONE, False),  # unknown counts as not granted
        ("FR", U, U, True, Elsewhere.NONE, False),
        ("GB", Y, N, True, Elsewhere.NONE, False),  # UK is in the policy's region
        ("CH", U, Y, True, Elsewhere.NONE, False),  # Switzerland too
        ("NO", Y, Y, False, Elsewhere.NONE, True),  # EEA outside the EU
        (None, U, U, True, Elsewhere.NONE, False),  # unknown country: treated as in the region
        (None, Y, Y, False, Elsewhere.NONE, True),
        ("US", U, U, False, Elsewhere.NONE, True),  # elsewhere, nothing required
        ("US", N, Y, True, Elsewhere.NONE, False),  # an explicit denial keeps anyone off
        ("US", U, U, False, Elsewhere.MARKETING, False),
        ("US", U, U, True, Elsewhere.MARKETING, True),
        ("US", U, Y, True, Elsewhere.AD, False),
        ("us", Y, Y, False, Elsewhere.AD, True),
        ("de", U, U, True, Elsewhere.NONE, False),  # case-insensitive country
    ],
)
def test_who_may_be_uploaded(country, user_data, personalization, marketing, elsewhere, allowed) -> None:  # type: ignore[no-untyped-def]
    assert (
        may_upload(
            country=country,
            ad_user_data=user_data,
            ad_personalization=personalization,
            marketing=marketing,
            elsewhere=elsewhere,
        )
        is allowed
    )


def test_member_consent_never_guesses_unknown_signals() -> None:
    consent = member_consent(True, None)
    assert consent.ad_user_data is Signal.GRANTED
    assert consent.ad_personalization is Signal.UNSPECIFIED
    assert not consent.granted
    assert member_consent(True, True).granted
