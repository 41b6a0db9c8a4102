"""Data Manager destinations: where a request's members go (operating account, login account, list).

At most 10 destinations per request, references unique [doc: ErrorReason TOO_MANY_DESTINATIONS,
DUPLICATE_DESTINATION_REFERENCE]; Customer Match lists live in GOOGLE_ADS operating accounts and
are named by ``product_destination_id``.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_DESTINATIONS = 10


@dataclass(frozen=True)
class Violation:
    """One ``google.rpc.BadRequest.FieldViolation``: the field path, an ErrorReason, a sentence."""

    field: str
    reason: str
    description: str


@dataclass(frozen=True)
class DestinationIn:
    """A request's Destination reduced to what Customer Match uses."""

    reference: str
    operating_type: str
    operating_id: str
    login_type: str = ""
    login_id: str = ""
    list_id: str = ""


def check_destinations(destinations: list[DestinationIn]) -> list[Violation]:
    """Count, unique references, and Google Ads operating accounts with a user list id."""
    found: list[Violation] = []
    if not destinations:
        return [Violation("destinations", "REQUIRED_FIELD_MISSING", "At least one destination is required.")]
    if len(destinations) > MAX_DESTINATIONS:
        found.append(
            Violation(
                "destinations",
                "TOO_MANY_DESTINATIONS",
                f"Maximum number of destinations allowed per request is {MAX_DESTINATIONS}.",
            )
        )
    seen: set[str] = set()
    for i, d in enumerate(destinations):
        path = f"destinations[{i}]"
        if d.reference and d.reference in seen:
            found.append(
                Violation(
                    f"{path}.reference",
                    "DUPLICATE_DESTINATION_REFERENCE",
                    "Destination references must be unique in a request.",
                )
            )
        seen.add(d.reference)
        if not d.operating_id:
            found.append(
                Violation(
                    f"{path}.operating_account.account_id",
                    "REQUIRED_FIELD_MISSING",
                    "Required field is missing.",
                )
            )
        elif d.operating_type != "GOOGLE_ADS":
            found.append(
                Violation(
                    f"{path}.operating_account.account_type",
                    "INVALID_DESTINATION",
                    "Customer Match user lists live in GOOGLE_ADS accounts.",
                )
            )
        if not d.list_id:
            found.append(
                Violation(
                    f"{path}.product_destination_id", "REQUIRED_FIELD_MISSING", "Required field is missing."
                )
            )
        elif not d.list_id.isdigit():
            found.append(
                Violation(f"{path}.product_destination_id", "INVALID_USER_LIST_ID", "User list is not valid.")
            )
    if len(destinations) > 1 and any(not d.reference for d in destinations):
        found.append(
            Violation(
                "destinations",
                "INVALID_DESTINATION",
                "Every destination needs a reference when a request has several.",
            )
        )
    return found
