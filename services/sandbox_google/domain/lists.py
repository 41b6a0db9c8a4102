"""Customer Match user lists: life span, sizes and match-rate ranges, shared by both APIs.

A Customer Match list is one Google Ads resource whichever API made it: the Data Manager API's
UserListService and the Ads API's UserListService read and write the same lists.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LIFE_SPAN_DAYS = 540  # v26 UserList.membership_life_span: 0..540 [proto docstring]
DEFAULT_LIFE_SPAN_DAYS = 540  # a choice: Google documents no default for CRM lists in v26
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class UserListRecord:
    """A stored list: id, owning customer, name and the settings both APIs expose."""

    id: int
    customer_id: str
    name: str
    description: str = ""
    life_span_days: int = DEFAULT_LIFE_SPAN_DAYS
    upload_key_type: str = "CONTACT_INFO"
    membership_status: str = "OPEN"
    created_at: float = 0.0


@dataclass(frozen=True)
class ListSize:
    """Members live in a list and how many of them matched a Google account."""

    uploaded: int
    matched: int

    @property
    def match_rate_percentage(self) -> int:
        """0-100, rounded down; 0 for an empty list."""
        return (100 * self.matched) // self.uploaded if self.uploaded else 0


# MatchRateRange values shared in name by both APIs (Ads: MATCH_RANGE_*, DM: MATCH_RATE_RANGE_*).
_RANGES = (
    (20, "LESS_THAN_20"),
    (31, "20_TO_30"),
    (41, "31_TO_40"),
    (51, "41_TO_50"),
    (61, "51_TO_60"),
    (71, "61_TO_70"),
    (81, "71_TO_80"),
    (91, "81_TO_90"),
    (101, "91_TO_100"),
)


def match_range(matched: int, uploaded: int) -> str:
    """The range's suffix (``LESS_THAN_20`` ... ``91_TO_100``) for an upload, or ``""`` when empty."""
    if uploaded <= 0:
        return ""
    percent = (100 * matched) // uploaded
    return next(name for bound, name in _RANGES if percent < bound)


def life_span_error(days: int) -> str | None:
    """``TOO_LOW`` / ``TOO_HIGH`` when outside 0..540, else None."""
    if days < 0:
        return "TOO_LOW"
    if days > MAX_LIFE_SPAN_DAYS:
        return "TOO_HIGH"
    return None


def expired_before(now: float, life_span_days: int) -> float:
    """Members last added before this time have left the list (their life span ran out)."""
    return now - life_span_days * DAY_SECONDS
