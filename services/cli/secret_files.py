"""``audiencesync secrets init``: the secret files docker-compose.yml mounts, created in one command.

Compose refuses to start while a secret's file is missing, so every secret it names is created
here: random values for what only we use (the PostgreSQL password and the URL that carries it,
the webhook and dashboard keys), and empty files for credentials only their owner can supply (ad
platform tokens, the alert webhook). An empty file means "not configured": the syncers consume
and send nothing, alerts are recorded and not posted. ``--sandbox`` fills empty platform tokens
with the local sandboxes' demo token instead. Existing non-empty files are never overwritten, so
running it again is safe. Standard library only: ``python3 -m services.cli.secret_files`` works before
the package is installed (``make secrets``).
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 - what the compose sandboxes accept (demo only)
DATABASE_USER = "audiencesync"
DATABASE_HOST = "postgres:5432/audiencesync"  # the compose service and database

RANDOM = "random"
SUPPLIED = "supplied"  # the operator's credential; empty until they write it
SANDBOX = "sandbox"  # supplied, or the sandboxes' token with --sandbox

# Every secret docker-compose.yml defines, with what it is made of (tests keep the two in step).
COMPOSE_SECRETS: dict[str, str] = {
    "postgres_password": RANDOM,
    "database_url": RANDOM,  # postgresql://audiencesync:<postgres_password>@postgres:5432/audiencesync
    "shopify_webhook_secret": RANDOM,  # replace with your Shopify app's secret to accept its webhooks
    "helpdesk_webhook_secret": RANDOM,
    "dashboard_secret": RANDOM,
    "meta_access_token": SANDBOX,
    "meta_app_secret": SUPPLIED,
    "google_access_token": SANDBOX,
    "google_developer_token": SANDBOX,
    "alert_webhook_url": SUPPLIED,
}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``secrets init``."""
    parser = sub.add_parser("secrets", help="the secret files docker-compose.yml mounts")
    actions = parser.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init", help="create every missing secret file (random keys; empty platform credentials)"
    )
    init.add_argument("--dir", type=Path, default=Path("var/secrets"), help="where (default: var/secrets)")
    init.add_argument(
        "--sandbox",
        action="store_true",
        help="fill empty ad-platform tokens with the compose sandboxes' token (profile sandbox)",
    )
    init.set_defaults(func=_init)


def _database_password(folder: Path) -> str:
    """The PostgreSQL password: the existing file's, else the existing URL's, else a new one."""
    for name, read in (
        ("postgres_password", lambda text: text),
        ("database_url", lambda text: urlsplit(text).password or ""),
    ):
        path = folder / name
        if path.is_file() and (value := read(path.read_text(encoding="utf-8").strip())):
            return value
    return secrets.token_urlsafe(24)


def _value(name: str, kind: str, password: str, sandbox: bool) -> str:
    if name == "postgres_password":
        return password
    if name == "database_url":
        return f"postgresql://{DATABASE_USER}:{password}@{DATABASE_HOST}"
    if kind == RANDOM:
        return secrets.token_urlsafe(32)
    return SANDBOX_TOKEN if kind == SANDBOX and sandbox else ""


def init_secrets(folder: Path, *, sandbox: bool = False) -> dict[str, str]:
    """Create the missing secret files in ``folder``; what happened to each (created, filled, kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # other users of this host cannot reach the files
    password = _database_password(folder)
    done: dict[str, str] = {}
    for name, kind in COMPOSE_SECRETS.items():
        path = folder / name
        existing = path.read_text(encoding="utf-8").strip() if path.is_file() else None
        if existing:
            done[name] = "kept"
            continue
        value = _value(name, kind, password, sandbox)
        path.write_text(f"{value}\n" if value else "", encoding="utf-8")
        # Readable by the containers' own users (postgres, audiencesync): compose mounts the file
        # as it is, with its owner and mode; the 0700 folder keeps it from this host's other users.
        path.chmod(0o644)
        if existing is None:
            done[name] = "created" if value else "created empty"
        else:
            done[name] = "filled" if value else "kept empty"
    return done


def _init(args: argparse.Namespace, settings: object) -> int:
    done = init_secrets(args.dir, sandbox=args.sandbox)
    for name, what in done.items():
        print(f"  {args.dir / name}: {what}")
    empty = [n for n, what in done.items() if what.endswith("empty")]
    if empty:
        print(f"empty (not configured until you write them): {', '.join(empty)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python3 -m services.cli.secret_files init ...`` without the installed package."""
    parser = argparse.ArgumentParser(prog="audiencesync")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args, None)
    return code


if __name__ == "__main__":
    sys.exit(main())
