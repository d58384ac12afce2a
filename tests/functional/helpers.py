"""Shared pieces of the functional tests: the engine as they build it, and a few extra loopback servers."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import struct
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters.sqs import check_message
from chalicelib.checks.engine import CheckEngine
from chalicelib.checks.resolver import SystemResolver
from chalicelib.domain.models import Endpoint, FailureReason, Finding, FindingCode, Protocol, Severity, TargetReport
from chalicelib.domain.targets import Target, TargetSpec
from chalicelib.domain.truststore import TrustStore
from chalicelib.domain.webhooks import Format
from chalicelib.services.checking import TargetChecker
from chalicelib.services.slack_relay import SlackRelay
from chalicelib.services.webhooks import WebhookRelay, new_destination
from chalicelib.services.worker import CheckWorker
from lab.certs import Issued, make_cert
from lab.servers import LoopbackServer, TlsServer, server_context
from tests.support.fakes import (
    Clock,
    InMemoryDeliveryLog,
    InMemoryDestinations,
    InMemoryStore,
    RecordingPublisher,
    RecordingSlack,
    RecordingWebhookPoster,
    alerter_on,
)
from tests.support.net import no_dns
from tests.support.pki import Pki

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


# --- the alert pipeline with every channel recording what it would send ----------------------------

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
DOMAIN = "group.test"  # names under it are pinned to 127.0.0.1
TEAM = "web"
_ids = itertools.count(1)


@dataclass
class World:
    store: InMemoryStore
    clock: Clock
    publisher: RecordingPublisher
    worker: CheckWorker
    slack: RecordingSlack
    webhooks: RecordingWebhookPoster
    relay: WebhookRelay
    relayed: int = 0

    def register(
        self, server: TlsServer, count: int, *, team: str = TEAM, labels: dict[str, str] | None = None
    ) -> list[Target]:
        made = []
        for _ in range(count):
            number = next(_ids)
            target = Target(
                id=f"tg_{number:012x}00c0ffee",
                team=team,
                spec=TargetSpec(Endpoint(f"n{number}.{DOMAIN}", server.port, Protocol.TLS), labels=labels or {}),
                created_at=NOW,
                updated_at=NOW,
                scheduled_at=NOW,
            )
            self.store.create_target(target)
            made.append(target)
        return made

    def check(self, targets: list[Target]) -> None:
        """Check ``targets`` in SQS batches of 25, as the checker function takes them, then relay what was published."""
        for start in range(0, len(targets), 25):
            batch = targets[start : start + 25]
            records = [{"messageId": t.id, "body": check_message(t.team, t.id)} for t in batch]
            assert self.worker.handle(records).failed_message_ids == []
        for document in self.publisher.documents[self.relayed :]:
            message = json.dumps(document)
            SlackRelay(self.slack).deliver(message)
            self.relay.deliver(message)
        self.relayed = len(self.publisher.documents)

    def events(self, type: str) -> list[dict[str, Any]]:
        return [d for d in self.publisher.documents if d["type"] == type]

    def posted(self) -> Counter[str]:
        """How many messages each webhook destination received."""
        return Counter(who for who, _, _ in self.webhooks.sent)


def alert_world(engines: Engines, pki: Pki) -> World:
    """The pipeline on the in-memory store, with every channel recording what it would send."""
    clock = Clock(NOW)
    store = InMemoryStore()

    def loopback(host: str, port: int, *args: Any) -> list[Any]:
        if not host.endswith(DOMAIN):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    engine = engines.build(resolver=SystemResolver(lookup=loopback), clock=clock.now, timeout=5.0)
    publisher = RecordingPublisher()
    alerter = alerter_on(store, publisher, clock.now)
    checker = TargetChecker(store, engine, pki.trust, alerts=alerter, history=store)

    def vet(url: object) -> list[str]:  # every destination here is a recording one: nothing to resolve
        return []

    destinations = [
        new_destination("https://hooks.example.com/generic", vet=vet, now=NOW),
        new_destination(
            "https://events.pagerduty.com/v2/enqueue", format=Format.PAGERDUTY, routing_key="R" * 32, vet=vet, now=NOW
        ),
        new_destination("https://teams.example.com/workflow", format=Format.TEAMS, vet=vet, now=NOW),
    ]
    webhooks = RecordingWebhookPoster(clock.now)
    relay = WebhookRelay(InMemoryDestinations(destinations), InMemoryDeliveryLog(), webhooks, clock.now)
    return World(store, clock, publisher, CheckWorker(store, checker), RecordingSlack(), webhooks, relay)


def wildcard(pki: Pki, not_after: datetime) -> Issued:
    return make_cert(f"*.{DOMAIN}", issuer=pki.intermediate, not_before=not_after - 90 * DAY, not_after=not_after)


def serve(servers: Servers, pki: Pki, leaf: Issued) -> TlsServer:
    return servers.start(TlsServer([leaf, pki.intermediate]))


def renew(server: TlsServer, pki: Pki, leaf: Issued) -> None:
    """The server serves ``leaf`` from its next handshake on (as a load balancer given the new certificate)."""
    server.context = server_context([leaf, pki.intermediate], leaf.key)
