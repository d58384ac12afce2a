"""HTTP connections made to one address already allowed, for the fetcher (``fetcher.py``).

The fetcher is the policy (which URLs, which addresses, caps, one deadline); this is the connection
it hands out. Being apart, ``http.client`` (and the ``email`` package it loads) is imported on the
first fetch, which most checks never make.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl


class PinnedHttp(http.client.HTTPConnection):
    """An HTTP connection to a host name, made to the one address already allowed."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self._raw: socket.socket | None = None

    def connect(self) -> None:
        self._raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._raw

    def abort(self) -> None:
        """Called by the watchdog at the deadline: whatever is blocked on the socket returns."""
        raw = self._raw
        if raw is not None:
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)


class PinnedHttps(PinnedHttp):
    """The same over TLS, verified for the host name (a CA's own server proves who it is)."""

    default_port = 443

    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, address, timeout)
        self._tls = context

    def connect(self) -> None:
        super().connect()
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self.host)
