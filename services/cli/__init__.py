"""The ``audiencesync`` command: one entry point, subcommands registered by the modules that own them."""
