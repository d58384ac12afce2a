"""Patience for HTTP deliveries (Slack, webhooks): how an answer is judged, and how long to wait before the next try.

2xx is delivered. 429 and 5xx are worth another try, after the ``Retry-After`` the receiver asked
for (seconds or an HTTP date) or else a backoff doubling from one second, never longer than
``max_wait``; a network error too. Anything else, 3xx included (redirects are never followed),
is a refusal: trying again would only repeat it.
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import socket
import ssl
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one try went. ``problem`` names what went wrong in words fit for a log (never a secret URL);
    ``status`` is the HTTP status of an answer, None when nothing answered."""

    delivered: bool = False
    retryable: bool = False
    problem: str = ""
    retry_after: float | None = None
    status: int | None = None


DELIVERED = Outcome(delivered=True)


def answered(status: int, retry_after: str | None = None) -> Outcome:
    """The outcome of an HTTP answer with ``status`` (and its Retry-After header, if any)."""
    if 200 <= status < 300:
        return DELIVERED
    if status == 429 or status >= 500:
        return Outcome(retryable=True, problem=f"HTTP {status}", retry_after=_seconds(retry_after), status=status)
    if 300 <= status < 400:
        return Outcome(problem=f"HTTP {status} (a redirect; redirects are not followed)", status=status)
    return Outcome(problem=f"HTTP {status}", status=status)


def failed(exc: BaseException, to: str, timeout: float | None = None) -> Outcome:
    """The outcome of a try that got no answer from ``to`` (refused, reset, timed out, garbled)."""
    return Outcome(retryable=True, problem=_unanswered(exc, to, timeout))


def _unanswered(exc: BaseException, to: str, timeout: float | None = None) -> str:
    """Why ``to`` (a URL as it may be shown, or a name) gave no answer, and what to look at, in words."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason  # urllib wraps what the socket raised
    if isinstance(exc, ConnectionRefusedError):
        return f"could not connect to {to}: connection refused (is the receiver running?)"
    if isinstance(exc, TimeoutError):
        within = "in time" if timeout is None else f"within {timeout:g}s"
        return f"no answer from {to} {within} (is the receiver up, and reachable from here?)"
    if isinstance(exc, socket.gaierror):
        return f"could not resolve the host of {to}: {exc.strerror} (is the host name in the URL right?)"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | http.client.RemoteDisconnected):
        return f"{to} closed the connection without answering"
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake with {to} failed: {exc.reason or exc}"
    if isinstance(exc, http.client.HTTPException):
        return f"{to} answered something that is not HTTP ({type(exc).__name__})"
    if isinstance(exc, OSError) and exc.strerror:
        return f"could not connect to {to}: {exc.strerror[:1].lower()}{exc.strerror[1:]}"
    return f"could not reach {to} ({type(exc).__name__})"


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
                said = "answered " if outcome.status is not None else ""
                logger.warning("%s: %s%s; retrying in %.1fs (attempt %d)", who, said, outcome.problem, wait, number)
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
