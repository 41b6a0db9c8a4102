"""The alerts' I/O: facts read from the database, incidents stored there, the webhook post."""
