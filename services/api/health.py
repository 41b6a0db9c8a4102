"""Readiness of the api process (``/readyz``), checked in the background and cached.

``/health`` is liveness: the process answers HTTP. ``/readyz`` answers 200 only when the database
answers a query, the broker answers a metadata request and a pipeline heartbeat sent recently came
back through every consumer (ingestor, scorer, both syncers); otherwise 503 naming the failed
checks. One thread runs the checks every few seconds; requests read its last result and never wait
on the database or the broker. Neither route needs a token (``auth.PUBLIC_ENDPOINTS``); the
routes themselves are in ``views/ops.py``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app, jsonify
from sqlalchemy import text

from shared.bus.heartbeat import FORWARDERS, LAST_HOPS, HeartbeatProbe, Reply, missing
from shared.config import Settings
from shared.log import get_logger
from shared.store.db import Store

log = get_logger(__name__)

EXTENSION = "audiencesync.readiness"
CHECK_EVERY = 2.0  # seconds between rounds of checks
CHECK_TIMEOUT = 3.0  # seconds one database or broker call may take before it counts as failed
PING_EVERY = 10.0  # seconds between pings once the pipeline has answered
PING_TIMEOUT = 15.0  # seconds a ping may stay unanswered before another is sent
PIPELINE_MAX_AGE = 30.0  # a full answer to a ping sent longer ago than this is not recent
STALE_AFTER = 20.0  # no finished round for this long: the checker is stuck, so not ready
REPLY_POLL = 0.5  # seconds each round waits for heartbeat replies


@dataclass(frozen=True)
class Check:
    """One readiness check's outcome; ``missing`` names the services a heartbeat did not reach."""

    ok: bool
    detail: str
    missing: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The check as shown by ``/readyz``."""
        body: dict[str, Any] = {"ok": self.ok, "detail": self.detail}
        if self.missing:
            body["missing"] = list(self.missing)
        return body


@dataclass(frozen=True)
class Report:
    """The checks of one round and when it finished (``time.monotonic``)."""

    checks: dict[str, Check]
    at: float = field(default_factory=time.monotonic)

    @property
    def failed(self) -> list[str]:
        """Names of the checks that failed."""
        return [name for name, check in self.checks.items() if not check.ok]


def _error(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}"[:300]


class _Pipeline:
    """Heartbeat bookkeeping: pings in flight, their replies, the last ping answered in full."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.probe: HeartbeatProbe | None = None
        self.pings: dict[str, tuple[float, list[Reply]]] = {}  # ping -> (sent, replies so far)
        self.answered_sent: float | None = None  # when the last ping answered in full was sent

    def check(self, now: float) -> Check:
        """Send a ping when one is due, gather replies, and judge the last full answer's age."""
        try:
            if self.probe is None:
                self.probe = HeartbeatProbe(self.bootstrap, client_id="api-readiness")
            if self._ping_due(now):
                self.pings[self.probe.send()] = (time.monotonic(), [])
            for reply in self.probe.poll(REPLY_POLL):
                sent, replies = self.pings.get(reply["ping"], (now, []))
                replies.append(reply)
                if not missing(replies):
                    self.answered_sent = max(sent, self.answered_sent or sent)
        except Exception as exc:  # reported by /readyz; the probe is rebuilt next round
            self.close()
            return Check(False, f"heartbeat failed: {_error(exc)}", tuple(self._missing()))
        finally:
            self._forget(time.monotonic())
        if self.answered_sent is not None and now - self.answered_sent <= PIPELINE_MAX_AGE:
            services = ", ".join([*FORWARDERS, *sorted(LAST_HOPS)])
            return Check(True, f"heartbeat answered by {services} {now - self.answered_sent:.1f}s ago")
        waiting = self._missing() or sorted({*FORWARDERS, *LAST_HOPS})
        return Check(False, f"no recent heartbeat answer from {', '.join(waiting)}", tuple(waiting))

    def _ping_due(self, now: float) -> bool:
        in_flight = [
            sent for sent, replies in self.pings.values() if missing(replies) and now - sent < PING_TIMEOUT
        ]
        if in_flight:
            return False
        return self.answered_sent is None or now - self.answered_sent >= PING_EVERY

    def _missing(self) -> list[str]:
        """Services the best-answered ping in flight has not reached (all of them without one)."""
        if not self.pings:
            return sorted({*FORWARDERS, *LAST_HOPS})
        return min((missing(replies) for _, replies in self.pings.values()), key=len)

    def _forget(self, now: float) -> None:
        self.pings = {p: v for p, v in self.pings.items() if now - v[0] <= PIPELINE_MAX_AGE}
        if self.probe is not None:
            self.probe.forget(PIPELINE_MAX_AGE)

    def close(self) -> None:
        """Close the probe's clients; a new probe starts with no pings in flight."""
        if self.probe is not None:
            probe, self.probe = self.probe, None
            try:
                probe.close()
            except Exception as exc:  # already broken; nothing else holds these clients
                log.warning("readiness.probe_close_failed", error=_error(exc))
        self.pings.clear()


class Readiness:
    """Runs the readiness checks in a daemon thread; ``report()`` returns the cached outcome."""

    def __init__(self, settings: Settings, *, check_every: float = CHECK_EVERY) -> None:
        self.settings = settings
        self.check_every = check_every
        self._stop = threading.Event()
        self._stopping = False
        self._report: Report | None = None
        self._thread: threading.Thread | None = None
        self._store: Store | None = None
        self._broker: Any = None  # kafka.KafkaClient for metadata requests
        self._pipeline = _Pipeline(settings.kafka_bootstrap) if settings.kafka_bootstrap else None

    def start(self) -> Readiness:
        """Start checking in the background."""
        self._thread = threading.Thread(target=self._run, name="readiness", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Report not ready from now on and ask the thread to end (does not wait)."""
        self._stopping = True
        self._stop.set()

    def join(self, timeout: float = 2.0) -> None:
        """Wait for the thread; close its clients if it ended in time."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return  # stuck in a client call: leave its clients to the process exit
        self._close()

    def report(self) -> Report:
        """The last round's outcome, or a failed ``readiness`` check when there is none to trust."""
        if self._stopping:
            return Report({"readiness": Check(False, "stopping")})
        report = self._report
        if report is None:
            return Report({"readiness": Check(False, "not checked yet")})
        age = time.monotonic() - report.at
        if age > STALE_AFTER:
            return Report({**report.checks, "readiness": Check(False, f"last check finished {age:.0f}s ago")})
        return report

    def _run(self) -> None:
        was_ready: bool | None = None
        while not self._stop.is_set():
            report = self.check()
            self._report = report
            ready = not report.failed
            if ready != was_ready:
                details = {name: report.checks[name].detail for name in report.failed}
                log.info("readiness.changed", ready=ready, failed=details)
                was_ready = ready
            self._stop.wait(self.check_every)

    def check(self) -> Report:
        """Run one round of checks now (the thread's loop; also usable directly)."""
        broker = self._check_broker()
        pipeline = (
            self._pipeline.check(time.monotonic())
            if broker.ok and self._pipeline is not None
            else Check(False, "broker unreachable", tuple(sorted({*FORWARDERS, *LAST_HOPS})))
        )
        return Report({"database": self._check_database(), "broker": broker, "pipeline": pipeline})

    def _check_database(self) -> Check:
        try:
            if self._store is None:
                self._store = Store(self.settings.database_url, **_connect_timeout(self.settings))
            with self._store.session() as session:
                revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception as exc:  # reported by /readyz
            return Check(False, f"query failed: {_error(exc)}")
        if revision is None:
            return Check(False, "database is not migrated")
        return Check(True, f"schema revision {revision}")

    def _check_broker(self) -> Check:
        if not self.settings.kafka_bootstrap:
            return Check(False, "KAFKA_BOOTSTRAP_SERVERS is not set")
        try:
            if self._broker is None:
                from kafka import KafkaClient

                timeout_ms = int(CHECK_TIMEOUT * 1000)
                self._broker = KafkaClient(
                    bootstrap_servers=self.settings.kafka_bootstrap,
                    client_id="api-readiness",
                    request_timeout_ms=timeout_ms,
                    api_version_auto_timeout_ms=timeout_ms,
                )
            future = self._broker.cluster.request_update()
            self._broker.poll(future=future, timeout_ms=int(CHECK_TIMEOUT * 1000))
            if not future.is_done:
                return Check(False, f"no metadata answer within {CHECK_TIMEOUT:g}s")
            if future.failed():
                return Check(False, f"metadata request failed: {_error(future.exception)}")
        except Exception as exc:  # reported by /readyz; a new client is built next round
            self._close_broker()
            return Check(False, f"metadata request failed: {_error(exc)}")
        return Check(True, f"{len(self._broker.cluster.brokers())} broker(s) answered")

    def _close_broker(self) -> None:
        if self._broker is not None:
            broker, self._broker = self._broker, None
            try:
                broker.close()
            except Exception as exc:  # already broken; nothing else holds this client
                log.warning("readiness.broker_close_failed", error=_error(exc))

    def _close(self) -> None:
        self._close_broker()
        if self._pipeline is not None:
            self._pipeline.close()
        if self._store is not None:
            self._store.dispose()


def _connect_timeout(settings: Settings) -> dict[str, Any]:
    """Engine options so a database that does not answer fails the check instead of hanging it."""
    if settings.database_url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": int(CHECK_TIMEOUT)}}
    return {}


def readyz() -> tuple[Response, int]:
    """200 ``{"status": "ready", ...}`` when every check passed; 503 naming the failed ones."""
    readiness: Readiness | None = current_app.extensions.get(EXTENSION)
    report = readiness.report() if readiness else Report({"readiness": Check(False, "not running")})
    failed = report.failed
    body = {
        "status": "not_ready" if failed else "ready",
        "failed": failed,
        "checks": {name: check.as_json() for name, check in report.checks.items()},
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, 503 if failed else 200


def attach(app: Flask, readiness: Readiness) -> None:
    """Let ``/readyz`` answer from ``readiness`` (the composition root starts it)."""
    app.extensions[EXTENSION] = readiness
