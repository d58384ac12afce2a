"""ACME Renewal Information against a local ACME directory: the CA moves a window, certwatch sees it.

The directory and its ``renewalInfo`` resource are served by ``lab.authority.CaHttpServer``;
the table maps the test intermediate's name to that directory, as CERTWATCH_ARI_DIRECTORIES
would. Time is a clock the test moves, so Retry-After is honoured without sleeping.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.checks.engine import CheckEngine
from chalicelib.checks.fetcher import UrlFetcher
from chalicelib.checks.renewalinfo import RenewalInfoChecker
from chalicelib.checks.resolver import SystemResolver
from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.models import FindingCode, Severity, TargetReport
from chalicelib.domain.renewalinfo import cert_id
from chalicelib.domain.targets import Target, TargetSpec
from chalicelib.services.checking import TargetChecker
from chalicelib.services.slack_relay import SlackRelay
from lab.authority import CaHttpServer
from lab.certs import Issued, make_cert
from lab.servers import TlsServer
from tests.functional.helpers import Engines, Servers, codes
from tests.support.events import rendered, text
from tests.support.fakes import Clock, InMemoryStore, RecordingPublisher, RecordingSlack, alerter_on
from tests.support.net import no_dns
from tests.support.pki import Pki

ACME_HOST = "acme.ari.test"
START = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Acme:
    """The CA's ACME side: a directory, and one suggested window per certificate that the test moves."""

    server: CaHttpServer
    windows: dict[str, tuple[datetime, datetime]]
    retry_after: str = "3600"

    def renewal_info(self, identifier: str) -> tuple[int, dict[str, str], bytes]:
        window = self.windows.get(identifier)
        if window is None:
            return 404, {}, b'{"type": "urn:ietf:params:acme:error:malformed"}'
        document = {
            "suggestedWindow": {"start": f"{window[0]:%Y-%m-%dT%H:%M:%SZ}", "end": f"{window[1]:%Y-%m-%dT%H:%M:%SZ}"},
            "explanationURL": "https://ca.example/incidents/2026-12",
        }
        return 200, {"Content-Type": "application/json", "Retry-After": self.retry_after}, json.dumps(document).encode()


@pytest.fixture(scope="module")
def acme() -> Iterator[Acme]:
    with CaHttpServer() as server:
        built = Acme(server, {})
        base = server.url("/acme/renewal-info", host=ACME_HOST)
        server.routes["/acme/directory"] = json.dumps({"newNonce": "x", "renewalInfo": base}).encode()
        yield built


def _serve(pki: Pki, servers: Servers, acme: Acme, name: str, start: datetime, end: datetime) -> tuple[str, Issued]:
    leaf = make_cert(name, issuer=pki.intermediate, days=90)
    identifier = cert_id(leaf.cert)
    assert identifier is not None
    acme.windows[identifier] = (start, end)
    server = servers.start(TlsServer([leaf, pki.intermediate]))

    def answer(method: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        return acme.renewal_info(identifier)

    acme.server.routes[f"/acme/renewal-info/{identifier}"] = answer
    return f"tls://{name}:{server.port}", leaf


def _engine(engines: Engines, acme: Acme, clock: Clock, names: list[str]) -> CheckEngine:
    pins = {name: ["127.0.0.1"] for name in names} | {ACME_HOST: ["127.0.0.1"]}
    resolver = SystemResolver(pins, lookup=no_dns)
    fetcher = UrlFetcher(resolver=resolver, address_policy=AddressPolicy.from_text("127.0.0.0/8"), timeout=1.5)
    table = {"CN=certwatch Test Intermediate": acme.server.url("/acme/directory", host=ACME_HOST)}
    return engines.build(resolver=resolver, clock=clock.now, renewal_info=RenewalInfoChecker(fetcher, table))


def _requested(report: TargetReport) -> Severity | None:
    return codes(report).get(FindingCode.RENEWAL_REQUESTED)


def test_a_window_moved_into_the_past_is_a_renewal_request_that_clears_when_moved_back(
    pki: Pki, servers: Servers, acme: Acme, engines: Engines
) -> None:
    name = "moved.ari.test"
    target, leaf = _serve(pki, servers, acme, name, START + timedelta(days=55), START + timedelta(days=60))
    identifier = cert_id(leaf.cert)
    assert identifier is not None
    path = f"/acme/renewal-info/{identifier}"
    clock = Clock(START)
    engine = _engine(engines, acme, clock, [name])
    endpoint = parse_target(target)

    first = engine.check(endpoint)
    assert _requested(first) is None
    assert [(r.renewal_window.start, r.renewal_window.end) for r in first.results if r.renewal_window] == [
        (START + timedelta(days=55), START + timedelta(days=60))
    ]  # kept with the result, for /metrics, before it asks for anything
    assert acme.server.hits.count(path) == 1
    # The CA moves the window earlier, into the past (as ahead of a mass revocation).
    acme.windows[identifier] = (START - timedelta(hours=1), START + timedelta(days=20))
    assert _requested(engine.check(endpoint)) is None  # the answer is kept until its Retry-After (an hour)
    assert acme.server.hits.count(path) == 1

    clock.advance(timedelta(hours=1, minutes=1))
    report = engine.check(endpoint)
    assert _requested(report) is Severity.WARNING
    (finding,) = [f for f in report.findings if f.code is FindingCode.RENEWAL_REQUESTED]
    assert "https://ca.example/incidents/2026-12" in finding.message
    assert "earlier than usual" in finding.message
    assert report.status.value == "warning"
    assert acme.server.hits.count(path) == 2

    # Critical once the window ends within the critical threshold (7 days).
    acme.windows[identifier] = (START - timedelta(hours=1), START + timedelta(days=5))
    clock.advance(timedelta(hours=1, minutes=1))
    assert _requested(engine.check(endpoint)) is Severity.CRITICAL

    # The CA moves it back: the request clears.
    acme.windows[identifier] = (START + timedelta(days=55), START + timedelta(days=60))
    clock.advance(timedelta(hours=1, minutes=1))
    assert _requested(engine.check(endpoint)) is None
    assert acme.server.hits.count("/acme/directory") == 1  # the directory is kept a day


def test_a_ca_that_does_not_answer_costs_no_finding(pki: Pki, servers: Servers, acme: Acme, engines: Engines) -> None:
    name = "unknown.ari.test"
    target, leaf = _serve(pki, servers, acme, name, START, START + timedelta(days=1))
    identifier = cert_id(leaf.cert)
    assert identifier is not None
    del acme.windows[identifier]  # the CA answers 404 for it
    report = _engine(engines, acme, Clock(START), [name]).check(parse_target(target))
    assert _requested(report) is None
    assert report.status.value == "ok"


def test_a_renewal_request_is_one_event_in_email_text_and_slack(
    pki: Pki, servers: Servers, acme: Acme, engines: Engines
) -> None:
    name = "alerted.ari.test"
    target_text, _ = _serve(pki, servers, acme, name, START - timedelta(hours=2), START + timedelta(days=20))
    clock = Clock(START)
    engine = _engine(engines, acme, clock, [name])
    store, publisher = InMemoryStore(), RecordingPublisher()
    target = Target("tg_0000000000aa1b2c3d50", "payments", TargetSpec(parse_target(target_text)), START, START, START)
    store.create_target(target)
    checker = TargetChecker(store, engine, pki.trust, alerts=alerter_on(store, publisher, clock.now))

    for _ in range(3):
        checker.run([store.get_target("payments", target.id)])
        clock.advance(timedelta(hours=2))

    (note,) = publisher.published
    document, body = rendered(note), text(note)
    assert document["type"] == "certificate.renewal_requested"
    assert document["severity"] == "warning"
    assert "RENEWAL_REQUESTED" in body
    assert "https://ca.example/incidents/2026-12" in body
    webhook = RecordingSlack()
    assert SlackRelay(webhook).deliver(json.dumps(rendered(note)))
    (posted,) = webhook.posted
    assert "certificate.renewal_requested" in json.dumps(posted)
    assert "RENEWAL_REQUESTED" in json.dumps(posted)
