"""Entry points that start the Meta sandbox (the ``audiencesync sandbox meta`` command)."""
