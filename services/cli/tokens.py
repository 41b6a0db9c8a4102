"""``audiencesync tokens create|revoke NAME``: API tokens for ad-ops tools and Prometheus."""

from __future__ import annotations

import argparse

from shared.config import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``tokens create`` and ``tokens revoke``."""
    tokens = sub.add_parser("tokens", help="create or revoke API tokens")
    actions = tokens.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a token and print it once")
    create.add_argument("name")
    create.add_argument("--scope", action="append", default=None, help="repeatable; default: all")
    create.set_defaults(func=_create)
    revoke = actions.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    revoke.set_defaults(func=_revoke)


def _create(args: argparse.Namespace, settings: Settings) -> int:
    from services.api.auth import create_token
    from shared.store.db import Store

    store = Store(settings.database_url)
    try:
        print(create_token(store, args.name, args.scope or ["*"]))
    finally:
        store.dispose()
    return 0


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    from services.api.auth import revoke_token
    from shared.store.db import Store

    store = Store(settings.database_url)
    try:
        ok = revoke_token(store, args.name)
    finally:
        store.dispose()
    print("revoked" if ok else f"no active token named {args.name!r}")
    return 0 if ok else 1
