"""The TLS socket adapter: connect to one address, run STARTTLS if needed, read the served chain.

One handshake per address, with no verification in OpenSSL (analysis verifies separately, so
a broken chain is still read and every problem gets its own name). The whole exchange is
bounded by one deadline, so a server that never speaks or drips bytes cannot hold a worker.

Handshakes run through pyOpenSSL on the OpenSSL that cryptography's wheels bundle (the one that
already judges the chains), not Python's ``ssl`` on the platform's OpenSSL: it offers and names
the hybrid post-quantum groups, and reads the served chain the same way on every Python.
"""

from __future__ import annotations

import errno
import ipaddress
import math
import os
import select
import socket
import time
from dataclasses import dataclass

from OpenSSL import SSL, crypto

from chalicelib.checks.starttls import Dialogue, negotiate
from chalicelib.domain.models import Endpoint, FailureReason
from chalicelib.errors import ProbeError

# OpenSSL reasons that mean "what answered is not TLS" rather than "TLS failed".
_NOT_TLS = {
    "WRONG_VERSION_NUMBER",
    "UNKNOWN_PROTOCOL",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "HTTP_REQUEST",
    "HTTPS_PROXY_REQUEST",
    "UNEXPECTED_RECORD",
    "UNEXPECTED_MESSAGE",
    "BAD_PACKET_LENGTH",
    "RECORD_TOO_LARGE",
    "LENGTH_MISMATCH",
    "DECRYPTION_FAILED_OR_BAD_RECORD_MAC",
}
_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}
# The protocol versions a legacy probe may offer alone, by the names OpenSSL reports them with.
LEGACY_VERSIONS = {"TLSv1": SSL.TLS1_VERSION, "TLSv1.1": SSL.TLS1_1_VERSION}
LEGACY_TIMEOUT = 3.0


@dataclass(frozen=True, slots=True)
class Handshake:
    """What one TLS handshake revealed."""

    served: tuple[bytes, ...]
    tls_version: str | None
    cipher: str | None
    group: str | None = None  # the negotiated key exchange group, e.g. "X25519MLKEM768", "x25519"


def client_context(version: str | None = None) -> SSL.Context:
    """A context that reads anything a server offers and verifies nothing; ``version`` offers that one alone.

    Security level 0 and TLS 1.0 let it read the certificates of legacy servers too (a 1024-bit
    key, a SHA-1 signature), which analysis then names; no data is ever sent over the channel.
    The key exchange groups are OpenSSL's defaults, which offer X25519MLKEM768 first.
    """
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_verify(SSL.VERIFY_NONE)
    lowest = LEGACY_VERSIONS[version] if version else SSL.TLS1_VERSION
    context.set_min_proto_version(lowest)
    if version:
        context.set_max_proto_version(lowest)
    context.set_cipher_list(b"ALL:@SECLEVEL=0")
    return context


class TlsProbe:
    """Reads the certificate chain an address serves for an endpoint."""

    def __init__(self, context: SSL.Context | None = None) -> None:
        self._context = context or client_context()

    def handshake(self, endpoint: Endpoint, address: str, *, timeout: float) -> Handshake:
        """Connect, negotiate and shake hands within ``timeout`` seconds; ProbeError otherwise."""
        deadline = time.monotonic() + timeout
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        phase = "connect"
        try:
            sock.settimeout(timeout)
            sock.connect((address, endpoint.port))
            phase = "STARTTLS"
            negotiate(endpoint.protocol, Dialogue(sock, deadline))
            phase = "TLS handshake"
            return self._tls(sock, endpoint, deadline)
        except ProbeError:
            raise
        except TimeoutError as exc:
            raise ProbeError(FailureReason.TIMEOUT, f"no answer within {timeout:.1f}s ({phase})") from exc
        except SSL.Error as exc:
            raise _tls_error(exc) from exc
        except ConnectionRefusedError as exc:
            raise ProbeError(FailureReason.REFUSED, "connection refused") from exc
        except OSError as exc:
            raise _socket_error(exc, phase) from exc
        finally:
            sock.close()

    def _tls(self, sock: socket.socket, endpoint: Endpoint, deadline: float) -> Handshake:
        # The socket has a timeout, so its descriptor is non-blocking: OpenSSL answers "want read"
        # or "want write" and every wait is bounded by what is left of the deadline.
        tls = SSL.Connection(self._context, sock)
        name = _sni(endpoint.server_name)
        if name is not None:
            tls.set_tlsext_host_name(name)
        tls.set_connect_state()
        while True:
            try:
                tls.do_handshake()
                break
            except SSL.WantReadError:
                _wait(sock, select.POLLIN, deadline)
            except SSL.WantWriteError:
                _wait(sock, select.POLLOUT, deadline)
            except SSL.SysCallError as exc:
                code = exc.args[0] if exc.args else -1
                if isinstance(code, int) and code > 0:  # the socket's own error: reset, broken pipe, …
                    raise OSError(code, os.strerror(code)) from exc
                raise
        return Handshake(
            served=tuple(
                crypto.dump_certificate(crypto.FILETYPE_ASN1, cert) for cert in tls.get_peer_cert_chain() or []
            ),
            tls_version=tls.get_protocol_version_name(),
            cipher=tls.get_cipher_name(),
            group=tls.get_group_name(),
        )


class LegacyProbe:
    """Asks an address whether it still completes a handshake offering only TLS 1.0 (or only TLS 1.1).

    A second, separate handshake (STARTTLS included) within its own short deadline; nothing of
    the first is reused.
    """

    def __init__(self, *, timeout: float = LEGACY_TIMEOUT) -> None:
        self.timeout = timeout
        self._probes = {version: TlsProbe(client_context(version)) for version in LEGACY_VERSIONS}

    def accepts(self, endpoint: Endpoint, address: str, version: str, *, timeout: float | None = None) -> bool:
        """True when the handshake offering ``version`` alone completes; ProbeError when it cannot be told.

        A failure of the TLS handshake itself (an alert, a hang-up, a reset) is a refusal; one
        before it (refused, timeout, not TLS, STARTTLS refused) says nothing about the version.
        ``timeout`` bounds this handshake when shorter than the probe's own.
        """
        bound = self.timeout if timeout is None else min(timeout, self.timeout)
        try:
            shaken = self._probes[version].handshake(endpoint, address, timeout=bound)
        except ProbeError as exc:
            if exc.reason is FailureReason.TLS:
                return False
            raise
        return shaken.tls_version == version


def _sni(name: str | None) -> bytes | None:
    """The server name to send, if any: never an address literal (RFC 6066 3), as Python's ssl does."""
    if not name:
        return None
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name.encode("ascii")
    return None


def _wait(sock: socket.socket, events: int, deadline: float) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    poller = select.poll()  # not select(): a descriptor above FD_SETSIZE must not break a busy process
    poller.register(sock, events)
    if not poller.poll(math.ceil(left * 1000)):
        raise TimeoutError


def _reason(exc: SSL.Error) -> str:
    """The last reason in OpenSSL's error queue, as Python's ssl names it (``WRONG_VERSION_NUMBER``)."""
    queue = exc.args[0] if exc.args else None
    if isinstance(queue, list) and queue and isinstance(queue[-1], tuple) and len(queue[-1]) == 3:
        text = queue[-1][2]
        if isinstance(text, str):
            return text.upper().replace(" ", "_")
    return ""


def _tls_error(exc: SSL.Error) -> ProbeError:
    if isinstance(exc, SSL.SysCallError | SSL.ZeroReturnError):  # an EOF: the socket's own errors became OSError
        return ProbeError(FailureReason.TLS, "the server closed the connection during the TLS handshake")
    reason = _reason(exc)
    if reason in _NOT_TLS:
        return ProbeError(FailureReason.PROTOCOL, f"the server does not speak TLS here ({reason.lower()})")
    detail = reason.replace("_", " ").lower() if reason else str(exc)
    return ProbeError(FailureReason.TLS, f"TLS handshake failed: {detail}")


def _socket_error(exc: OSError, phase: str) -> ProbeError:
    if exc.errno in _UNREACHABLE:
        return ProbeError(FailureReason.REFUSED, f"address unreachable: {exc.strerror}")
    if phase == "connect":
        return ProbeError(FailureReason.REFUSED, f"cannot connect: {exc.strerror or exc}")
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        reason = FailureReason.PROTOCOL if phase == "STARTTLS" else FailureReason.TLS
        return ProbeError(reason, f"connection reset by the server ({phase})")
    return ProbeError(FailureReason.TLS, f"{phase} failed: {exc.strerror or exc}")
