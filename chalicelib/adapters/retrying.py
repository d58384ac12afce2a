"""Patience for HTTP deliveries (Slack, webhooks): how an answer is judged, and how long to wait before the next try.

2xx is delivered. 429 and 5xx are worth another try, after the ``Retry-After`` the receiver asked
for (seconds or an HTTP date) or else a backoff doubling from one second, never longer than
``max_wait``; a network error too. Anything else, 3xx included (redirects are never followed),
is a refusal: trying again would only repeat it.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one try went. ``problem`` names what went wrong in words fit for a log (never a URL)."""

    delivered: bool = False
    retryable: bool = False
    problem: str = ""
    retry_after: float | None = None


DELIVERED = Outcome(delivered=True)


def answered(status: int, retry_after: str | None = None) -> Outcome:
    """The outcome of an HTTP answer with ``status`` (and its Retry-After header, if any)."""
    if 200 <= status < 300:
        return DELIVERED
    if status == 429 or status >= 500:
        return Outcome(retryable=True, problem=f"HTTP {status}", retry_after=_seconds(retry_after))
    if 300 <= status < 400:
        return Outcome(problem=f"HTTP {status} (a redirect; redirects are not followed)")
    return Outcome(problem=f"HTTP {status}")


def failed(exc: BaseException) -> Outcome:
    """The outcome of a try that got no answer (refused, reset, timed out, garbled)."""
    return Outcome(retryable=True, problem=type(exc).__name__)


class Retrier:
    """Runs a try until it delivers, is refused, or ``attempts`` are spent; waits in between."""

    def __init__(
        self, *, attempts: int = 5, max_wait: float = 30.0, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.attempts = attempts
        self._max_wait = max_wait
        self._sleep = sleep

    def run(self, attempt: Callable[[], Outcome], who: str) -> Outcome:
        """The first final outcome: delivered, refused, or the last try's. ``who`` names the receiver in logs."""
        outcome = Outcome()
        for number in range(1, self.attempts + 1):
            outcome = attempt()
            if outcome.delivered or not outcome.retryable:
                return outcome
            if number < self.attempts:
                wait = outcome.retry_after if outcome.retry_after is not None else 2.0 ** (number - 1)
                wait = min(wait, self._max_wait)
                logger.warning("%s answered %s; retrying in %.1fs (attempt %d)", who, outcome.problem, wait, number)
                self._sleep(wait)
        return outcome


def _seconds(retry_after: str | None) -> float | None:
    """Retry-After (RFC 9110 10.2.3): a number of seconds or an HTTP date; None when absent or unreadable."""
    if not retry_after:
        return None
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(retry_after)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())
