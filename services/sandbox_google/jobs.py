"""Ads API offline user data jobs: applied when their run time has passed (filled in by the Ads path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.sandbox_google.service import GoogleSandbox


def settle_jobs(sandbox: GoogleSandbox, now: float) -> None:
    """Finish RUNNING jobs whose time has come."""
