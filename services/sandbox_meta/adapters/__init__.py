"""State adapters for the Meta sandbox (SQLite, in memory or in a file)."""
