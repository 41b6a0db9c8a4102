"""Code two or more audiencesync services truly share: messages, bus, identity, store, settings, logs."""
