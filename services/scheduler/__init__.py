"""Scheduler: runs the nightly full refresh (rescore everything, resync every audience)."""
