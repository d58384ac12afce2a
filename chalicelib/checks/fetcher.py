"""The HTTP adapter for URLs a certificate names (CRL, OCSP, ACME): every one is untrusted input.

A served certificate is chosen by whoever runs the server, so its URLs may point anywhere: at
the cloud metadata service, at an internal network, at an endless stream. This client fetches
only ``http`` and ``https`` URLs without credentials, resolves the host itself and connects
only to addresses the target address policy allows (``CERTWATCH_ALLOW_CIDRS`` included: a
private CA's CRL on an allowed network works), checked again for every connection, redirects
included. Every fetch has a size cap and one deadline for the whole exchange, enforced by a
watchdog that shuts the socket, so a server that drips bytes cannot hold a worker.
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from chalicelib.checks.resolver import SystemResolver
from chalicelib.domain.addresses import AddressPolicy, address_text
from chalicelib.errors import FetchError, ForbiddenAddressError, ProbeError

if TYPE_CHECKING:
    import http.client

MAX_REDIRECTS = 3
_CHUNK = 64 * 1024
_AGENT = "certwatch (revocation and renewal-information checks)"


@dataclass(frozen=True, slots=True)
class Fetched:
    """A successful answer: its final URL, headers (names in lower case) and body."""

    url: str
    headers: dict[str, str]
    body: bytes


class UrlFetcher:
    """Fetches URLs named by certificates under the address policy, with caps and a deadline.

    ``requests`` counts the HTTP requests sent (the benchmark reports it per check).
    """

    def __init__(
        self,
        *,
        resolver: SystemResolver,
        address_policy: AddressPolicy,
        timeout: float = 5.0,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self._resolver = resolver
        self._policy = address_policy
        self._timeout = timeout
        self._context = context
        self._lock = threading.Lock()
        self._sent = 0

    @property
    def timeout(self) -> float:
        return self._timeout

    @property
    def requests(self) -> int:
        return self._sent

    def get(self, url: str, *, max_bytes: int, deadline: float | None = None, accept: str | None = None) -> Fetched:
        """GET ``url``, following up to three redirects; FetchError when it cannot be had."""
        return self._fetch("GET", url, None, None, max_bytes, deadline, accept)

    def answer(self, url: str, *, max_bytes: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """GET ``url`` with ``headers`` (an API key): its status, headers and body (empty unless 200).

        Redirects are not followed, so the headers never reach another host; a 429 or a 404 is the
        caller's to read (a CT or RDAP server's answer), the other failures FetchError as for get.
        """
        deadline = time.monotonic() + self._timeout
        return self._once("GET", url, None, None, max_bytes, deadline, headers.get("Accept"), headers)

    def post(
        self, url: str, body: bytes, content_type: str, *, max_bytes: int, deadline: float | None = None
    ) -> Fetched:
        """POST ``body`` to ``url`` (OCSP); redirects are not followed for a POST."""
        return self._fetch("POST", url, body, content_type, max_bytes, deadline, None)

    def _fetch(
        self,
        method: str,
        url: str,
        body: bytes | None,
        content_type: str | None,
        max_bytes: int,
        deadline: float | None,
        accept: str | None,
    ) -> Fetched:
        deadline = min(deadline or float("inf"), time.monotonic() + self._timeout)
        for _ in range(MAX_REDIRECTS + 1):
            status, headers, data = self._once(method, url, body, content_type, max_bytes, deadline, accept)
            if status in (301, 302, 303, 307, 308) and method == "GET" and headers.get("location"):
                url = urljoin(url, headers["location"])
                continue
            if status != 200:
                raise FetchError(f"{_shown(url)} answered HTTP {status}")
            return Fetched(url, headers, data)
        raise FetchError(f"{_shown(url)}: more than {MAX_REDIRECTS} redirects")

    def _once(
        self,
        method: str,
        url: str,
        body: bytes | None,
        content_type: str | None,
        max_bytes: int,
        deadline: float,
        accept: str | None,
        extra: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        import http.client  # on the first fetch, not at start-up: most checks never make one

        from chalicelib.checks.pinned import PinnedHttp, PinnedHttps

        scheme, host, port, path = _parts(url)
        address = self._address(host, port, deadline, url)
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchError(f"{_shown(url)}: no answer within {self._timeout:g}s")
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = PinnedHttps(host, port, address, left, self._https_context())
        else:
            connection = PinnedHttp(host, port, address, left)
        headers = {"User-Agent": _AGENT, "Accept-Encoding": "identity", "Connection": "close"}
        if accept:
            headers["Accept"] = accept
        if content_type:
            headers["Content-Type"] = content_type
        headers |= extra or {}
        with self._lock:
            self._sent += 1
        late = f"{_shown(url)}: no answer within {self._timeout:g}s"
        expired = threading.Event()

        def give_up() -> None:
            expired.set()
            connection.abort()

        # The socket's timeout bounds each read, and a server dripping a byte at a time resets it:
        # the watchdog bounds the whole exchange.
        watchdog = threading.Timer(left, give_up)
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            answer = {name.lower(): value for name, value in response.getheaders()}
            data = _read(response, max_bytes, url) if response.status == 200 else b""
        except (FetchError, OSError, http.client.HTTPException, ValueError) as exc:
            if expired.is_set() or time.monotonic() >= deadline or isinstance(exc, TimeoutError):
                raise FetchError(late) from exc
            if isinstance(exc, FetchError):
                raise
            raise FetchError(f"{_shown(url)}: {_problem(exc)}") from exc
        finally:
            watchdog.cancel()
            connection.close()
        if expired.is_set():  # the socket was shut mid-answer: what arrived is a piece of it
            raise FetchError(late)
        return response.status, answer, data

    def _address(self, host: str, port: int, deadline: float, url: str) -> str:
        """The first address of ``host`` the policy allows (checked now, for this connection)."""
        try:
            candidates = [address_text(ipaddress.ip_address(host))]
        except ValueError:
            try:
                candidates = self._resolver.resolve(host, port, timeout=max(0.001, deadline - time.monotonic()))
            except ProbeError as exc:
                raise FetchError(f"{_shown(url)}: {exc.message}") from exc
        refusals = []
        for address in candidates:
            try:
                self._policy.check(address)
            except ForbiddenAddressError as exc:
                refusals.append(str(exc))
                continue
            return address
        raise FetchError(f"{_shown(url)} not fetched: {refusals[0]}")

    def _https_context(self) -> ssl.SSLContext:
        if self._context is None:
            # Built on first use: it loads the CA bundle, which most checks never need.
            from chalicelib.domain.truststore import default_bundle_path

            self._context = ssl.create_default_context(cafile=default_bundle_path())
        return self._context


def _parts(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and request path of an allowed URL; FetchError for anything else."""
    try:
        split = urlsplit(url)
        port = split.port
    except ValueError as exc:
        raise FetchError(f"{_shown(url)} is not a valid URL") from exc
    scheme = split.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"{_shown(url)} not fetched: only http and https URLs are")
    if split.username is not None or split.password is not None:
        raise FetchError(f"{_shown(url)} not fetched: URLs with credentials are not")
    host = split.hostname
    if not host:
        raise FetchError(f"{_shown(url)} names no host")
    path = split.path or "/"
    if split.query:
        path += "?" + split.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def _read(response: http.client.HTTPResponse, max_bytes: int, url: str) -> bytes:
    declared = response.getheader("content-length")
    if declared and declared.strip().isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{_shown(url)} is {int(declared)} bytes, over the {max_bytes}-byte cap")
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = response.read1(_CHUNK)
        if not chunk:
            if response.length:  # http.client counts down what Content-Length declared
                raise FetchError(f"{_shown(url)}: the answer ended after {size} of its {size + response.length} bytes")
            return b"".join(parts)
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"{_shown(url)} is over the {max_bytes}-byte cap")
        parts.append(chunk)


def _problem(exc: BaseException) -> str:
    import http.client  # loaded already: only a fetch fails

    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, http.client.HTTPException):
        return f"not a valid HTTP answer ({type(exc).__name__})"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _shown(url: str) -> str:
    """A URL as messages show it: short, and without anything that looks like credentials."""
    try:
        split = urlsplit(url)
        text = f"{split.scheme}://{split.hostname or ''}{f':{split.port}' if split.port else ''}{split.path}"
    except ValueError:
        text = url
    return text if len(text) <= 120 else text[:117] + "..."
