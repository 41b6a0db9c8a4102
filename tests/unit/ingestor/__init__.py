"""Unit tests of the ingestor's pure domain and the demo data generator."""
