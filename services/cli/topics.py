"""``audiencesync topics ensure``: create every topic the services use, on any Kafka cluster.

Deployments run it once before the services start (docker-compose's ``topics`` service, the
Kubernetes Job): their Kafka has topic auto-creation off, so a missing topic would otherwise stop
the first producer or leave a consumer with nothing assigned. The embedded stack creates its
topics itself. Existing topics are never altered (more partitions would move keys).
"""

from __future__ import annotations

import argparse
import sys
import time

from shared.config import Settings

CREATED_VISIBLE_SECONDS = 10.0  # a controller may take a moment before new topics show in metadata


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``topics ensure``."""
    topics = sub.add_parser("topics", help="the Kafka topics the services use")
    actions = topics.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    ensure = actions.add_parser(
        "ensure",
        help="create every topic that is missing (idempotent); exit 0 once all exist",
    )
    ensure.add_argument(
        "--bootstrap", default=None, help="host:port[,host:port...] (default: KAFKA_BOOTSTRAP_SERVERS)"
    )
    ensure.add_argument(
        "--partitions",
        type=_positive,
        default=None,
        help="for topics created now (default: KAFKA_PARTITIONS)",
    )
    ensure.add_argument(
        "--replication-factor", type=_positive, default=1, help="for topics created now (default: 1)"
    )
    ensure.add_argument(
        "--wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to keep retrying while the broker does not answer (default: 60)",
    )
    ensure.set_defaults(func=_ensure)


def _fail(message: str) -> int:
    print(f"audiencesync topics ensure: {message}", file=sys.stderr)
    return 1


def _ensure(args: argparse.Namespace, settings: Settings) -> int:
    from kafka.errors import KafkaError

    from shared.bus.broker import BrokerError, ensure_topics, wait_until_ready
    from shared.bus.topics import ALL_TOPICS

    bootstrap = args.bootstrap or settings.kafka_bootstrap
    if not bootstrap:
        print(
            "audiencesync topics ensure: no broker: set KAFKA_BOOTSTRAP_SERVERS or pass --bootstrap",
            file=sys.stderr,
        )
        return 2
    partitions = args.partitions or settings.kafka_partitions
    try:
        wait_until_ready(bootstrap, timeout=args.wait)  # in compose, Kafka may have just started
        created = ensure_topics(
            bootstrap, ALL_TOPICS, partitions=partitions, replication_factor=args.replication_factor
        )
        found = _visible(bootstrap, ALL_TOPICS)
    except BrokerError as exc:
        return _fail(f"{exc} (waited {args.wait:g} s)")
    except KafkaError as exc:  # e.g. a replication factor above the number of brokers
        detail = str(exc).split(". Request", 1)[0]  # kafka-python appends the whole request
        return _fail(f"{type(exc).__name__} on {bootstrap}: {detail}")
    for topic in ALL_TOPICS:
        count = found.get(topic)
        state = "created" if topic in created else "exists"
        note = ""
        if count is not None and count < partitions:
            note = f" (fewer than the {partitions} asked; partitions are never added here: keys would move)"
        shown = f"{count} partitions" if count is not None else "missing"
        print(f"  {topic:<24} {shown:<14} {state}{note}")
    absent = [t for t in ALL_TOPICS if t not in found]
    if absent:
        return _fail(f"not visible on {bootstrap} after creation: {', '.join(absent)}")
    print(f"topics: {len(ALL_TOPICS)} ready on {bootstrap} ({len(created)} created)")
    return 0


def _visible(bootstrap: str, topics: tuple[str, ...]) -> dict[str, int]:
    """Partition counts once every topic shows in metadata, or what shows after a short wait."""
    from shared.bus.broker import topic_partitions

    deadline = time.monotonic() + CREATED_VISIBLE_SECONDS
    while True:
        found = topic_partitions(bootstrap, topics)
        if len(found) == len(topics) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)
