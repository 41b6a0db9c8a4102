"""I/O adapters of the ingestor."""
