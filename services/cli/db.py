"""``audiencesync db``: migrate the database named by ``DATABASE_URL``."""

from __future__ import annotations

import argparse

from shared.config import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``db upgrade|downgrade|current``."""
    db = sub.add_parser("db", help="database migrations")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = actions.add_parser("upgrade", help="migrate up (default: to the newest revision)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=_upgrade)
    down = actions.add_parser("downgrade", help="migrate down (default: to empty)")
    down.add_argument("revision", nargs="?", default="base")
    down.set_defaults(func=_downgrade)
    cur = actions.add_parser("current", help="print the current revision")
    cur.set_defaults(func=_current)


def _upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from shared.store.migrate import upgrade

    upgrade(settings.database_url, args.revision)
    print(f"database at {args.revision}")
    return 0


def _downgrade(args: argparse.Namespace, settings: Settings) -> int:
    from shared.store.migrate import downgrade

    downgrade(settings.database_url, args.revision)
    print(f"database at {args.revision}")
    return 0


def _current(args: argparse.Namespace, settings: Settings) -> int:
    from shared.store.migrate import current

    print(current(settings.database_url) or "empty")
    return 0
