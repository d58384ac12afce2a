"""The webhook adapter: an event rendered in a destination's format (generic and signed, PagerDuty,
Teams) and POSTed to its URL, only ever to an address certwatch may contact.

No SSRF through a webhook: before every try the destination's name is resolved again and every
address checked against the same policy as targets (public addresses, plus CERTWATCH_ALLOW_CIDRS);
the connection then goes to a checked address itself (TLS still verifies the name), so DNS cannot
change between the check and the connection. Redirects are never followed. Plain http is
allowed only to loopback addresses (a receiver on the same machine, as on the local stack),
where nothing travels over a network.

The URL is a secret: logs and errors name the destination by its id, never the URL.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from chalicelib import __version__
from chalicelib.adapters.retrying import Outcome, Retrier, answered, failed
from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.clock import utc_now
from chalicelib.domain.webhooks import Destination, Format, WebhookUrl, message_id, signature
from chalicelib.errors import ProbeError, WebhookError
from chalicelib.presentation.event_shapes import EventDocument
from chalicelib.presentation.events import pagerduty_event, teams_message, wire

Resolve = Callable[..., list[str]]  # SystemResolver.resolve: (host, port, *, timeout) -> addresses


class WebhookPoster:
    """POSTs one body to a destination, with retries (Retrier) and a timeout for each step of each try."""

    def __init__(
        self,
        resolve: Resolve,
        policy: AddressPolicy,
        *,
        retrier: Retrier | None = None,
        timeout: float = 15.0,
        tls: Callable[[], ssl.SSLContext] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._clock = clock
        self._resolve = resolve
        self._policy = policy
        self._retrier = retrier or Retrier(attempts=4, max_wait=30.0)
        self._timeout = timeout
        self._tls = tls or _default_tls
        self._context: ssl.SSLContext | None = None

    def addresses(self, url: WebhookUrl) -> list[str]:
        """The addresses ``url`` may be reached at now: ForbiddenAddressError if one is refused, WebhookError if
        the name does not resolve or plain http would leave the machine.

        Registration asks this too, so a destination is judged by one rule when added and at each try.
        """
        try:
            return self._allowed(url)
        except ProbeError as exc:
            raise WebhookError(exc.message) from None

    def deliver(self, destination: Destination, document: EventDocument) -> bool:
        """POST one event in the destination's format, rendered here at the wire; False when the format
        has nothing to send for it (PagerDuty and a "still critical" reminder)."""
        request = _request(destination, document, self._clock)
        if request is None:
            return False
        body, headers = request
        self.post(destination.url, body, headers, who=destination.id)
        return True

    def post(self, url: WebhookUrl, body: bytes, headers: Callable[[], Mapping[str, str]], *, who: str) -> None:
        """Deliver ``body``, or raise WebhookError (ForbiddenAddressError: the address policy refused it).

        ``headers`` is asked again for each try: a signature covers the try's own timestamp.
        """

        def attempt() -> Outcome:
            try:
                addresses = self._allowed(url)
            except ProbeError as exc:  # DNS failed: perhaps only for a moment
                return Outcome(retryable=True, problem=f"{exc.message} (is the host name in the URL right?)")
            return self._try(url, addresses, body, dict(headers()))

        outcome = self._retrier.run(attempt, f"webhook {who}")
        if outcome.delivered:
            return
        if outcome.status is None:  # nothing answered: the problem names the URL
            tried = f"; gave up after {self._retrier.attempts} attempts" if outcome.retryable else ""
            raise WebhookError(f"webhook {who}: {outcome.problem}{tried}")
        if not outcome.retryable:
            raise WebhookError(f"webhook {who} ({url.shown}) refused the event with {outcome.problem}")
        raise WebhookError(
            f"webhook {who} ({url.shown}) did not take the event after {self._retrier.attempts} attempts "
            f"(last: {outcome.problem})"
        )

    def _allowed(self, url: WebhookUrl) -> list[str]:
        found = [url.host] if url.host_is_address else self._resolve(url.host, url.port, timeout=self._timeout)
        for address in found:
            self._policy.check(address)
        if url.scheme == "http" and not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in found):
            raise WebhookError(f"{url.shown}: plain http is allowed only to a loopback address; use https")
        return found

    def _try(self, url: WebhookUrl, addresses: list[str], body: bytes, headers: dict[str, str]) -> Outcome:
        problem: Outcome = Outcome(retryable=True, problem="no address")
        for address in addresses:
            connection = self._connection(url, address)
            try:
                connection.request("POST", url.target, body=body, headers=headers)
                response = connection.getresponse()
                response.read(65536)  # what a receiver says is not needed: a bounded read keeps the connection sane
                return answered(response.status, response.getheader("Retry-After"))
            except ssl.SSLCertVerificationError as exc:
                return Outcome(problem=f"the TLS certificate of {url.shown} is refused: {exc.verify_message}")
            except (OSError, http.client.HTTPException) as exc:
                problem = failed(exc, url.shown, self._timeout)  # this address failed: the next one may answer
            finally:
                connection.close()
        return problem

    def _connection(self, url: WebhookUrl, address: str) -> http.client.HTTPConnection:
        if url.scheme == "http":
            return _PinnedHTTPConnection(url.host, url.port, address, timeout=self._timeout)
        if self._context is None:
            self._context = self._tls()
        return _PinnedHTTPSConnection(url.host, url.port, address, timeout=self._timeout, context=self._context)


def _request(
    destination: Destination, document: EventDocument, clock: Callable[[], datetime]
) -> tuple[bytes, Callable[[], dict[str, str]]] | None:
    """The body to POST and the headers of each try (a try's signature covers its own timestamp)."""
    base = {"Content-Type": "application/json", "User-Agent": f"certwatch/{__version__}"}
    if destination.format is Format.PAGERDUTY:
        event = pagerduty_event(document, destination.secret)
        if event is None:
            return None
        return _json(event), lambda: base
    if destination.format is Format.TEAMS:
        return _json(teams_message(document)), lambda: base
    body = _json(wire(document))
    webhook_id = message_id(document.id)

    def signed() -> dict[str, str]:
        timestamp = int(clock().timestamp())
        return {
            **base,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(destination.secret, webhook_id, timestamp, body),
        }

    return body, signed


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a given address, whatever the host name now resolves to."""

    def __init__(self, host: str, port: int, address: str, *, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to a given address; the certificate is still verified for the host name (SNI too)."""

    def __init__(self, host: str, port: int, address: str, *, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls_context = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        try:
            self.sock = self._tls_context.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


def _default_tls() -> ssl.SSLContext:
    import certifi

    return ssl.create_default_context(cafile=certifi.where())
