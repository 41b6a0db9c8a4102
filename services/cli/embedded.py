"""The embedded stack behind ``audiencesync up``: broker, database, every service, one terminal.

Services run as child processes (one per service, as in a deployment), each tied to this
process with PDEATHSIG, logging to ``var/logs/<service>.log``. Ctrl-C or SIGTERM stops the
services first (they finish their batch and commit), then the broker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.bus.broker import EmbeddedBroker, ensure_topics, free_port, spawn_tied
from shared.bus.consumer import install_stop_signals
from shared.bus.topics import ALL_TOPICS
from shared.config import Settings
from shared.log import get_logger
from shared.store.migrate import upgrade

log = get_logger(__name__)

STACK_SERVICES = ("ingestor", "scorer", "syncer_meta", "syncer_google", "scheduler", "api")
SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 - the embedded Meta sandbox's token and ad account (demo only)
SANDBOX_ACCOUNT = "act_1000"


@dataclass
class EmbeddedStack:
    """Starts and stops the whole local stack."""

    settings: Settings
    api_port: int | None = None
    services: tuple[str, ...] = STACK_SERVICES
    broker: EmbeddedBroker | None = None
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        """Where each process writes its log."""
        return self.settings.var_dir / "logs"

    def start(self) -> Settings:
        """Broker, topics, migrations, services; returns the settings the children run with."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        settings = self.settings
        if not settings.kafka_bootstrap:
            self.broker = EmbeddedBroker(log_file=self.log_dir / "broker.log").start()
            settings = settings.with_overrides(kafka_bootstrap=self.broker.bootstrap)
        assert settings.kafka_bootstrap
        ensure_topics(settings.kafka_bootstrap, ALL_TOPICS, partitions=settings.kafka_partitions)
        upgrade(settings.database_url)
        port = self.api_port or free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        env = settings.child_environ()
        self.meta_url: str | None = None
        if not settings.meta_accounts:  # no real Meta account configured: use the sandbox
            env.update(self._start_meta_sandbox())
        for name in self.services:
            argv = [sys.executable, "-m", "services.cli.main", "serve", name]
            if name == "api":
                argv += ["--port", str(port)]
            out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
            try:
                self.children[name] = spawn_tied(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
            finally:
                out.close()
        self.settings = settings
        log.info("stack.started", services=list(self.children), bootstrap=settings.kafka_bootstrap)
        return settings

    def _start_meta_sandbox(self) -> dict[str, str]:
        """Run the Meta sandbox (state kept under var/) and point the syncer at it."""
        import urllib.request

        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "services.cli.main",
            "sandbox",
            "meta",
            "--port",
            str(port),
            "--state",
            str(self.settings.var_dir / "sandbox-meta.db"),
            "--access-token",
            SANDBOX_TOKEN,
            "--ad-account",
            SANDBOX_ACCOUNT,
        ]
        out = open(self.log_dir / "sandbox_meta.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            self.children["sandbox_meta"] = spawn_tied(argv, stdout=out, stderr=subprocess.STDOUT)
        finally:
            out.close()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_sandbox/health", timeout=1):  # noqa: S310 - loopback
                    break
            except OSError:
                if time.monotonic() > deadline or self.children["sandbox_meta"].poll() is not None:
                    log_file = self.log_dir / "sandbox_meta.log"
                    raise RuntimeError(f"the Meta sandbox did not start; see {log_file}") from None
                time.sleep(0.1)
        self.meta_url = url
        # The demo flushes label changes to Meta quickly; a deployment batches for longer.
        return {
            "META_GRAPH_URL": url,
            "META_ACCOUNTS": SANDBOX_ACCOUNT,
            "META_ACCESS_TOKEN": SANDBOX_TOKEN,
            "META_FLUSH_SECONDS": "3",
        }

    def dead_children(self) -> list[str]:
        """Services whose process has exited."""
        return [name for name, proc in self.children.items() if proc.poll() is not None]

    def stop(self, *, grace: float = 15.0) -> None:
        """SIGTERM the services and wait for them, then the sandboxes, then the broker.

        Services stop first so a sync in flight finishes against a live sandbox and broker.
        """
        services = {n: p for n, p in self.children.items() if not n.startswith("sandbox_")}
        sandboxes = {n: p for n, p in self.children.items() if n.startswith("sandbox_")}
        for group in (services, sandboxes):
            self._terminate(group, grace)
        self.children.clear()
        if self.broker:
            self.broker.stop()
            self.broker = None

    @staticmethod
    def _terminate(processes: dict[str, subprocess.Popen[bytes]], grace: float) -> None:
        for proc in processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, proc in processes.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("service.killed", service=name)
                proc.kill()
                proc.wait()

    def run_forever(self) -> int:
        """Run until Ctrl-C / SIGTERM, or until a service dies (then stop all and fail)."""
        stop = threading.Event()
        install_stop_signals(stop)
        try:
            self.start()
            print(self.where_to_look(), flush=True)
            while not stop.wait(0.5):
                dead = self.dead_children()
                if dead:
                    print(f"service(s) exited: {', '.join(dead)}; see {self.log_dir}", file=sys.stderr)
                    return 1
            return 0
        finally:
            self.stop()

    def run_demo(self) -> int:
        """Start, run the demo pipeline once, print its summary, stop everything."""
        from services.cli.demo import run_demo

        install_stop_signals(threading.Event())  # Ctrl-C still unwinds through ``finally``
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            self.start()
            ok = run_demo(self)
            print(self.where_to_look(), flush=True)
            return 0 if ok else 1
        finally:
            self.stop()

    def where_to_look(self) -> str:
        """The lines that tell a user where everything is."""
        db = self.settings.database_url
        return "\n".join(
            [
                "",
                f"  logs      {self.log_dir}/<service>.log",
                f"  database  {db}",
                f"  broker    {self.settings.kafka_bootstrap}",
                f"  api       {self.api_url}/health",
                *(
                    [f"  meta      {self.meta_url} (sandbox; /_sandbox/audiences lists what it holds)"]
                    if getattr(self, "meta_url", None)
                    else []
                ),
                f"  pid       {os.getpid()}",
            ]
        )
