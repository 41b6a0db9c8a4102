"""A faithful local stand-in for Meta's Graph API custom-audience surface (the Meta sandbox).

Start it in-process with ``run_meta_sandbox`` (tests, demo) or as ``audiencesync sandbox meta``.
"""
