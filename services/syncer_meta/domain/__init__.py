"""The Meta syncer's own pure core: Graph error classification, usage pacing, row format, targets.

The platform-neutral algorithm (membership, diff, batching, guardrails, failure kinds) is the
shared engine in ``shared.sync``.
"""
