"""The plain-text dialogues that come before a STARTTLS handshake (SMTP, IMAP, POP3, FTP, PostgreSQL).

Each speaks just enough of its protocol to ask for TLS, reads at most a few kilobytes, and
raises ProbeError(PROTOCOL) when the server answers anything but "go ahead".
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

from chalicelib.domain.models import FailureReason, Protocol
from chalicelib.errors import ProbeError

MAX_LINE = 2048
MAX_LINES = 64
_POSTGRES_SSL_REQUEST = struct.pack("!II", 8, 80877103)


class Dialogue:
    """A plain socket read line by line, every read bounded by one overall deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._buffer = b""

    def send(self, data: bytes) -> None:
        self._arm()
        self._sock.sendall(data)

    def read_line(self) -> str:
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise _refused("the server sent an over-long line instead of a protocol reply")
            self._fill()
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def read_exact(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _fill(self) -> None:
        self._arm()
        chunk = self._sock.recv(4096)
        if not chunk:
            raise _refused("the server closed the connection before TLS started")
        self._buffer += chunk

    def _arm(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self._sock.settimeout(left)


def needs_dialogue(protocol: Protocol) -> bool:
    """Whether a plain-text dialogue comes before the TLS handshake on ``protocol``."""
    return protocol in _STEPS


def negotiate(protocol: Protocol, dialogue: Dialogue) -> None:
    """Bring the connection to the point where the TLS handshake starts."""
    step = _STEPS.get(protocol)
    if step is not None:
        step(dialogue)


def _smtp(d: Dialogue) -> None:
    _reply(d, "220", "SMTP greeting")
    d.send(b"EHLO certwatch.invalid\r\n")
    _reply(d, "250", "EHLO")
    d.send(b"STARTTLS\r\n")
    _reply(d, "220", "STARTTLS")


def _reply(d: Dialogue, expected: str, step: str) -> None:
    """Read one (possibly multi-line, ``250-...``) reply of SMTP or FTP and check its code."""
    for _ in range(MAX_LINES):
        line = d.read_line()
        if len(line) < 3 or not line[:3].isdigit():
            raise _refused(f"not an {step} reply: {_show(line)}")
        if line[3:4] != "-":
            if line[:3] != expected:
                raise _refused(f"{step} refused: {_show(line)}")
            return
    raise _refused(f"{step} reply has too many lines")


def _imap(d: Dialogue) -> None:
    greeting = d.read_line()
    if not greeting.startswith("* OK"):
        raise _refused(f"not an IMAP greeting: {_show(greeting)}")
    d.send(b"cw1 STARTTLS\r\n")
    for _ in range(MAX_LINES):
        line = d.read_line()
        if line.startswith("cw1 "):
            if not line[4:].upper().startswith("OK"):
                raise _refused(f"STARTTLS refused: {_show(line)}")
            return
    raise _refused("no answer to STARTTLS")


def _pop3(d: Dialogue) -> None:
    greeting = d.read_line()
    if not greeting.startswith("+OK"):
        raise _refused(f"not a POP3 greeting: {_show(greeting)}")
    d.send(b"STLS\r\n")
    answer = d.read_line()
    if not answer.startswith("+OK"):
        raise _refused(f"STLS refused: {_show(answer)}")


def _ftp(d: Dialogue) -> None:
    _reply(d, "220", "FTP greeting")
    d.send(b"AUTH TLS\r\n")
    _reply(d, "234", "AUTH TLS")


def _postgres(d: Dialogue) -> None:
    d.send(_POSTGRES_SSL_REQUEST)
    answer = d.read_exact(1)
    if answer == b"N":
        raise _refused("the PostgreSQL server does not accept SSL")
    if answer != b"S":
        raise _refused(f"not a PostgreSQL answer to SSLRequest: {answer!r}")


_STEPS: dict[Protocol, Callable[[Dialogue], None]] = {
    Protocol.SMTP: _smtp,
    Protocol.SUBMISSION: _smtp,
    Protocol.IMAP: _imap,
    Protocol.POP3: _pop3,
    Protocol.FTP: _ftp,
    Protocol.POSTGRES: _postgres,
}


def _refused(message: str) -> ProbeError:
    return ProbeError(FailureReason.PROTOCOL, message)


def _show(line: str) -> str:
    return repr(line[:120])
