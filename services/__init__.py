"""One package per audiencesync service, each cut the same way (domain, handlers, adapters, entrypoints)."""
