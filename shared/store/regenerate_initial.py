"""Regenerates the initial migration from the models (used only until the first release).

Run with ``make migration``. After the first release, migrations are only ever added.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from shared.store.migrate import MIGRATIONS, alembic_config


def main() -> None:
    """Delete and re-autogenerate ``0001_initial_schema.py`` against an empty SQLite database."""
    for old in (MIGRATIONS / "versions").glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'empty.db'}"
        command.revision(alembic_config(url), message="initial schema", autogenerate=True, rev_id="0001")


if __name__ == "__main__":
    main()
