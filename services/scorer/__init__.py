"""Scorer: per-customer features, predicted value, ICP / negative-ICP labels with reasons."""
