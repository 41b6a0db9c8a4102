"""The subset of GAQL a Customer Match syncer needs, parsed strictly (AD_APIS.md 2.5).

``SELECT <fields> FROM user_list | offline_user_data_job [WHERE <field> = <value> [AND ...]]
[ORDER BY <field> [ASC|DESC], ...] [LIMIT n]``. Values are quoted strings, numbers or enum
names; ``IN (...)`` is accepted for the same fields. Anything else is refused with a
QueryError that says what the sandbox supports, instead of an answer that might be wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RESOURCES: dict[str, frozenset[str]] = {
    "user_list": frozenset(
        {
            "resource_name",
            "id",
            "name",
            "description",
            "membership_status",
            "membership_life_span",
            "size_for_display",
            "size_for_search",
            "size_range_for_display",
            "size_range_for_search",
            "match_rate_percentage",
            "eligible_for_search",
            "eligible_for_display",
            "type",
            "read_only",
            "access_reason",
            "account_user_list_status",
            "crm_based_user_list.upload_key_type",
            "crm_based_user_list.data_source_type",
        }
    ),
    "offline_user_data_job": frozenset(
        {
            "resource_name",
            "id",
            "external_id",
            "type",
            "status",
            "failure_reason",
            "customer_match_user_list_metadata.user_list",
            "customer_match_user_list_metadata.consent.ad_user_data",
            "customer_match_user_list_metadata.consent.ad_personalization",
            "operation_metadata.match_rate_range",
        }
    ),
}
FILTERABLE = {
    "user_list": frozenset({"resource_name", "id", "name"}),
    "offline_user_data_job": frozenset(
        {"resource_name", "id", "status", "customer_match_user_list_metadata.user_list"}
    ),
}

_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<resource>[a-z_]+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>[0-9]+))?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(
    r"^\s*(?P<field>[a-z_.]+)\s*(?:(?P<eq>=)\s*(?P<value>'[^']*'|\"[^\"]*\"|[A-Za-z0-9_]+)"
    r"|IN\s*\((?P<values>[^)]*)\))\s*$",
    re.IGNORECASE,
)


class QueryRefused(ValueError):  # noqa: N818 - the GAQL error a caller maps to QueryError
    """A query outside the supported subset: ``name`` is the QueryError enum name."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@dataclass(frozen=True)
class Query:
    """A parsed query: resource, selected fields (without the resource prefix), filters, limit."""

    resource: str
    fields: tuple[str, ...]
    filters: tuple[tuple[str, tuple[str, ...]], ...]
    limit: int | None
    order: tuple[tuple[str, bool], ...] = ()  # (field, descending)


def parse(text: str) -> Query:
    """Parse a query or raise ``QueryRefused``."""
    if not re.match(r"^\s*SELECT\b", text, re.IGNORECASE):
        raise QueryRefused("EXPECTED_SELECT", "The query must start with SELECT.")
    match = _QUERY.match(text)
    if not match:
        raise QueryRefused(
            "UNEXPECTED_INPUT", "The sandbox reads SELECT ... FROM ... [WHERE a = b [AND ...]] [LIMIT n]."
        )
    resource = match.group("resource").lower()
    if resource not in RESOURCES:
        raise QueryRefused(
            "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
            f"The sandbox serves FROM {' and FROM '.join(sorted(RESOURCES))} only, not {resource}.",
        )
    fields = tuple(_field(resource, f.strip()) for f in match.group("fields").split(","))
    filters: list[tuple[str, tuple[str, ...]]] = []
    if match.group("where"):
        for clause in re.split(r"\s+AND\s+", match.group("where"), flags=re.IGNORECASE):
            filters.append(_condition(resource, clause))
    limit = int(match.group("limit")) if match.group("limit") else None
    if limit is not None and limit < 1:
        raise QueryRefused("LIMIT_VALUE_TOO_LOW", "LIMIT must be at least 1.")
    order = (
        tuple(_order(resource, part) for part in match.group("order").split(","))
        if match.group("order")
        else ()
    )
    return Query(resource, fields, tuple(filters), limit, order)


def _order(resource: str, part: str) -> tuple[str, bool]:
    words = part.split()
    if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
        raise QueryRefused("UNEXPECTED_INPUT", f"ORDER BY takes a field and ASC or DESC: {part.strip()!r}.")
    short = _field(resource, words[0])
    if short not in FILTERABLE[resource]:
        raise QueryRefused(
            "PROHIBITED_FIELD_IN_ORDER_BY_CLAUSE",
            f"The sandbox orders {resource} by {', '.join(sorted(FILTERABLE[resource]))} only.",
        )
    return short, len(words) == 2 and words[1].upper() == "DESC"


def _field(resource: str, name: str) -> str:
    prefix = f"{resource}."
    if not name.startswith(prefix):
        raise QueryRefused(
            "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
            f"The sandbox selects fields of {resource} only, not {name!r}.",
        )
    short = name[len(prefix) :]
    if short not in RESOURCES[resource]:
        raise QueryRefused(
            "UNRECOGNIZED_FIELD", f"Unrecognized field in the query: {name!r} (not served by the sandbox)."
        )
    return short


def _condition(resource: str, clause: str) -> tuple[str, tuple[str, ...]]:
    match = _CONDITION.match(clause)
    if not match:
        raise QueryRefused("BAD_OPERATOR", f"The sandbox filters with = and IN only: {clause.strip()!r}.")
    short = _field(resource, match.group("field"))
    if short not in FILTERABLE[resource]:
        raise QueryRefused(
            "PROHIBITED_FIELD_IN_WHERE_CLAUSE",
            f"The sandbox filters {resource} on {', '.join(sorted(FILTERABLE[resource]))} only.",
        )
    raw = (
        [match.group("value")] if match.group("eq") else [v.strip() for v in match.group("values").split(",")]
    )
    values = tuple(v[1:-1] if v[:1] in "'\"" else v for v in raw if v)
    if not values:
        raise QueryRefused("PROHIBITED_EMPTY_LIST_IN_CONDITION", "IN needs at least one value.")
    return short, values
