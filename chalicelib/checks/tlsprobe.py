"""The TLS socket adapter: connect to one address, run STARTTLS if needed, read the served chain.

One handshake per address, with no verification in OpenSSL (analysis verifies separately, so
a broken chain is still read and every problem gets its own name). The whole exchange is
bounded by one deadline, so a server that never speaks or drips bytes cannot hold a worker.
"""

from __future__ import annotations

import errno
import socket
import ssl
import time
import warnings
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Handshake:
    """What one TLS handshake revealed."""

    served: tuple[bytes, ...]
    tls_version: str | None
    cipher: str | None


def client_context() -> ssl.SSLContext:
    """The one context every probe shares: reads anything a server offers, verifies nothing.

    Security level 0 and TLS 1.0 let it read the certificates of legacy servers too (a 1024-bit
    key, a SHA-1 signature), which analysis then names; no data is ever sent over the channel.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # 3.13 deprecates naming TLS 1.0; reading old servers needs it
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("ALL:@SECLEVEL=0")
    return context


class TlsProbe:
    """Reads the certificate chain an address serves for an endpoint."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
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
        except ssl.SSLError as exc:
            raise _tls_error(exc) from exc
        except ConnectionRefusedError as exc:
            raise ProbeError(FailureReason.REFUSED, "connection refused") from exc
        except OSError as exc:
            raise _socket_error(exc, phase) from exc
        finally:
            sock.close()

    def _tls(self, sock: socket.socket, endpoint: Endpoint, deadline: float) -> Handshake:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        tls = self._context.wrap_socket(sock, server_hostname=endpoint.server_name, do_handshake_on_connect=False)
        try:
            tls.settimeout(left)  # CPython bounds the whole handshake by this, not each read
            tls.do_handshake()
            cipher = tls.cipher()
            return Handshake(
                served=tuple(_served_chain(tls)),
                tls_version=tls.version(),
                cipher=cipher[0] if cipher else None,
            )
        finally:
            tls.close()


def _served_chain(tls: ssl.SSLSocket) -> list[bytes]:
    """The DER certificates the server sent, leaf first (public API on 3.13, private on 3.12)."""
    public = getattr(tls, "get_unverified_chain", None)
    if public is not None:
        return list(public())
    return _private_served_chain(tls)


def _private_served_chain(tls: ssl.SSLSocket) -> list[bytes]:
    """Python 3.12's only way to the served chain: the private SSLObject (3.13 made it public)."""
    chain = tls._sslobj.get_unverified_chain()  # type: ignore[attr-defined]  # noqa: SLF001
    return [cert.public_bytes(ssl._ssl.ENCODING_DER) for cert in chain or []]  # type: ignore[attr-defined]  # noqa: SLF001


def _tls_error(exc: ssl.SSLError) -> ProbeError:
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return ProbeError(FailureReason.TLS, "the server closed the connection during the TLS handshake")
    reason = getattr(exc, "reason", None) or ""
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
