"""The embedded stack behind ``audiencesync up``: broker, database, every service, one terminal.

Services run as child processes (one per service, as in a deployment), each tied to this
process with PDEATHSIG, logging to ``var/logs/<name>.log``, its pid in ``var/run/<name>.pid``.
A supervisor thread restarts a process that exits, with backoff. The embedded broker keeps its
log in memory, so when it dies (or at start, after a previous ``up`` died) it is started again
on the same port and refilled from the outbox: every message some consumer has not handled
yet is published again (``shared.store.outbox.redeliver``); consumers drop what they had seen.
Ctrl-C or SIGTERM stops the services first (they finish their batch and commit), then the
sandboxes, then the broker.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from services.cli import stack_env
from services.cli.supervisor import Child
from services.syncer_google.config import GoogleSettings
from services.syncer_meta.config import MetaSettings
from shared.bus.broker import EmbeddedBroker, ensure_topics, free_port, free_ports
from shared.bus.producer import Publisher
from shared.bus.topics import ALL_TOPICS
from shared.config import Settings
from shared.log import get_logger
from shared.store.db import Store
from shared.store.migrate import upgrade
from shared.store.outbox import redeliver

log = get_logger(__name__)

STACK_SERVICES = ("ingestor", "scorer", "syncer_meta", "syncer_google", "scheduler", "api")
SANDBOX_GOOGLE_CUSTOMER = "1234567890"  # the embedded Google sandbox's Google Ads account (demo only)
SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 - the embedded Meta sandbox's token and ad account (demo only)
SANDBOX_ACCOUNT = "act_1000"
CONSUMERS = frozenset({"ingestor", "scorer", "syncer_meta", "syncer_google"})

# What ``up`` runs on the started stack (the demo): stops early once the event is set; True if it did its job.
FirstRun = Callable[[threading.Event], bool]


def _stop_on_signals(stop: threading.Event) -> None:
    """SIGINT or SIGTERM sets ``stop`` (``run`` stops in order); a second one raises
    ``KeyboardInterrupt``, so an impatient Ctrl-C still unwinds through ``stop`` at once."""

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.info("signal.stop", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


@dataclass
class EmbeddedStack:
    """Starts, supervises and stops the whole local stack."""

    settings: Settings
    api_port: int | None = None
    services: tuple[str, ...] = STACK_SERVICES
    broker: EmbeddedBroker | None = None
    children: dict[str, Child] = field(default_factory=dict)
    meta_url: str | None = None
    google_url: str | None = None  # the Google sandbox's loopback admin endpoint
    api_url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _stopped: threading.Event = field(default_factory=threading.Event, repr=False)
    _supervisor: threading.Thread | None = field(default=None, repr=False)

    @property
    def log_dir(self) -> Path:
        """Where each process writes its log."""
        return self.settings.var_dir / "logs"

    @property
    def run_dir(self) -> Path:
        """Where each process's pid file is (drills and operators find processes there)."""
        return self.settings.var_dir / "run"

    def start(self) -> Settings:
        """Broker, topics, migrations, refill, services, supervisor; returns the children's settings."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "up.pid").write_text(f"{os.getpid()}\n")
        settings = self.settings
        upgrade(settings.database_url)
        if not settings.kafka_bootstrap:
            self.broker = EmbeddedBroker(log_file=self.log_dir / "broker.log").start()
            (self.run_dir / "broker.pid").write_text(f"{self.broker.pid}\n")
            settings = settings.with_overrides(kafka_bootstrap=self.broker.bootstrap)
        assert settings.kafka_bootstrap
        ensure_topics(settings.kafka_bootstrap, ALL_TOPICS, partitions=settings.kafka_partitions)
        self.settings = settings
        if self.broker:
            self._refill()  # a previous broker's log died with it (or with a previous ``up``)
        env = settings.child_environ()
        # What commands run beside the stack need and cannot know: the broker and sandboxes it started.
        beside = {"KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap} if self.broker else {}
        if not MetaSettings.from_env(env).accounts:  # no real Meta account configured: use the sandbox
            beside.update(self._start_meta_sandbox(env))
        if not GoogleSettings.from_env(env).customers:  # nor Google: the Data Manager sandbox path
            beside.update(self._start_google_sandbox(env))
        env.update(beside)
        stack_env.write(self.run_dir, beside)
        # Picked once the sandboxes listen: a port picked before could be handed to one of them.
        port = self.api_port or free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        for name in self.services:
            argv = [sys.executable, "-m", "services.cli.main", "serve", name]
            if name == "api":
                argv += ["--port", str(port)]
            self._add(name, argv, env).spawn(time.monotonic())
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._supervisor.start()
        log.info("stack.started", services=list(self.children), bootstrap=settings.kafka_bootstrap)
        return settings

    def _add(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        child = Child(name, argv, env, self.log_dir / f"{name}.log", self.run_dir / f"{name}.pid")
        self.children[name] = child
        return child

    def _refill(self) -> int:
        """Publish again every outbox message a consumer has not handled (the broker lost them)."""
        assert self.settings.kafka_bootstrap
        store = Store(self.settings.database_url)
        try:
            with Publisher(self.settings.kafka_bootstrap, client_id="up") as publisher:
                sent = redeliver(store, publisher, after=timedelta(0))
        finally:
            store.dispose()
        log.info("broker.refilled", messages=sent)
        return sent

    def _start_sandbox(self, name: str, argv: list[str], env: dict[str, str], health: str, what: str) -> None:
        """Spawn a sandbox and wait until its health URL answers (30 s at most)."""
        sandbox = self._add(name, argv, env)
        sandbox.spawn(time.monotonic())
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(health, timeout=1):  # noqa: S310 - loopback
                    return
            except OSError:
                if time.monotonic() > deadline or sandbox.exit_code is not None:
                    raise RuntimeError(f"the {what} sandbox did not start; see {sandbox.log_file}") from None
                time.sleep(0.1)

    def _start_meta_sandbox(self, env: dict[str, str]) -> dict[str, str]:
        """Run the Meta sandbox (state kept under var/) and point the syncer at it."""
        port = free_port()
        argv = [
            *(sys.executable, "-m", "services.cli.main", "sandbox", "meta", "--port", str(port)),
            *("--state", str(self.settings.var_dir / "sandbox-meta.db")),
            *("--access-token", SANDBOX_TOKEN, "--ad-account", SANDBOX_ACCOUNT),
        ]
        url = f"http://127.0.0.1:{port}"
        self._start_sandbox("sandbox_meta", argv, env, f"{url}/_sandbox/health", "Meta")
        self.meta_url = url
        # The demo flushes label changes to Meta quickly; a deployment batches for longer.
        return {
            "META_GRAPH_URL": url,
            "META_ACCOUNTS": SANDBOX_ACCOUNT,
            "META_ACCESS_TOKEN": SANDBOX_TOKEN,
            "META_FLUSH_SECONDS": "3",
        }

    def _start_google_sandbox(self, env: dict[str, str]) -> dict[str, str]:
        """Run the Google sandbox (TLS, state and certificate under var/) and point the syncer at it."""
        port, admin = free_ports(2)
        cert_dir = self.settings.var_dir / "sandbox-google"
        argv = [
            *(sys.executable, "-m", "services.cli.main", "sandbox", "google", "--port", str(port)),
            *("--admin-port", str(admin), "--cert-dir", str(cert_dir)),
            *("--state", str(self.settings.var_dir / "sandbox-google.db")),
            *("--access-token", SANDBOX_TOKEN, "--customer", SANDBOX_GOOGLE_CUSTOMER),
            *("--allowlisted-developer-token", SANDBOX_TOKEN, "--processing-seconds", "0.5"),
        ]
        url = f"http://127.0.0.1:{admin}"
        self._start_sandbox("sandbox_google", argv, env, f"{url}/health", "Google")
        self.google_url = url
        return {
            "GOOGLE_DATAMANAGER_ENDPOINT": f"localhost:{port}",
            "GOOGLE_ADS_ENDPOINT": f"localhost:{port}",
            "GOOGLE_CA_FILE": str(cert_dir / "ca.pem"),
            "GOOGLE_CUSTOMERS": SANDBOX_GOOGLE_CUSTOMER,
            "GOOGLE_ACCESS_TOKEN": SANDBOX_TOKEN,
            "GOOGLE_DEVELOPER_TOKEN": SANDBOX_TOKEN,
            "GOOGLE_FLUSH_SECONDS": "3",
        }

    def _supervise(self) -> None:
        """Every half second: bring back the broker, then any process that exited.

        Processes this thread restarted get ``PR_SET_PDEATHSIG`` from it (Linux ties it to the
        forking *thread*), so once stopping begins it waits, alive, until ``stop`` has stopped
        them gracefully; otherwise they would be SIGKILLed the moment it returned.
        """
        try:
            self._supervise_until_stopping()
        finally:
            self._stopped.wait()

    def _supervise_until_stopping(self) -> None:
        while not self._stopping.wait(0.5):
            try:
                with self._lock:
                    if self._stopping.is_set():
                        return
                    if self.broker is not None and not self.broker.running:
                        self._restart_broker()
                    self._restart_exited(time.monotonic())
            except Exception as exc:  # the supervisor must outlive any one failed restart
                log.exception("supervisor.failed", error=f"{type(exc).__name__}: {exc}")

    def _restart_broker(self) -> None:
        """Same port, fresh (empty) log: topics again, refill from the outbox, restart consumers.

        Consumers are stopped *before* the new broker listens: a client of the dead broker that
        reconnects and joins its group on the new one, then exits, leaves a member the new
        coordinator waits for (up to the rebalance timeout, 5 minutes) before assigning anyone.
        They lose nothing by it: offsets are uncommitted and the refill brings every message back.
        """
        assert self.broker is not None
        log.warning("broker.exited", code=self.broker.exit_code, action="restarting on the same port")
        print("broker exited; restarting it and refilling it from the outbox", file=sys.stderr, flush=True)
        consumers = [c for n, c in self.children.items() if n in CONSUMERS]
        for child in consumers:
            child.terminate()
        for child in consumers:
            child.wait(5)
        self.broker = EmbeddedBroker(port=self.broker.port, log_file=self.log_dir / "broker.log").start()
        (self.run_dir / "broker.pid").write_text(f"{self.broker.pid}\n")
        ensure_topics(self.broker.bootstrap, ALL_TOPICS, partitions=self.settings.kafka_partitions)
        self._refill()
        for child in consumers:
            child.spawn(time.monotonic())

    def _restart_exited(self, now: float) -> None:
        for child in self.children.values():
            code = child.exit_code
            if code is None:
                continue
            if child.restart_at is None:
                delay = child.backoff.delay_after_exit(now)
                child.restart_at = now + delay
                log.warning("service.exited", service=child.name, code=code, restart_in=delay)
                print(
                    f"{child.name} exited with code {code}; restarting in {delay:.0f}s ({child.log_file})",
                    file=sys.stderr,
                    flush=True,
                )
            elif now >= child.restart_at:
                child.restarts += 1
                child.spawn(now)
                log.warning("service.restarted", service=child.name, restarts=child.restarts)

    def stop(self, *, grace: float = 15.0) -> None:
        """Stop supervising; SIGTERM the services, then the sandboxes, then stop the broker.

        Services stop first so a sync in flight finishes against a live sandbox and broker.
        """
        self._stopping.set()
        stack_env.remove(self.run_dir)  # first: commands started from now on must not adopt a dying stack
        try:
            self._stop_processes(grace)
        finally:
            self._stopped.set()  # the supervisor thread may end now (see ``_supervise``)
            if self._supervisor is not None and self._supervisor is not threading.current_thread():
                self._supervisor.join(30)
        for name in ("broker.pid", "up.pid"):
            (self.run_dir / name).unlink(missing_ok=True)

    def _stop_processes(self, grace: float) -> None:
        with self._lock:  # waits for a restart in progress
            services = [c for n, c in self.children.items() if not n.startswith("sandbox_")]
            sandboxes = [c for n, c in self.children.items() if n.startswith("sandbox_")]
            for group in (services, sandboxes):
                for child in group:
                    child.terminate()
                deadline = time.monotonic() + grace
                for child in group:
                    if not child.wait(deadline - time.monotonic()):
                        log.warning("service.killed", service=child.name)
            self.children.clear()
            if self.broker:
                self.broker.stop()
                self.broker = None

    def run(self, first: FirstRun | None = None, *, once: bool = False) -> int:
        """Start; run ``first`` on the started stack (the demo); serve until Ctrl-C or SIGTERM.

        With ``once`` it stops right after ``first``. Exit 0, or 1 when ``first`` reported a
        failure. Crashed processes are restarted meanwhile; whatever happens, ``stop`` runs.
        """
        stop = threading.Event()
        _stop_on_signals(stop)
        try:
            self.start()
            ok = first(stop) if first is not None and not stop.is_set() else True
            print(self.where_to_look(), flush=True)
            if once or stop.is_set():
                return 0 if ok else 1
            print(self.readiness(stop), flush=True)
            print("  serving   until Ctrl-C (SIGINT) or SIGTERM", flush=True)
            while not stop.wait(1.0):
                pass
            return 0 if ok else 1
        finally:
            self.stop()

    def readiness(self, stop: threading.Event, *, timeout: float = 120.0) -> str:
        """Wait until ``/readyz`` says every service consumes; the line that says so (or what is not)."""
        deadline = time.monotonic() + timeout
        body: dict[str, list[str]] = {}
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.api_url}/readyz", timeout=2):  # noqa: S310 - loopback
                    return f"  ready     {self.api_url}/readyz: every service is consuming"
            except urllib.error.HTTPError as exc:
                body = json.loads(exc.read() or b"{}")
            except OSError:
                pass
            stop.wait(1.0)
        return (
            f"  not ready {self.api_url}/readyz: {', '.join(map(str, body.get('failed') or ['no answer']))}"
        )

    def where_to_look(self) -> str:
        """The lines that tell a user where everything is."""
        lines = [
            "",
            f"  logs      {self.log_dir}/<service>.log (pids in {self.run_dir})",
            f"  database  {self.settings.database_url}",
            f"  broker    {self.settings.kafka_bootstrap}",
            f"  api       {self.api_url} (reference at /docs; a token: audiencesync tokens create NAME)",
            f"  dashboard {self.api_url}/ (log in with a token of scope read or more)",
            f"  webhooks  POST {self.api_url}/webhooks/shopify/<topic> (signed with SHOPIFY_WEBHOOK_SECRET)",
        ]
        if self.meta_url:
            lines.append(f"  meta      {self.meta_url} (sandbox; /_sandbox/audiences lists what it holds)")
        if self.google_url:
            lines.append(f"  google    {self.google_url} (sandbox admin; /lists shows what it holds)")
        lines.append(f"  pid       {os.getpid()}")
        return "\n".join(lines)
