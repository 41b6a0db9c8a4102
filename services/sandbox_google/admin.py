"""Loopback admin endpoint (HTTP/JSON): read state and call counts, inject faults, move the clock.

Not part of Google's surface: never counted as an API call, never billed to quotas. It binds
127.0.0.1 only. Routes (all JSON):

- ``GET /health`` ``GET /lists`` ``GET /lists/{id}/members`` ``GET /jobs`` ``GET /calls``
  ``GET /faults``
- ``DELETE /calls``
- ``POST /faults`` ``{"transient_error_rate": 0.2, "seed": 1, "latency_ms": 50}``
- ``POST /quota-window`` ``{"seconds": 60, "scope": "all"|"datamanager"|"googleads"}``;
  ``DELETE /quota-window``
- ``POST /tokens/expire`` ``{"token": "..."}``
- ``POST /concurrent-modification`` ``{"count": 1}``
- ``POST /clock/advance`` ``{"seconds": 3600}``
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.sandbox_google.service import GoogleSandbox


class AdminServer:
    """The admin HTTP server on 127.0.0.1 (``port`` 0: any free port)."""

    def __init__(self, sandbox: GoogleSandbox, port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"sandbox": sandbox})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits up to one poll interval
            name="sandbox-google-admin",
            daemon=True,
        )

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    sandbox: GoogleSandbox

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the sandbox logs its API calls, not admin reads."""

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        data = json.loads(self.rfile.read(length))
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        return data

    def do_GET(self) -> None:
        """Reads: health, lists, members, jobs, calls, faults (due work is applied first)."""
        sb = self.sandbox
        path = self.path.split("?", 1)[0].rstrip("/")
        sb.settle()
        parts = path.strip("/").split("/")
        with sb.store.transaction():
            if path == "/health":
                return self._send(200, {"ok": True, "now": sb.clock.now()})
            if path == "/lists":
                rows = []
                for r in sb.store.user_lists():
                    size = sb.store.size(r.id)
                    rows.append({**r.__dict__, "members": size.uploaded, "matched": size.matched})
                return self._send(200, {"lists": rows})
            if len(parts) == 3 and parts[0] == "lists" and parts[2] == "members" and parts[1].isdigit():
                members = sb.store.members(int(parts[1]))
                return self._send(
                    200,
                    {
                        "list_id": int(parts[1]),
                        "count": len(members),
                        "members": [m.__dict__ for m in members],
                    },
                )
            if path == "/jobs":
                return self._send(200, {"jobs": [j.__dict__ for j in sb.store.jobs()]})
        if path == "/calls":
            return self._send(200, {"total": len(sb.calls), "counts": sb.calls.counts()})
        if path == "/faults":
            return self._send(200, sb.faults.snapshot(sb.clock.now()))
        return self._send(404, {"error": f"no route GET {path}"})

    def do_DELETE(self) -> None:
        """Reset the call log or end quota windows."""
        sb = self.sandbox
        path = self.path.rstrip("/")
        if path == "/calls":
            sb.calls.reset()
            return self._send(200, {"total": 0})
        if path == "/quota-window":
            sb.faults.clear_quota_windows()
            return self._send(200, sb.faults.snapshot(sb.clock.now()))
        return self._send(404, {"error": f"no route DELETE {path}"})

    def do_POST(self) -> None:
        """Change faults or move the clock; answers the faults now active."""
        sb = self.sandbox
        path = self.path.rstrip("/")
        try:
            body = self._body()
            if path == "/faults":
                if "transient_error_rate" in body:
                    seed = body.get("seed")
                    sb.faults.set_transient(
                        float(body["transient_error_rate"]), None if seed is None else int(seed)
                    )
                if "latency_ms" in body:
                    sb.faults.set_latency(int(body["latency_ms"]))
            elif path == "/quota-window":
                now = sb.clock.now()
                sb.faults.open_quota_window(
                    now + float(body.get("seconds", 60)), str(body.get("scope", "all"))
                )
            elif path == "/tokens/expire":
                token = body.get("token")
                if not isinstance(token, str) or not token:
                    raise ValueError('body needs {"token": "..."}')
                sb.faults.expire_token(token)
            elif path == "/concurrent-modification":
                sb.faults.add_concurrent_modifications(int(body.get("count", 1)))
            elif path == "/clock/advance":
                return self._send(200, {"now": sb.clock.advance(float(body.get("seconds", 0)))})
            else:
                return self._send(404, {"error": f"no route POST {path}"})
        except (TypeError, ValueError) as exc:
            return self._send(400, {"error": str(exc)})
        return self._send(200, sb.faults.snapshot(sb.clock.now()))
