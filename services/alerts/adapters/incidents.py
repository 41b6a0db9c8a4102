"""``alert_incidents`` in the database: apply a check's plan, find due messages, lease and record them.

Safe with several scheduler replicas: at most one open incident per key (a partial unique index;
the replica that loses the insert race skips it), and a message is posted only by the sender that
took its lease (a conditional update of ``retry_at``), so two replicas never post it twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from services.alerts.domain.incidents import Incident, Message, Plan, backoff
from shared.store.db import Store
from shared.store.models import AlertIncident

LEASE = timedelta(minutes=5)  # longer than any post may take; a sender that died frees it after this


def _incident(row: AlertIncident) -> Incident:
    return Incident(
        row.id,
        row.key,
        row.kind,
        row.text,
        row.opened_at,
        row.resolved_at,
        row.notified_at,
        row.resolved_notified_at,
        row.attempts,
        row.retry_at,
    )


def open_incidents(store: Store) -> dict[str, Incident]:
    """Every open incident by key."""
    with store.session() as session:
        rows = session.scalars(select(AlertIncident).where(AlertIncident.resolved_at.is_(None)))
        return {row.key: _incident(row) for row in rows}


def apply(store: Store, change: Plan, now: datetime) -> list[str]:
    """Record the plan; the keys this process opened (a concurrent replica may have opened others)."""
    with store.transaction() as session:
        if change.keep:
            session.execute(
                update(AlertIncident)
                .where(AlertIncident.key.in_(change.keep), AlertIncident.resolved_at.is_(None))
                .values(last_seen_at=now)
            )
        if change.resolve:
            session.execute(
                update(AlertIncident)
                .where(AlertIncident.key.in_(change.resolve), AlertIncident.resolved_at.is_(None))
                .values(resolved_at=now, attempts=0, retry_at=None)
            )
    opened = []
    for condition in change.open:
        try:
            with store.transaction() as session:
                session.add(
                    AlertIncident(
                        key=condition.key,
                        kind=condition.kind.value,
                        text=condition.text,
                        opened_at=now,
                        last_seen_at=now,
                        attempts=0,
                    )
                )
            opened.append(condition.key)
        except IntegrityError:
            continue  # another replica opened it a moment ago; it is the same incident
    return opened


def undelivered(store: Store) -> list[Incident]:
    """Incidents with a message not yet delivered (due now or backing off)."""
    with store.session() as session:
        rows = session.scalars(
            select(AlertIncident)
            .where(
                or_(
                    AlertIncident.notified_at.is_(None) & AlertIncident.resolved_at.is_(None),
                    AlertIncident.notified_at.is_not(None)
                    & AlertIncident.resolved_at.is_not(None)
                    & AlertIncident.resolved_notified_at.is_(None),
                )
            )
            .order_by(AlertIncident.id)
        )
        return [_incident(row) for row in rows]


def lease(store: Store, incident: Incident, now: datetime) -> bool:
    """Take the right to post this incident's due message; False when another sender has it."""
    with store.transaction() as session:
        taken = session.execute(
            update(AlertIncident)
            .where(
                AlertIncident.id == incident.id,
                or_(AlertIncident.retry_at.is_(None), AlertIncident.retry_at <= now),
            )
            .values(retry_at=now + LEASE)
        ).rowcount  # type: ignore[attr-defined]
    return bool(taken)


def delivered(store: Store, incident: Incident, message: Message, now: datetime) -> None:
    """The message got through: never sent again."""
    column = "notified_at" if message is Message.OPENED else "resolved_notified_at"
    with store.transaction() as session:
        session.execute(
            update(AlertIncident)
            .where(AlertIncident.id == incident.id)
            .values({column: now, "attempts": 0, "retry_at": None})
        )


def failed(store: Store, incident: Incident, now: datetime) -> datetime:
    """The post failed: due again after the backoff; when that is."""
    attempts = incident.attempts + 1
    retry_at = now + backoff(attempts)
    with store.transaction() as session:
        session.execute(
            update(AlertIncident)
            .where(AlertIncident.id == incident.id)
            .values(attempts=attempts, retry_at=retry_at)
        )
    return retry_at
