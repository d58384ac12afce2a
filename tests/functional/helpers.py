"""Shared pieces of the functional tests: the engine as they build it, and a few extra loopback servers."""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chalicelib.checks.engine import CheckEngine
from chalicelib.checks.resolver import SystemResolver
from chalicelib.domain.models import FailureReason, Finding, FindingCode, Severity, TargetReport
from chalicelib.domain.truststore import TrustStore
from lab.servers import LoopbackServer
from tests.support.net import no_dns

# Hostile servers must be given up on within this; small, so the suite stays quick.
TIMEOUT = 1.5
# What a check may take beyond its timeout (thread hand-offs, a loaded CI machine).
SLACK = 1.0


class Servers:
    """Starts loopback servers and stops every one of them when its fixture ends."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack

    def start[S: LoopbackServer](self, server: S) -> S:
        self._stack.enter_context(server)
        return server


class Engines:
    """Builds CheckEngines the way the tests want them and closes them all at the end of a test."""

    def __init__(self, trust: TrustStore) -> None:
        self._trust = trust
        self._built: list[CheckEngine] = []

    def build(
        self,
        overrides: dict[str, list[str]] | None = None,
        *,
        trust: TrustStore | None = None,
        resolver: SystemResolver | None = None,
        timeout: float = TIMEOUT,
        **kwargs: Any,
    ) -> CheckEngine:
        """An engine whose names resolve through ``overrides`` only (or through ``resolver``)."""
        engine = CheckEngine(
            trust=trust or self._trust,
            resolver=resolver or SystemResolver(overrides, lookup=no_dns),
            timeout=timeout,
            **kwargs,
        )
        self._built.append(engine)
        return engine

    def close(self) -> None:
        for engine in self._built:
            engine.close()


def codes(report: TargetReport) -> dict[FindingCode, Severity]:
    """The finding codes of a report with their severities (a code appears once per report here)."""
    return {f.code: f.severity for f in report.findings}


def failure(report: TargetReport) -> Finding:
    """The one CONNECTION_FAILED finding of a report that could not be read."""
    (finding,) = report.findings
    assert finding.code is FindingCode.CONNECTION_FAILED
    assert finding.severity is Severity.CRITICAL
    return finding


def reason(report: TargetReport) -> FailureReason | None:
    return failure(report).reason


@dataclass
class Stopwatch:
    """Seconds spent in a ``with`` block, by the monotonic clock."""

    started: float = 0.0
    elapsed: float = 0.0


@contextlib.contextmanager
def stopwatch() -> Iterator[Stopwatch]:
    watch = Stopwatch(started=time.monotonic())
    try:
        yield watch
    finally:
        watch.elapsed = time.monotonic() - watch.started


class AlertServer(LoopbackServer):
    """Answers a ClientHello with a fatal TLS alert (handshake_failure)."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"\x15\x03\x03\x00\x02\x02\x28")
        self._stopped.wait(2)


class HangUpServer(LoopbackServer):
    """Reads the ClientHello and closes the connection cleanly (FIN) without a word."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(4096)


class GreetingGarbageServer(LoopbackServer):
    """Greets a STARTTLS client with a line of bytes that belong to no protocol."""

    payload = b"\x00\xff\xfe\x13\x37 \xde\xad\xbe\xef garbage\r\n"

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(self.payload)
        self._stopped.wait(2)


class EndlessLineServer(LoopbackServer):
    """Sends one greeting line that never ends, as fast as the client reads."""

    def handle(self, conn: socket.socket) -> None:
        chunk = b"220" + b" this greeting never ends" * 160
        while not self._stopped.is_set():
            conn.sendall(chunk)


class EndlessRepliesServer(LoopbackServer):
    """Sends SMTP continuation lines (``220-...``) forever: each line is short, the reply never ends."""

    def handle(self, conn: socket.socket) -> None:
        lines = b"220-still greeting\r\n" * 200
        while not self._stopped.is_set():
            conn.sendall(lines)


class DripGreetingServer(LoopbackServer):
    """Drips a greeting line one byte at a time, slowly; the newline never comes in time."""

    interval = 0.05

    def handle(self, conn: socket.socket) -> None:
        for byte in b"220 " + b"z" * 10_000:
            if self._stopped.wait(self.interval):
                return
            conn.sendall(bytes([byte]))


class StarttlsResetServer(LoopbackServer):
    """Greets like SMTP, reads EHLO, then resets the connection (RST)."""

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(b"220 lab.test ESMTP\r\n")
        conn.recv(4096)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class PostgresGarbageServer(LoopbackServer):
    """Answers PostgreSQL's SSLRequest with neither S nor N."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(8)
        conn.sendall(b"E\x00\x00\x00\x10garbage")
        self._stopped.wait(2)
