"""Google's ad consent signals from a customers import, kept on the customer row.

Only the customers import states them (Shopify sends no ad consent; marketing-email consent is
not ad consent), so they are written here beside the customer upsert, with the same version
rule: a statement newer than the row's version wins, an older one only fills a signal never
stated, and "unknown" never clears one. The Google syncer reads them (services/syncer_google).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from services.ingestor.domain.customer_rows import AdSignals
from shared.store.models import Customer


def record_ad_consent(session: Session, key: str, signals: AdSignals, seen_at: datetime) -> bool:
    """Apply ``signals`` (stated at ``seen_at``) to customer ``key``; True when a signal changed."""
    if not signals.stated:
        return False
    customer = session.get(Customer, key)
    if customer is None:
        return False
    newer = seen_at >= customer.updated_at
    changed = False
    for attr in ("ad_user_data", "ad_personalization"):
        value = getattr(signals, attr)
        current = getattr(customer, attr)
        if value is not None and value != current and (newer or current is None):
            setattr(customer, attr, value)
            changed = True
    return changed
