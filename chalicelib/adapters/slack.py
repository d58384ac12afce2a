"""The Slack adapter: posting an event to an incoming webhook, patiently but not forever.

The webhook URL is a secret: it comes from SSM (SecureString) or, on the local stack, the
environment, and it never appears in a log line or an error message.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from chalicelib.errors import SlackError

logger = logging.getLogger(__name__)

Opener = Callable[..., Any]


class SlackWebhook:
    """Posts payloads to a Slack incoming webhook; retries 429 (honouring Retry-After), 5xx and network errors."""

    def __init__(
        self,
        url: Callable[[], str | None],
        *,
        opener: Opener = urllib.request.urlopen,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 5,
        max_wait: float = 30.0,
        timeout: float = 10.0,
    ) -> None:
        self._url = url
        self._open = opener
        self._sleep = sleep
        self._attempts = attempts
        self._max_wait = max_wait
        self._timeout = timeout

    def post(self, payload: dict[str, Any]) -> bool:
        """Deliver ``payload``; False when no webhook is configured, SlackError when Slack refuses."""
        url = self._url()
        if not url:
            logger.info("no Slack webhook configured; skipping the Slack message")
            return False
        data = json.dumps(payload).encode()
        for attempt in range(1, self._attempts + 1):
            request = urllib.request.Request(
                url, data=data, headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with self._open(request, timeout=self._timeout) as response:
                    response.read()
                return True
            except urllib.error.HTTPError as exc:
                status, retry_after = exc.code, exc.headers.get("Retry-After") if exc.headers else None
                exc.close()
                if status != 429 and status < 500:
                    raise SlackError(f"Slack refused the message with HTTP {status}") from None
                wait = _seconds(retry_after) if status == 429 and retry_after else 2.0 ** (attempt - 1)
                problem = f"HTTP {status}"
            except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
                wait, problem = 2.0 ** (attempt - 1), type(exc).__name__
            if attempt < self._attempts:
                logger.warning("Slack answered %s; retrying in %.1fs (attempt %d)", problem, wait, attempt)
                self._sleep(min(wait, self._max_wait))
        raise SlackError(f"Slack did not take the message after {self._attempts} attempts (last: {problem})")


def _seconds(retry_after: str) -> float:
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        return 1.0
