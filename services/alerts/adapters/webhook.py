"""Posts a JSON body to the configured webhook (Slack incoming webhooks and generic receivers).

The URL is a credential: it never appears in an error or a log line. Any answer outside 2xx,
a timeout or a connection failure raises ``DeliveryFailed`` with a short, URL-free reason.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class DeliveryFailed(Exception):  # noqa: N818 - names the fact
    """The receiver did not take the post; the message is retried on a later check."""


def post(url: str, body: dict[str, Any], timeout: float) -> None:
    """POST ``body`` as JSON; returns when the receiver answered 2xx."""
    request = urllib.request.Request(  # noqa: S310 - the operator's configured http(s) URL
        url,
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json", "User-Agent": "audiencesync-alerts"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read(65_536)
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        what = type(reason).__name__ if isinstance(reason, BaseException) else "unreachable"
        raise DeliveryFailed(f"unreachable ({what})") from None
    except TimeoutError:
        raise DeliveryFailed(f"no answer within {timeout:g} s") from None
    except (OSError, ValueError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status}")
