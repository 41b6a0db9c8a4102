"""``audiencesync version | broker | serve SERVICE | up``: running the services and the stack."""

from __future__ import annotations

import argparse
import importlib
import sys
import threading
from importlib.metadata import version as dist_version
from pathlib import Path

from shared.config import Settings

# Each module exposes ``serve(settings)``: the service in the foreground until SIGTERM.
SERVICES: dict[str, str] = {
    "ingestor": "services.ingestor.bootstrap",
    "scorer": "services.scorer.bootstrap",
    "syncer_meta": "services.syncer_meta.bootstrap",
    "syncer_google": "services.syncer_google.bootstrap",
    "api": "services.api.bootstrap",
    "scheduler": "services.scheduler.bootstrap",
}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``version``, ``broker``, ``serve`` and ``up``."""
    sub.add_parser("version", help="print the version").set_defaults(func=_version)

    broker = sub.add_parser("broker", help="run the embedded Kafka-compatible broker in the foreground")
    broker.add_argument("--port", type=int, default=9092)
    broker.set_defaults(func=_broker)

    serve = sub.add_parser("serve", help="run one service in the foreground")
    serve.add_argument("service", choices=sorted(SERVICES))
    serve.add_argument("--port", type=int, default=None, help="api only: port to listen on")
    serve.add_argument(
        "--host",
        default=None,
        help="api only: address to listen on (default: API_HOST, else 127.0.0.1; 0.0.0.0 for all)",
    )
    serve.set_defaults(func=_serve)

    check = sub.add_parser("config", help="validate the YAML file with rules and audiences")
    check.add_argument(
        "file",
        nargs="?",
        type=Path,
        default=None,
        help="YAML file (default: AUDIENCESYNC_CONFIG, else the packaged default)",
    )
    check.set_defaults(func=_config_check)

    up = sub.add_parser("up", help="run the whole embedded stack in the foreground until Ctrl-C")
    up.add_argument("--api-port", type=int, default=None)
    up.add_argument(
        "--demo",
        action="store_true",
        help="first feed a generated shop through webhooks and bulk import, score it, sync both"
        " sandboxes and print a summary with an admin token; then keep serving",
    )
    up.add_argument("--once", action="store_true", help="with --demo: stop everything after the summary")
    up.add_argument(
        "--customers", type=int, default=None, help="with --demo: the demo shop's size (default 3,000)"
    )
    up.set_defaults(func=_up)


def _version(args: argparse.Namespace, settings: Settings) -> int:
    print(f"audiencesync {dist_version('audiencesync')}")
    return 0


def _broker(args: argparse.Namespace, settings: Settings) -> int:
    from shared.bus.broker import EmbeddedBroker, ensure_topics
    from shared.bus.consumer import install_stop_signals
    from shared.bus.topics import ALL_TOPICS

    stop = threading.Event()
    install_stop_signals(stop)
    with EmbeddedBroker(port=args.port) as broker:
        ensure_topics(broker.bootstrap, ALL_TOPICS, partitions=settings.kafka_partitions)
        print(f"broker listening on {broker.bootstrap} (memory storage; Ctrl-C stops it)", flush=True)
        while not stop.wait(0.5):
            if not broker.running:
                print("broker exited", flush=True)
                return 1
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    module = importlib.import_module(SERVICES[args.service])
    if args.service == "api":
        host = args.host or settings.api_host or "127.0.0.1"
        module.serve(settings, host=host, port=args.port)
    else:
        module.serve(settings)
    return 0


def _config_check(args: argparse.Namespace, settings: Settings) -> int:
    from shared.definitions import DefinitionsError, load_definitions

    try:
        definitions = load_definitions(args.file or settings.config_file)
    except DefinitionsError as exc:
        print(exc, file=sys.stderr)
        return 2
    keys = ", ".join(a.key for a in definitions.audiences) or "none"
    print(f"ok: scoring profile {definitions.scoring.profile!r}; audiences: {keys}")
    return 0


def _up(args: argparse.Namespace, settings: Settings) -> int:
    """The stack, and with ``--demo`` the demo run on it first: composed here; neither imports the other."""
    from services.cli.embedded import EmbeddedStack
    from shared.definitions import DefinitionsError, load_definitions

    if (args.once or args.customers is not None) and not args.demo:
        print("audiencesync: --once and --customers go with --demo", file=sys.stderr)
        return 2
    try:
        load_definitions(settings.config_file)  # fail before starting anything
    except DefinitionsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not args.demo:
        return EmbeddedStack(settings, api_port=args.api_port).run()
    from services.cli.demo import run_demo
    from services.cli.demo_feed import DEMO_CUSTOMERS, with_webhook_secret

    customers = DEMO_CUSTOMERS if args.customers is None else args.customers
    stack = EmbeddedStack(with_webhook_secret(settings), api_port=args.api_port)
    return stack.run(lambda stop: run_demo(stack, stop, customers=customers), once=args.once)
