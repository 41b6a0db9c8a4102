"""Customer CSV -> upload file: header matching and row conversion, without files."""

from __future__ import annotations

import hashlib

from shared.identity import Platform
from shared.identity.customer_file import convert, plan


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_headers_are_matched_loosely_and_unknown_ones_reported() -> None:
    file_plan = plan(Platform.META, ["E-mail Address", "first_name", "Surname", "ZIP code", "Notes", "Email"])
    assert file_plan.header == ["email", "fn", "ln", "zip"]
    assert [column.source for column in file_plan.columns] == [0, 1, 2, 3]
    assert file_plan.country is None
    assert file_plan.ignored == ("Notes", "Email")  # a second email column is not guessed at


def test_google_output_uses_customer_match_headers_and_reports_unused_columns() -> None:
    file_plan = plan(Platform.GOOGLE_ADS, ["Country", "City", "Phone", "Zip"])
    assert file_plan.header == ["Phone", "Country", "Zip"]
    assert file_plan.country == 0
    assert file_plan.ignored == ("City",)


def test_rows_use_their_own_country_then_the_default() -> None:
    file_plan = plan(Platform.GOOGLE_DM, ["phone", "country"])
    converted = convert(
        Platform.GOOGLE_DM, file_plan, [["030 123456", "DE"], ["030 123456", ""], ["N/A", "US"]], "FR"
    )
    # Row 2: a French customer's "030 123456" is no French number. Row 3: a country alone.
    assert converted.rows == [[sha("+4930123456"), "DE"]]
    assert converted.dropped == 2
    assert converted.sent == {"phone": 1, "country_code": 3}
    assert converted.rejected == {("phone", "phone_invalid_for_region"): 1, ("phone", "placeholder"): 1}


def test_short_rows_are_read_as_empty_cells() -> None:
    file_plan = plan(Platform.META, ["email", "phone"])
    converted = convert(Platform.META, file_plan, [["a@example.com"]])
    assert converted.rows == [[sha("a@example.com"), ""]]
    assert converted.rejected == {("PHONE", "empty"): 1}


def test_a_default_country_adds_the_country_column() -> None:
    file_plan = plan(Platform.META, ["phone"], default_country=True)
    assert file_plan.header == ["phone", "country"]
    converted = convert(Platform.META, file_plan, [["07400 123456"]], "United Kingdom")
    assert converted.rows == [[sha("447400123456"), sha("gb")]]
