"""The pure core of the Meta sandbox: audience, payload, session and usage rules.

Nothing here touches sockets, flask or SQLite; the rules raise ``GraphError`` subclasses that
the HTTP edge renders as Graph JSON.
"""
