"""Stored Google identifiers become one stable, capped Customer Match member."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.syncer_google.domain.members import ADDRESS, EMAIL, PHONE, decode, member_row

H1, H2, H3 = "a" * 64, "b" * 64, "c" * 64


def test_every_email_and_phone_then_the_whole_address() -> None:
    fields = [
        ("phone", H3),
        ("email", H2),
        ("email", H1),
        ("first_name", H1),
        ("last_name", H2),
        ("country_code", "DE"),
        ("postal_code", "10115"),
    ]
    assert member_row(fields, cap=10) == (f"e:{H1}", f"e:{H2}", f"p:{H3}", f"a:{H1}:{H2}:DE:10115")


def test_an_incomplete_address_is_not_sent() -> None:
    fields = [("email", H1), ("first_name", H1), ("country_code", "DE"), ("postal_code", "10115")]
    assert member_row(fields, cap=10) == (f"e:{H1}",)


def test_nothing_to_match_on_is_no_member() -> None:
    assert member_row([("country_code", "DE"), ("email", "")], cap=10) is None


def test_the_cap_keeps_emails_first() -> None:
    fields = [("phone", H3), ("email", H2), ("email", H1)]
    assert member_row(fields, cap=2) == (f"e:{H1}", f"e:{H2}")


def test_decode_reads_back_what_was_written() -> None:
    row = member_row([("email", H1), ("phone", H2), ("first_name", H1), ("last_name", H2),
                      ("country_code", "GB"), ("postal_code", "SW1A 1AA")], cap=10)  # fmt: skip
    assert row is not None
    decoded = decode(row)
    assert [i.kind for i in decoded] == [EMAIL, PHONE, ADDRESS]
    assert decoded[2].postal == "SW1A 1AA" and decoded[2].region == "GB"


hexes = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


@given(st.lists(st.tuples(st.sampled_from(["email", "phone"]), hexes), max_size=30), st.integers(1, 20))
def test_member_is_order_independent_and_capped(fields: list[tuple[str, str]], cap: int) -> None:
    row = member_row(fields, cap=cap)
    assert row == member_row(list(reversed(fields)), cap=cap)
    assert row is None or 1 <= len(row) <= cap
