"""A customer CSV turned into a platform's upload file: column mapping and row conversion.

Pure functions over rows of strings; reading, writing and progress belong to the CLI. Input
headers are matched loosely ("First Name", "first_name", "fn"); output headers are the ones the
platform's upload screen expects: Meta's customer-list keys (email, phone, fn, ...) and Google
Customer Match's ("Email", "Phone", "First Name", "Last Name", "Country", "Zip"). Values are
hashed exactly as the API path hashes them; unhashed fields stay readable.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.identity.normalize import normalize_column
from shared.identity.result import Normalized, Platform

# Input column (a Contact-like name) -> header spellings accepted, compared lowercased with
# spaces, underscores and hyphens removed.
_ALIASES: Mapping[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "em", "mail"),
    "phone": ("phone", "phonenumber", "ph", "mobile", "telephone", "tel"),
    "first_name": ("firstname", "fn", "givenname", "first"),
    "last_name": ("lastname", "ln", "familyname", "surname", "last"),
    "first_initial": ("fi", "firstinitial"),
    "city": ("city", "ct", "town"),
    "region": ("state", "region", "province", "st", "stateprovince", "county"),
    "postal_code": ("zip", "zipcode", "postalcode", "postcode", "zp"),
    "country": ("country", "countrycode", "countryregion", "cc"),
    "gender": ("gen", "gender"),
    "birth_year": ("doby", "birthyear"),
    "birth_month": ("dobm", "birthmonth"),
    "birth_day": ("dobd", "birthdayofmonth"),
    "mobile_id": ("madid", "mobileid", "mobiledeviceid", "idfa", "aaid", "gaid"),
    "external_id": ("externid", "externalid", "userid", "customerid"),
    "value": ("value", "lookalikevalue", "ltv"),
}
_GOOGLE_OUTPUT = (
    ("email", "email", "Email"),
    ("phone", "phone", "Phone"),
    ("first_name", "first_name", "First Name"),
    ("last_name", "last_name", "Last Name"),
    ("country", "country_code", "Country"),
    ("postal_code", "postal_code", "Zip"),
    ("mobile_id", "mobile_id", "Mobile Device ID"),
    ("external_id", "user_id", "User ID"),
)
# Platform -> (input column, platform field, output header), in output order.
OUTPUT: Mapping[Platform, tuple[tuple[str, str, str], ...]] = {
    Platform.META: (
        ("email", "EMAIL", "email"),
        ("phone", "PHONE", "phone"),
        ("first_name", "FN", "fn"),
        ("last_name", "LN", "ln"),
        ("first_initial", "FI", "fi"),
        ("city", "CT", "ct"),
        ("region", "ST", "st"),
        ("postal_code", "ZIP", "zip"),
        ("country", "COUNTRY", "country"),
        ("gender", "GEN", "gen"),
        ("birth_year", "DOBY", "doby"),
        ("birth_month", "DOBM", "dobm"),
        ("birth_day", "DOBD", "dobd"),
        ("mobile_id", "MADID", "madid"),
        ("external_id", "EXTERN_ID", "extern_id"),
        ("value", "LOOKALIKE_VALUE", "value"),
    ),
    Platform.GOOGLE_ADS: _GOOGLE_OUTPUT,
    Platform.GOOGLE_DM: _GOOGLE_OUTPUT,
}
_HEADER_NOISE = re.compile(r"[\s_\-]+")


_COUNTRY_FIELDS = frozenset({"COUNTRY", "country_code"})


@dataclass(frozen=True, slots=True)
class Column:
    """One output column: platform field, header, input column index (None: the row's country)."""

    field: str
    header: str
    source: int | None


@dataclass(frozen=True, slots=True)
class FilePlan:
    """How input columns become output columns; ``country`` is the input country column."""

    columns: tuple[Column, ...]
    country: int | None
    ignored: tuple[str, ...]

    @property
    def header(self) -> list[str]:
        """The output file's header row."""
        return [column.header for column in self.columns]


@dataclass(frozen=True, slots=True)
class Converted:
    """Output rows for a chunk, the rows dropped for lack of any identifier, and counts."""

    rows: list[list[str]]
    dropped: int
    sent: Counter[str]
    rejected: Counter[tuple[str, str]]


def plan(platform: Platform, header: Sequence[str], *, default_country: bool = False) -> FilePlan:
    """Match input headers to the platform's output columns; unmatched headers are ignored.

    The country column always carries each row's effective country (its own, else the
    default), so ``default_country`` adds that column even when the input has none.
    """
    by_alias = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
    found: dict[str, int] = {}
    ignored: list[str] = []
    for index, title in enumerate(header):
        name = by_alias.get(_HEADER_NOISE.sub("", title.lower()))
        if name is None or name in found:
            ignored.append(title)
        else:
            found[name] = index
    columns = tuple(
        Column(field, out_header, None if source == "country" else found[source])
        for source, field, out_header in OUTPUT[platform]
        if source in found or (source == "country" and default_country)
    )
    used = {column.source for column in columns} | {found.get("country")}
    ignored.extend(header[index] for index in found.values() if index not in used)
    return FilePlan(columns, found.get("country"), tuple(ignored))


def convert(
    platform: Platform,
    file_plan: FilePlan,
    rows: Sequence[Sequence[str]],
    default_country: str | None = None,
) -> Converted:
    """Normalize and hash a chunk of input rows column by column (the batch path)."""
    countries = [_cell(row, file_plan.country) or default_country for row in rows]
    cells: list[list[str]] = [[] for _ in rows]
    sent: Counter[str] = Counter()
    rejected: Counter[tuple[str, str]] = Counter()
    identifying = [i for i, c in enumerate(file_plan.columns) if c.field not in _COUNTRY_FIELDS]
    for column in file_plan.columns:
        values = countries if column.source is None else [_cell(row, column.source) for row in rows]
        results = normalize_column(platform, column.field, values, countries)
        for out, result in zip(cells, results, strict=True):
            if isinstance(result, Normalized):
                out.append(result.wire_value)
                sent[column.field] += 1
            else:
                out.append("")
                rejected[column.field, str(result.reason)] += 1
    # A country alone identifies nobody: such rows are dropped, not uploaded.
    kept = [row for row in cells if any(row[i] for i in identifying)]
    return Converted(kept, len(cells) - len(kept), sent, rejected)


def _cell(row: Sequence[str], index: int | None) -> str | None:
    if index is None or index >= len(row):
        return None
    return row[index]
