"""Builds the ``audiencesync`` argument parser from each owning module and dispatches.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)`` and sets ``func`` on its
parsers; ``func(args, settings) -> int`` is the exit code. Registration must stay cheap: heavy
imports happen inside the command functions, so ``audiencesync version`` starts instantly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
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


# The stack itself (started with its own settings), and commands that need no stack.
STACK_COMMANDS = frozenset({"up", "serve", "sandbox", "broker", "version", "hash", "demo-data", "config"})


def console() -> int:
    """The ``audiencesync`` command: ``main`` beside a running ``up``, with its broker and sandboxes.

    Adopting changes this process's environment, which its children inherit (the sync commands
    a refresh starts), so it happens here, once per process, and not in ``main``, which tests
    and other callers run in their own process.
    """
    argv = sys.argv[1:]
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command is not None and command not in STACK_COMMANDS:
        _beside_running_stack()
    return main(argv)


def _beside_running_stack() -> None:
    """Adopt what a live ``up`` on this var dir recorded (``stack_env``), and say so on stderr."""
    from services.cli import stack_env

    try:
        var_dir = Settings.from_env().var_dir
    except SettingsError:
        return  # main reports it
    adopted, skipped = stack_env.adopt(var_dir, os.environ)
    record = var_dir / "run" / stack_env.FILE
    if adopted:
        print(f"audiencesync: using the running stack's {', '.join(adopted)} ({record})", file=sys.stderr)
    for group in skipped:
        print(
            f"audiencesync: your {group} settings are used, not the running stack's ({record})",
            file=sys.stderr,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, read the settings, run the command; configuration and database errors in one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"audiencesync: configuration error: {exc}", file=sys.stderr)
        return 2
    service = getattr(args, "service", None) or args.command
    configure_logging(fmt=settings.log_format, level=settings.log_level, service=service)
    from sqlalchemy.exc import OperationalError

    try:
        code: int = args.func(args, settings)
    except SettingsError as exc:  # a service's own settings (META_*), read when the command needs them
        print(f"audiencesync: configuration error: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:  # the database is down or DATABASE_URL names none
        print(f"audiencesync: {_unreachable(settings.database_url, exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        if not _stdout_gone():
            raise  # a socket of the command's own, not its reader: a real error
        return 1
    return code


def _stdout_gone() -> bool:
    """Whether stdout's reader left (``... | head``); if so, later writes go nowhere, quietly.

    Asked of stdout itself (a pipe without a reader polls as an error): a broken pipe on a socket
    of the command's own is a real error and must not be taken for a reader that left.
    """
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        gone = any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll, or stdout is no file
        return False
    if gone:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
    return gone


def _unreachable(url: str, exc: Exception) -> str:
    """One line saying which database (password hidden) failed and the driver's first line of why."""
    from sqlalchemy.engine import make_url

    why = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    where = make_url(url).render_as_string(hide_password=True)
    return f"the database {where} cannot be used: {why[0] if why else type(exc).__name__}"


if __name__ == "__main__":
    sys.exit(console())
