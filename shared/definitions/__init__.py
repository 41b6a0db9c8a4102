"""Declarative definitions loaded from the project's YAML config (scoring rules, audiences)."""
