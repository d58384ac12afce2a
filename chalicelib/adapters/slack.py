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

from chalicelib.adapters.retrying import DELIVERED, Outcome, Retrier, answered, failed
from chalicelib.errors import SlackError
from chalicelib.presentation.event_shapes import EventDocument
from chalicelib.presentation.events import slack_message

logger = logging.getLogger(__name__)

Opener = Callable[..., Any]


class SlackWebhook:
    """Posts payloads to a Slack incoming webhook; retries 429 and 5xx (honouring Retry-After) and network errors."""

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
        self._retrier = Retrier(attempts=attempts, max_wait=max_wait, sleep=sleep)
        self._timeout = timeout

    def post_event(self, document: EventDocument) -> bool:
        """Post one alert event, rendered here as Slack's message; False when no webhook is configured."""
        return self.post(slack_message(document))

    def post(self, payload: dict[str, Any]) -> bool:
        """Deliver ``payload``; False when no webhook is configured, SlackError when Slack refuses."""
        url = self._url()
        if not url:
            logger.info("no Slack webhook configured; skipping the Slack message")
            return False
        data = json.dumps(payload).encode()

        def attempt() -> Outcome:
            request = urllib.request.Request(
                url, data=data, headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with self._open(request, timeout=self._timeout) as response:
                    response.read()
                return DELIVERED
            except urllib.error.HTTPError as exc:
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                exc.close()
                return answered(exc.code, retry_after)
            except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
                return failed(exc, "Slack", self._timeout)

        outcome = self._retrier.run(attempt, "Slack")
        if outcome.delivered:
            return True
        if outcome.status is None:  # nothing answered
            raise SlackError(f"{outcome.problem}; gave up after {self._retrier.attempts} attempts")
        if not outcome.retryable:
            raise SlackError(f"Slack refused the message with {outcome.problem}")
        raise SlackError(
            f"Slack did not take the message after {self._retrier.attempts} attempts (last: {outcome.problem})"
        )
