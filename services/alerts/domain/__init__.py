"""The alert rules, the incident lifecycle and the message shape: pure functions over plain data."""
