"""Hostile and broken servers: each ends as a finding with a reason, in time, and costs no other target."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.checks.engine import CheckRequest, StragglerCut
from chalicelib.checks.resolver import SystemResolver
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.models import FailureReason, FindingCode, Severity, Status, TargetReport
from lab.certs import Issued, make_ca, make_cert
from lab.servers import DripServer, GarbageServer, LoopbackServer, ResetServer, SilentServer, TlsServer
from tests.functional.helpers import (
    SLACK,
    TIMEOUT,
    AlertServer,
    DripGreetingServer,
    EndlessLineServer,
    EndlessRepliesServer,
    Engines,
    GreetingGarbageServer,
    PostgresGarbageServer,
    Servers,
    StarttlsResetServer,
    codes,
    failure,
    stopwatch,
)
from tests.support.pki import Pki

Outcome = FailureReason | FindingCode


@dataclass(frozen=True)
class Hostile:
    make: Callable[[Pki], LoopbackServer]
    scheme: str
    # a FailureReason: CONNECTION_FAILED for that reason; a FindingCode: that finding among what was read
    outcome: Outcome
    says: str  # in the finding's message


def _long_chain(pki: Pki) -> TlsServer:
    """A valid chain 50 certificates long: leaf, 48 nested intermediates and the test intermediate."""
    issuers: list[Issued] = [pki.intermediate]
    for depth in range(48):
        issuers.append(make_ca(f"certwatch Nested Intermediate {depth}", issuer=issuers[-1]))
    leaf = make_cert("127.0.0.1", issuer=issuers[-1])
    return TlsServer([leaf, *reversed(issuers)])


def _unparseable(pki: Pki) -> TlsServer:
    return TlsServer([make_cert("127.0.0.1", issuer=pki.intermediate, ber_boolean=True), pki.intermediate])


HOSTILE: dict[str, Hostile] = {
    "silent": Hostile(lambda pki: SilentServer(), "tls", FailureReason.TIMEOUT, "(TLS handshake)"),
    "drip": Hostile(lambda pki: DripServer(), "tls", FailureReason.TIMEOUT, "(TLS handshake)"),
    "garbage": Hostile(lambda pki: GarbageServer(), "tls", FailureReason.PROTOCOL, "does not speak TLS"),
    "reset": Hostile(lambda pki: ResetServer(), "tls", FailureReason.TLS, "reset"),
    "alert": Hostile(lambda pki: AlertServer(), "tls", FailureReason.TLS, "handshake failure"),
    "chain-of-50": Hostile(_long_chain, "tls", FindingCode.CHAIN_TOO_LONG, "sends 50 certificates"),
    "unparseable": Hostile(_unparseable, "tls", FindingCode.CERTIFICATE_UNPARSEABLE, "cannot be parsed"),
    "smtp-silent": Hostile(lambda pki: SilentServer(), "smtp", FailureReason.TIMEOUT, "(STARTTLS)"),
    "smtp-garbage": Hostile(
        lambda pki: GreetingGarbageServer(), "smtp", FailureReason.PROTOCOL, "not an SMTP greeting"
    ),
    "imap-garbage": Hostile(
        lambda pki: GreetingGarbageServer(), "imap", FailureReason.PROTOCOL, "not an IMAP greeting"
    ),
    "pop3-garbage": Hostile(lambda pki: GreetingGarbageServer(), "pop3", FailureReason.PROTOCOL, "not a POP3 greeting"),
    "ftp-garbage": Hostile(lambda pki: GreetingGarbageServer(), "ftp", FailureReason.PROTOCOL, "not an FTP greeting"),
    "postgres-garbage": Hostile(
        lambda pki: PostgresGarbageServer(), "postgres", FailureReason.PROTOCOL, "not a PostgreSQL answer"
    ),
    "smtp-endless-line": Hostile(lambda pki: EndlessLineServer(), "smtp", FailureReason.PROTOCOL, "over-long line"),
    "imap-endless-line": Hostile(lambda pki: EndlessLineServer(), "imap", FailureReason.PROTOCOL, "over-long line"),
    "smtp-endless-reply": Hostile(lambda pki: EndlessRepliesServer(), "smtp", FailureReason.PROTOCOL, "too many lines"),
    "smtp-drip": Hostile(lambda pki: DripGreetingServer(), "smtp", FailureReason.TIMEOUT, "(STARTTLS)"),
    "smtp-reset": Hostile(lambda pki: StarttlsResetServer(), "smtp", FailureReason.PROTOCOL, "reset"),
}


@pytest.fixture(scope="module")
def zoo(pki: Pki, servers: Servers) -> dict[str, LoopbackServer]:
    return {name: servers.start(hostile.make(pki)) for name, hostile in HOSTILE.items()}


@pytest.fixture(scope="module")
def healthy(pki: Pki, servers: Servers) -> TlsServer:
    leaf = make_cert("healthy.hostile.test", sans=["healthy.hostile.test", "127.0.0.1"], issuer=pki.intermediate)
    return servers.start(TlsServer([leaf, pki.intermediate]))


def assert_outcome(report: TargetReport, hostile: Hostile) -> None:
    if isinstance(hostile.outcome, FailureReason):
        finding = failure(report)
        assert finding.reason is hostile.outcome
        assert report.status is Status.ERROR
    else:
        (finding,) = [f for f in report.findings if f.code is hostile.outcome]
        assert FindingCode.CONNECTION_FAILED not in codes(report)
    assert hostile.says in finding.message


def assert_healthy(report: TargetReport) -> None:
    assert report.findings == ()
    assert report.status is Status.OK


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_server_ends_as_a_finding_in_time(
    name: str, zoo: dict[str, LoopbackServer], healthy: TlsServer, engines: Engines
) -> None:
    hostile = HOSTILE[name]
    engine = engines.build()
    requests = [
        CheckRequest(parse_target(zoo[name].target(hostile.scheme))),
        CheckRequest(parse_target(healthy.target())),
    ]

    with stopwatch() as watch:
        bad, good = engine.check_many(requests)

    assert watch.elapsed < TIMEOUT + SLACK
    assert_outcome(bad, hostile)
    assert_healthy(good)
    for result in bad.results:
        assert result.elapsed_ms < (TIMEOUT + SLACK) * 1000


def test_a_batch_of_every_hostile_server_costs_one_timeout(
    zoo: dict[str, LoopbackServer], healthy: TlsServer, engines: Engines
) -> None:
    names = list(HOSTILE)
    requests = []
    for name in names:  # a healthy target after each hostile one
        requests += [
            CheckRequest(parse_target(zoo[name].target(HOSTILE[name].scheme))),
            CheckRequest(parse_target(healthy.target())),
        ]

    with stopwatch() as watch:
        reports = list(engines.build().check_many(requests))

    assert watch.elapsed < TIMEOUT + SLACK
    assert len(reports) == 2 * len(names)
    for name, bad, good in zip(names, reports[::2], reports[1::2], strict=True):
        assert str(bad.endpoint) == str(parse_target(zoo[name].target(HOSTILE[name].scheme)))
        assert_outcome(bad, HOSTILE[name])
        assert_healthy(good)


def test_a_fifty_certificate_chain_is_read_but_called_too_long(
    zoo: dict[str, LoopbackServer], engines: Engines
) -> None:
    report = engines.build().check(parse_target(zoo["chain-of-50"].target()))

    assert codes(report)[FindingCode.CHAIN_TOO_LONG] is Severity.WARNING
    (result,) = report.results
    assert result.leaf is not None
    assert result.leaf.ip_sans == ("127.0.0.1",)


@pytest.fixture
def hanging_dns() -> Iterator[Callable[..., list[Any]]]:
    """A getaddrinfo that never answers (until the test ends)."""
    release = threading.Event()

    def lookup(host: str, *args: Any) -> list[Any]:
        release.wait(10)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    yield lookup
    release.set()


def test_a_lookup_that_never_answers_fails_as_dns_in_time(
    hanging_dns: Callable[..., list[Any]], healthy: TlsServer, engines: Engines
) -> None:
    resolver = SystemResolver({"healthy.hostile.test": ["127.0.0.1"]}, lookup=hanging_dns)
    engine = engines.build(resolver=resolver, timeout=1.0)
    requests = [
        CheckRequest(parse_target("tls://stuck.hostile.test:443")),
        CheckRequest(parse_target(f"tls://healthy.hostile.test:{healthy.port}")),
    ]

    with stopwatch() as watch:
        stuck, good = engine.check_many(requests)

    assert watch.elapsed < 1.0 + SLACK
    finding = failure(stuck)
    assert finding.reason is FailureReason.DNS
    assert "timed out" in finding.message
    assert_healthy(good)


def test_slow_targets_do_not_use_up_the_time_of_targets_queued_behind_them(
    zoo: dict[str, LoopbackServer], healthy: TlsServer, engines: Engines
) -> None:
    def slow_dns(host: str, port: int, *args: Any) -> list[Any]:
        time.sleep(0.3)  # DNS latency: the healthy target's check is queued behind the silent ones
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    # Two workers for four targets: the healthy one (first, by name) waits for a worker the silent
    # ones hold for their whole timeout, but its own handshake takes a millisecond.
    engine = engines.build(resolver=SystemResolver(lookup=slow_dns), concurrency=2)
    silent = CheckRequest(parse_target(zoo["silent"].target()))
    requests = [CheckRequest(parse_target(f"tls://healthy.hostile.test:{healthy.port}")), silent, silent, silent]

    good, *slow = engine.check_many(requests)

    assert [failure(r).reason for r in slow] == [FailureReason.TIMEOUT] * 3
    assert_healthy(good)


def test_a_cut_batch_reports_its_live_checks_as_they_finish_and_leaves_the_tarpit_unread(
    zoo: dict[str, LoopbackServer], healthy: TlsServer, engines: Engines
) -> None:
    # The tarpit's own deadline is far beyond the cut: it can only come back unread.
    engine = engines.build({"healthy.hostile.test": ["127.0.0.1"]}, timeout=30.0)
    live = CheckRequest(parse_target(f"tls://healthy.hostile.test:{healthy.port}"))
    requests = [live, CheckRequest(parse_target(zoo["silent"].target())), live, live, live]

    reports = list(engine.check_as_done(requests, cut=StragglerCut(share=0.2, slack=0.2)))

    assert reports[-1] == (1, None)
    assert sorted(index for index, _ in reports[:-1]) == [0, 2, 3, 4]
    for _, report in reports[:-1]:
        assert report is not None
        assert_healthy(report)


def test_without_a_cut_every_check_is_waited_for_in_the_order_of_completion(
    zoo: dict[str, LoopbackServer], healthy: TlsServer, engines: Engines
) -> None:
    engine = engines.build({"healthy.hostile.test": ["127.0.0.1"]}, timeout=1.0)
    requests = [
        CheckRequest(parse_target(zoo["silent"].target())),
        CheckRequest(parse_target(f"tls://healthy.hostile.test:{healthy.port}")),
    ]

    (first, good), (second, stuck) = engine.check_as_done(requests)

    assert (first, second) == (1, 0)  # the healthy one first: it did not wait for the silent one
    assert good is not None
    assert stuck is not None
    assert_healthy(good)
    assert failure(stuck).reason is FailureReason.TIMEOUT
