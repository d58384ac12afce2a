"""The TLS socket adapter: connect to one address, run STARTTLS if needed, read the served chain.

One handshake per address, with no verification in OpenSSL (analysis verifies separately, so
a broken chain is still read and every problem gets its own name). The whole exchange is
bounded by one deadline, so a server that never speaks or drips bytes cannot hold a worker.

``TlsProbe.begin`` hands a plain TLS handshake to one thread that drives every handshake in
flight from one poll (``HandshakeLoop``): a thread each, as ``handshake`` takes, cost the engine
a fifth more CPU per check, most of it the threads' contention for the interpreter
(bench/README.md, "one loop drives the handshakes").
A STARTTLS dialogue is still spoken on a thread of its own (``handshake``).

Handshakes run through pyOpenSSL on the OpenSSL that cryptography's wheels bundle (the one that
already judges the chains), not Python's ``ssl`` on the platform's OpenSSL: it offers and names
the hybrid post-quantum groups, and reads the served chain the same way on every Python.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import math
import os
import select
import socket
import threading
import time
from collections import deque
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass

from OpenSSL import SSL, crypto

from chalicelib.checks.starttls import Dialogue, needs_dialogue, negotiate
from chalicelib.domain.models import Endpoint, FailureReason
from chalicelib.errors import ProbeError

logger = logging.getLogger(__name__)

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

    def __init__(self, context: SSL.Context | None = None, *, in_flight: int = 32) -> None:
        """``in_flight``: how many handshakes ``begin``'s loop drives at once (the rest wait their turn)."""
        self._context = context or client_context()
        self._in_flight = in_flight
        self._loop: HandshakeLoop | None = None
        self._lock = threading.Lock()

    def begin(self, endpoint: Endpoint, address: str, *, timeout: float) -> Future[Handshake]:
        """A plain TLS handshake (no STARTTLS dialogue), as ``handshake`` makes it, driven by this probe's one
        loop: its future, at once (its ``timeout`` counts from its turn)."""
        if needs_dialogue(endpoint.protocol):
            raise ValueError(f"{endpoint.protocol} speaks before TLS: its handshake is made by handshake()")
        with self._lock:
            if self._loop is None or self._loop.pid != os.getpid():  # a forked child has no loop thread
                self._loop = HandshakeLoop(self._context, in_flight=self._in_flight)
            loop = self._loop
        return loop.submit(endpoint, address, timeout=timeout)

    def close(self) -> None:
        """Stop the loop, if one was started (its handshakes in flight are dropped unanswered)."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            loop.close()

    def handshake(self, endpoint: Endpoint, address: str, *, timeout: float) -> Handshake:
        """Connect, negotiate and shake hands within ``timeout`` seconds; ProbeError otherwise."""
        deadline = time.monotonic() + timeout
        sock = _socket_for(address)
        phase = "connect"
        try:
            sock.settimeout(timeout)
            sock.connect((address, endpoint.port))
            phase = "STARTTLS"
            negotiate(endpoint.protocol, Dialogue(sock, deadline))
            phase = "TLS handshake"
            return self._tls(sock, endpoint, deadline)
        except Exception as exc:
            error = _probe_error(exc, phase, timeout)
            if error is exc:
                raise
            raise error from exc
        finally:
            sock.close()

    def _tls(self, sock: socket.socket, endpoint: Endpoint, deadline: float) -> Handshake:
        # The socket has a timeout, so its descriptor is non-blocking: OpenSSL answers "want read"
        # or "want write" and every wait is bounded by what is left of the deadline.
        tls = _connection(self._context, sock, endpoint)
        while True:
            try:
                tls.do_handshake()
                break
            except SSL.WantReadError:
                _wait(sock, select.POLLIN, deadline)
            except SSL.WantWriteError:
                _wait(sock, select.POLLOUT, deadline)
            except SSL.SysCallError as exc:
                raise _syscall_error(exc) from exc
        return _handshake(tls)


@dataclass(slots=True, eq=False)
class _Shaking:
    """One handshake the loop drives: connecting until ``tls`` is made, then shaking hands."""

    endpoint: Endpoint
    address: str
    timeout: float
    done: Future[Handshake]
    sock: socket.socket | None = None
    tls: SSL.Connection | None = None
    deadline: float = 0.0  # set when its turn comes

    @property
    def phase(self) -> str:
        """Where it is, as a failure names it."""
        return "connect" if self.tls is None else "TLS handshake"


class HandshakeLoop:
    """One thread driving plain TLS handshakes (connect, then the handshake) from one poll, ``in_flight`` at once.

    Each handshake has its own deadline, from its turn; what ``TlsProbe.handshake`` would raise, its future
    holds. The thread never stops for one handshake's failure: whatever one raises is that one's answer.
    """

    def __init__(self, context: SSL.Context, *, in_flight: int = 32) -> None:
        self._context = context
        self._in_flight = max(1, in_flight)
        self._poller = select.poll()
        self._lock = threading.Lock()
        self._inbox: deque[_Shaking] = deque()  # submitted, not yet taken by the loop
        self._waiting: deque[_Shaking] = deque()  # taken, waiting for a turn
        self._flying: dict[int, _Shaking] = {}
        self._closed = False
        self.pid = os.getpid()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poller.register(self._wake_r, select.POLLIN)
        self._thread = threading.Thread(target=self._run, name="certwatch-handshakes", daemon=True)
        self._thread.start()

    def submit(self, endpoint: Endpoint, address: str, *, timeout: float) -> Future[Handshake]:
        """The handshake with ``address`` for ``endpoint``, once the loop has made it (or failed to)."""
        shaking = _Shaking(endpoint, address, timeout, Future())
        with self._lock:
            if self._closed:
                raise RuntimeError("the handshake loop is closed")
            self._inbox.append(shaking)
            self._wake()  # under the lock: close() closes the pipe under it too
        return shaking.done

    def close(self) -> None:
        """Stop the thread; the wake-up pipe is closed here, once it has stopped (never under it)."""
        with self._lock:
            self._closed = True
            if self._wake_w < 0:
                return  # closed before
            self._wake()
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            return  # pragma: no cover - a thread stuck past the join keeps its pipe
        with self._lock:
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # a full pipe wakes the loop as well
            os.write(self._wake_w, b"x")

    def _run(self) -> None:
        try:
            while not self._closed:
                for fd, _ in self._poller.poll(self._wait_ms()):
                    if fd == self._wake_r:
                        self._take()
                    else:
                        self._step(self._flying[fd])
                self._expire()
                self._start_turns()
        except Exception:  # pragma: no cover - a bug: every handshake left fails, none hangs
            logger.exception("the handshake loop stopped")
            self._fail_everything()
        finally:
            for shaking in list(self._flying.values()):
                self._forget(shaking)

    def _wait_ms(self) -> int | None:
        if not self._flying:
            return None
        left = min(shaking.deadline for shaking in self._flying.values()) - time.monotonic()
        return max(0, math.ceil(left * 1000))

    def _take(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_r, 4096)
        with self._lock:
            self._waiting.extend(self._inbox)
            self._inbox.clear()

    def _start_turns(self) -> None:
        while self._waiting and len(self._flying) < self._in_flight:
            shaking = self._waiting.popleft()
            try:
                self._connect(shaking)
            except Exception as exc:
                _answer(shaking.done, _probe_error(exc, "connect", shaking.timeout))

    def _connect(self, shaking: _Shaking) -> None:
        shaking.deadline = time.monotonic() + shaking.timeout
        sock = _socket_for(shaking.address)
        sock.setblocking(False)
        code = sock.connect_ex((shaking.address, shaking.endpoint.port))
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            raise OSError(code, os.strerror(code))
        shaking.sock = sock
        self._flying[sock.fileno()] = shaking
        self._poller.register(sock, select.POLLOUT)

    def _step(self, shaking: _Shaking) -> None:
        """Drive one handshake on as far as it goes without waiting."""
        assert shaking.sock is not None
        try:
            if shaking.tls is None:
                code = shaking.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, os.strerror(code))
                shaking.tls = _connection(self._context, shaking.sock, shaking.endpoint)
            try:
                shaking.tls.do_handshake()
            except SSL.WantReadError:
                self._poller.modify(shaking.sock, select.POLLIN)
                return
            except SSL.WantWriteError:
                self._poller.modify(shaking.sock, select.POLLOUT)
                return
            except SSL.SysCallError as exc:
                raise _syscall_error(exc) from exc
            shaken = _handshake(shaking.tls)
        except Exception as exc:
            self._forget(shaking)
            _answer(shaking.done, _probe_error(exc, shaking.phase, shaking.timeout))
            return
        self._forget(shaking)
        _answer(shaking.done, shaken)

    def _expire(self) -> None:
        now = time.monotonic()
        for shaking in [shaking for shaking in self._flying.values() if shaking.deadline <= now]:
            self._forget(shaking)
            _answer(shaking.done, _probe_error(TimeoutError(), shaking.phase, shaking.timeout))

    def _forget(self, shaking: _Shaking) -> None:
        if shaking.sock is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            self._poller.unregister(shaking.sock)
        self._flying.pop(shaking.sock.fileno(), None)
        shaking.sock.close()

    def _fail_everything(self) -> None:  # pragma: no cover - only after a bug in the loop itself
        with self._lock:
            self._closed = True
            left = [*self._flying.values(), *self._waiting, *self._inbox]
        error = ProbeError(FailureReason.TLS, "internal error: the handshake loop stopped")
        for shaking in left:
            _answer(shaking.done, error)


def _answer(done: Future[Handshake], answer: Handshake | Exception) -> None:
    """Give a handshake's future its answer, unless it has one (its caller cancelled it): the loop runs on."""
    with contextlib.suppress(InvalidStateError):
        if isinstance(answer, Exception):
            done.set_exception(answer)
        else:
            done.set_result(answer)


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


def _socket_for(address: str) -> socket.socket:
    """A TCP socket of the address's family."""
    return socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)


def _connection(context: SSL.Context, sock: socket.socket, endpoint: Endpoint) -> SSL.Connection:
    """A client connection over ``sock``, naming the endpoint's server (if it has a name to send)."""
    tls = SSL.Connection(context, sock)
    name = _sni(endpoint.server_name)
    if name is not None:
        tls.set_tlsext_host_name(name)
    tls.set_connect_state()
    return tls


def _handshake(tls: SSL.Connection) -> Handshake:
    """What a completed handshake revealed: the served chain, as it came, and what was negotiated."""
    return Handshake(
        served=tuple(crypto.dump_certificate(crypto.FILETYPE_ASN1, cert) for cert in tls.get_peer_cert_chain() or []),
        tls_version=tls.get_protocol_version_name(),
        cipher=tls.get_cipher_name(),
        group=tls.get_group_name(),
    )


def _syscall_error(exc: SSL.SysCallError) -> Exception:
    """The socket's own error (reset, broken pipe, …) as the OSError it is; an EOF stays OpenSSL's."""
    code = exc.args[0] if exc.args else -1
    if isinstance(code, int) and code > 0:
        return OSError(code, os.strerror(code))
    return exc


def _probe_error(exc: Exception, phase: str, timeout: float) -> Exception:
    """What a failure in ``phase`` of a handshake bounded by ``timeout`` is called: a ProbeError with its reason
    (anything else, a bug, as it is)."""
    if isinstance(exc, ProbeError):
        return exc
    if isinstance(exc, TimeoutError):
        return ProbeError(FailureReason.TIMEOUT, f"no answer within {timeout:.1f}s ({phase})")
    if isinstance(exc, SSL.Error):
        return _tls_error(exc)
    if isinstance(exc, ConnectionRefusedError):
        return ProbeError(FailureReason.REFUSED, "connection refused")
    if isinstance(exc, OSError):
        return _socket_error(exc, phase)
    return exc


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
