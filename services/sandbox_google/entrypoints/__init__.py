"""Command-line entry points of the Google sandbox."""
