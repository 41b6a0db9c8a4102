"""Builds the ``audiencesync`` argument parser from each owning module and dispatches.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)`` and sets ``func`` on its
parsers; ``func(args, settings) -> int`` is the exit code. Registration must stay cheap: heavy
imports happen inside the command functions, so ``audiencesync version`` starts instantly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from shared.config import Settings, SettingsError
from shared.log import configure_logging

COMMAND_MODULES: tuple[str, ...] = (
    "services.cli.stack",  # version, broker, serve, up
    "services.cli.db",  # db upgrade / downgrade / current
    "services.cli.tokens",  # tokens create / revoke
    "services.cli.ingest",  # import, dead-letters, rates
    "services.cli.sandbox",  # sandbox meta (local Graph API sandbox)
    "services.cli.hash",  # hash identifiers for Meta / Google (JSON lines or CSV)
    "services.cli.demo_data",  # demo-data: generated shop orders with planted segments
    "services.cli.score",  # score, export customers, report icp, backtest
    "services.cli.sync",  # sync meta / sync status: audiences to Meta by difference
    "services.cli.refresh",  # refresh: the nightly rescore + sync, by hand
    "services.cli.alerts",  # alerts check / test: the alert webhook by hand
    "services.cli.topics",  # topics ensure: create every topic on a deployment's Kafka
    "services.cli.secret_files",  # secrets init: the files docker-compose.yml mounts as secrets
)


def build_parser() -> argparse.ArgumentParser:
    """The full parser; exposed for tests and ``--help``."""
    parser = argparse.ArgumentParser(
        prog="audiencesync",
        description="Order history in, ICP / negative-ICP ad audiences out.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"audiencesync: configuration error: {exc}", file=sys.stderr)
        return 2
    service = getattr(args, "service", None) or args.command
    configure_logging(fmt=settings.log_format, level=settings.log_level, service=service)
    if args.command not in STACK_COMMANDS:
        settings = _beside_running_stack(settings)
    from sqlalchemy.exc import OperationalError

    try:
        code: int = args.func(args, settings)
    except SettingsError as exc:  # a service's own settings (META_*), read when the command needs them
        print(f"audiencesync: configuration error: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:  # the database is down or DATABASE_URL names none
        print(f"audiencesync: {_unreachable(settings.database_url, exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader left early (``... | head``): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        return 1
    return code


STACK_COMMANDS = frozenset({"up", "serve", "sandbox"})  # the stack itself, started with its settings


def _beside_running_stack(settings: Settings) -> Settings:
    """A command run beside a live ``up`` on the same var dir uses its broker and sandboxes."""
    from services.cli import stack_env

    adopted = stack_env.adopt(settings.var_dir, os.environ)
    if not adopted:
        return settings
    print(
        f"audiencesync: using the running stack's {', '.join(sorted(adopted))}"
        f" ({settings.var_dir / 'run' / stack_env.FILE})",
        file=sys.stderr,
    )
    return Settings.from_env()


def _unreachable(url: str, exc: Exception) -> str:
    """One line saying which database (password hidden) failed and the driver's first line of why."""
    from sqlalchemy.engine import make_url

    why = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    where = make_url(url).render_as_string(hide_password=True)
    return f"the database {where} cannot be used: {why[0] if why else type(exc).__name__}"


if __name__ == "__main__":
    sys.exit(main())
