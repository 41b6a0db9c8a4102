"""``audiencesync sandbox <platform>``: local stand-ins for the ad platforms' APIs.

Each platform is a subcommand (``meta``, ``google``) whose flags live
with its sandbox package; registration imports no web framework.
"""

from __future__ import annotations

import argparse
from typing import Any

from shared.config import Settings


def register(subparsers: Any) -> None:
    """Add the ``sandbox`` command and its platform subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sandbox",
        help="run a local ad-platform API sandbox (dry runs, demos, CI)",
        description="Local servers that speak the ad platforms' APIs as their official clients "
        "call them, enforcing the platforms' limits and errors.",
    )
    platforms = parser.add_subparsers(dest="platform", metavar="PLATFORM", required=True)
    meta = platforms.add_parser(
        "meta",
        help="the Graph API custom-audience surface (facebook-business SDK)",
        description="Serve Meta's Graph API custom-audience endpoints locally; see docs/sandbox-meta.md.",
    )
    from services.sandbox_meta.entrypoints.cli import add_arguments

    add_arguments(meta)
    meta.set_defaults(func=run_meta)
    google = platforms.add_parser(
        "google",
        help="the Data Manager API and Google Ads API v26 Customer Match surface (gRPC over TLS)",
        description="Serve Google's Customer Match APIs locally; see docs/sandbox-google.md.",
    )
    from services.sandbox_google.entrypoints.cli import add_arguments as add_google_arguments

    add_google_arguments(google)
    google.set_defaults(func=run_google)


def run_meta(args: argparse.Namespace, settings: Settings) -> int:
    """Run the Meta sandbox in the foreground until SIGTERM or Ctrl-C."""
    from services.sandbox_meta.entrypoints.cli import serve

    return serve(args, settings)


def run_google(args: argparse.Namespace, settings: Settings) -> int:
    """Run the Google sandbox in the foreground until SIGTERM or Ctrl-C."""
    from services.sandbox_google.entrypoints.cli import serve

    return serve(args, settings)
