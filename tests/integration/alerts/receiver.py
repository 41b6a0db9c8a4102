"""A real local HTTP receiver for alert posts: records every body, answers from a script of statuses."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """What the receiver saw: every post's body and the status it answered."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses  # answered in turn; the last one repeats
        self.posts: list[tuple[int, dict[str, Any]]] = []
        self.url = ""

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """Bodies answered 2xx: the alerts that got through."""
        return [body for status, body in self.posts if 200 <= status < 300]


@contextmanager
def receiving(statuses: list[int] | None = None) -> Iterator[Receiver]:
    """Serve on a free loopback port for the block's duration."""
    receiver = Receiver(statuses or [200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            index = min(len(receiver.posts), len(receiver.statuses) - 1)
            status = receiver.statuses[index]
            receiver.posts.append((status, body))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret-part"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
