"""I/O adapters of the api service."""
