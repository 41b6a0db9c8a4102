"""An API app over a real migrated database, with one token per scope, and rows as the services write them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.api.app import create_app
from services.api.auth import create_token
from shared.config import Settings
from shared.store.db import Store
from shared.store.migrate import upgrade
from shared.store.models import (
    Customer,
    CustomerIdentifier,
    DestinationAudience,
    Label,
    Order,
    SyncBatch,
    SyncRun,
)

SCOPES = ("read", "operate", "admin")


@dataclass
class Api:
    """A test client and a bearer header per scope."""

    app: Flask
    client: FlaskClient
    store: Store
    tokens: dict[str, str]

    def headers(self, scope: str | None) -> dict[str, str]:
        return {} if scope is None else {"Authorization": f"Bearer {self.tokens[scope]}"}

    def call(self, method: str, path: str, scope: str | None = "admin", **kwargs: Any) -> Any:
        return self.client.open(path, method=method, headers=self.headers(scope), **kwargs)


def make_api(store: Store, **settings: Any) -> Api:
    app = create_app(Settings(database_url=store.url, **settings), store=store)
    tokens = {s: create_token(store, f"{s}-{uuid.uuid4().hex[:8]}", [s]) for s in SCOPES}
    return Api(app, app.test_client(), store, tokens)


@pytest.fixture
def api(store: Store) -> Iterator[Api]:
    built = make_api(store, api_rate_per_second=0)
    yield built
    built.app.extensions["audiencesync"].close()


@pytest.fixture(scope="module")
def sqlite_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One app over one SQLite file for a module's checks that do not depend on the database kind
    (auth, routing, validation): one migration instead of one per case and database."""
    url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'api.db'}"
    upgrade(url)
    store = Store(url)
    built = make_api(store, api_rate_per_second=0)
    yield built
    built.app.extensions["audiencesync"].close()
    store.dispose()


def add_customer(
    store: Store,
    *,
    label: str = "icp",
    stage: str | None = "repeat",
    country: str = "US",
    fields: tuple[str, ...] = ("EMAIL", "PHONE", "FN", "LN", "ZIP", "COUNTRY"),
    email_hash: str | None = None,
    consent: bool = True,
) -> str:
    """A hashed customer with a label, an order and Meta identifiers, as ingestor and scorer leave them."""
    key = uuid.uuid4().hex + uuid.uuid4().hex
    now = datetime.now(UTC)
    with store.transaction() as session:
        session.add(
            Customer(
                customer_key=key,
                shop="test.myshopify.com",
                country=country,
                accepts_email_marketing=consent,
                accepts_sms_marketing=False,
                first_seen_at=now,
                updated_at=now,
            )
        )
        session.flush()
        for field in fields:
            value = email_hash if field == "EMAIL" and email_hash else uuid.uuid4().hex * 2
            session.add(
                CustomerIdentifier(customer_key=key, platform="meta", field=field, value=value, added_at=now)
            )
        session.add(
            Order(
                shop="test.myshopify.com",
                order_id=uuid.uuid4().hex[:12],
                customer_key=key,
                created_at=now,
                updated_at=now,
                currency="USD",
                gross=Decimal("80"),
                gross_base=Decimal("80"),
                net_base=Decimal("80"),
                source="webhook",
                ingested_at=now,
            )
        )
        session.add(
            Label(
                customer_key=key,
                label=label,
                stage=stage,
                reasons=["top value"],
                value=Decimal("250.5"),
                features={"orders": 1},
                as_of=now,
                scored_at=now,
            )
        )
    return key


def add_run(store: Store, audience: str, platform: str = "meta", *, status: str = "succeeded") -> int:
    """A finished sync run with two batches, one acknowledged, as a syncer records it."""
    started = datetime.now(UTC) - timedelta(seconds=30)
    with store.transaction() as session:
        from shared.store.models import Audience

        if session.get(Audience, audience) is None:
            session.add(
                Audience(
                    key=audience,
                    role="include",
                    definition={},
                    origin="config",
                    created_at=started,
                    updated_at=started,
                )
            )
            session.flush()
        dest = DestinationAudience(
            audience_key=audience,
            platform=platform,
            account_id=f"act_{uuid.uuid4().int % 10**8}",
            kind="custom",
            variant="",
            platform_audience_id="2385",
            spec=None,  # Google membership days come from the audience definition (540 for icp_seed)
            status="active",
            created_at=started,
        )
        session.add(dest)
        session.flush()
        run = SyncRun(
            destination_audience_id=dest.id,
            mode="incremental",
            status=status,
            started_at=started,
            finished_at=started + timedelta(seconds=12),
            desired=1200,
            added=1000,
            removed=3,
            invalid=2,
            errors=0,
            api_calls=2,
            feedback={"match_rate": 0.61, "invalid_samples": [{"customer_key": "k1", "reason": "bad phone"}]},
        )
        session.add(run)
        session.flush()
        for seq, state in ((1, "acknowledged"), (2, "sent")):
            session.add(SyncBatch(sync_run_id=run.id, seq=seq, direction="add", size=500, status=state))
        return int(run.id)
