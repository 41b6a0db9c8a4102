"""Ingestor: validates, normalizes and hashes orders, stores facts once, announces changed customers."""
