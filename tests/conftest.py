"""Fixtures shared by every tier: the embedded broker, SQLite and PostgreSQL databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from services.sandbox_google.testing import install_session_trust
from shared.bus.broker import EmbeddedBroker, ensure_topics
from shared.log import configure_logging
from tests.integration.bus.harness import SESSION_TIMEOUT_MS

# Before any test opens a gRPC TLS channel: the Google Ads client trusts the Google sandbox's one
# test identity only through this process-wide roots file (services/sandbox_google/testing.py).
install_session_trust()

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"

# Every consumer the tests start, in this process or in the services they run, joins a new group
# on a fresh broker, and the embedded broker holds a group's first join for half the session
# timeout: 5 s at the product's 10 s, 2 s here (measured: the suite ~70 s shorter on 2 cores).
# Heartbeats every 1.3 s keep a 4 s session alive on a loaded machine; drills kill consumers and
# wait for their partitions to move, which takes one session timeout.
os.environ.setdefault("KAFKA_SESSION_TIMEOUT_MS", str(SESSION_TIMEOUT_MS))

# Property tests judge results, never speed: a per-example deadline fails them on a loaded
# 2-core machine (two test processes, brokers, databases) for reasons that are not bugs.
settings.register_profile("audiencesync", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("audiencesync")

# Log as the services do. structlog's unconfigured default renders a logged exception with rich,
# every frame's locals included: a store error over a batch of rows took 17 s to print.
configure_logging()


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One real Kafka-compatible broker for the whole session, on a free loopback port."""
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture
def new_topic(broker: EmbeddedBroker):  # type: ignore[no-untyped-def]
    """Factory for fresh topics (unique names keep tests independent on the shared broker)."""

    def make(prefix: str = "t", partitions: int = 4) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:10]}"
        ensure_topics(broker.bootstrap, [name, f"{name}.dlq"], partitions=partitions)
        return name

    return make


def _postgres_server() -> str | None:
    """URL of a reachable PostgreSQL server, or None (skip) / fail under CI=true."""
    url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    try:
        import psycopg

        with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=3):
            return url
    except Exception as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but PostgreSQL at {url} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {url}; set TEST_POSTGRES_URL=postgresql://user@host:5432/db")
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str | None:
    """The PostgreSQL server used by ``postgresql`` database fixtures."""
    return _postgres_server()


def _postgres_schema_url(server: str) -> Iterator[str]:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = server.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in server else "?"
    try:
        yield f"{server}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """An empty database of each kind: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audiencesync.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    yield from _postgres_schema_url(server)


@pytest.fixture
def store(database_url: str):  # type: ignore[no-untyped-def]
    """A migrated ``Store`` on each database kind."""
    from shared.store.db import Store
    from shared.store.migrate import upgrade

    upgrade(database_url)
    db = Store(database_url)
    yield db
    db.dispose()


@pytest.fixture
def google_sandbox():  # type: ignore[no-untyped-def]
    """A fresh in-memory Google sandbox (both APIs, TLS, free ports; see services/sandbox_google).

    Defaults: access token ``sandbox-token``, allowlisted developer token ``sandbox-dev-token``,
    customer ``1234567890``, no manager, asynchronous work done after 0.2 s. Override with
    ``run_google_sandbox(GoogleSandboxConfig(..., tls_identity=session_identity()))``.
    """
    from services.sandbox_google.config import GoogleSandboxConfig
    from services.sandbox_google.server import run_google_sandbox
    from services.sandbox_google.testing import session_identity

    config = GoogleSandboxConfig(processing_seconds=0.2, job_seconds=0.2, tls_identity=session_identity())
    with run_google_sandbox(config) as running:
        yield running
