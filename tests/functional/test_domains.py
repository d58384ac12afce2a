"""Watched domains end to end on loopback: Cert Spotter's API and an RDAP server stood in, real TLS targets.

The CT stand-in answers as SSLMate documents its API v1 (pages, the ``after`` cursor, 429 with
Retry-After); the checks are real handshakes with TlsServers on 127.0.0.1; the alerts go through
the alerter and its outbox to a RecordingPublisher that renders and validates every event document.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from chalicelib.adapters.certspotter import CertSpotter
from chalicelib.adapters.rdap import RdapClient
from chalicelib.checks.fetcher import UrlFetcher
from chalicelib.checks.resolver import SystemResolver
from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.domains import DomainRequest, Issuance, IssuancePage, WatchedDomain
from chalicelib.domain.models import Endpoint, FindingCode, Protocol, Severity, TargetReport
from chalicelib.domain.silences import MaintenanceWindow, Match, Silence
from chalicelib.domain.targets import Target, TargetSpec
from chalicelib.errors import FetchError, RateLimitedError
from chalicelib.presentation.event_shapes import read_event
from chalicelib.presentation.events import email_subject, email_text, pagerduty_event, slack_message, teams_message
from chalicelib.services.checking import TargetChecker
from chalicelib.services.domains import DomainWatch
from chalicelib.services.ports import Announcer, IssuanceSource, RegistrationSource
from lab.certs import Issued, make_ca, make_cert
from lab.ctlog import CertSpotterStandIn, RdapStandIn
from lab.servers import TlsServer, server_context
from tests.functional.helpers import Engines, Servers
from tests.support.fakes import Clock, InMemoryStore, RecordingPublisher, alerter_on
from tests.support.pki import Pki

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TEAM = "shop"
DOMAIN = "shop.test"
APP = f"app.{DOMAIN}"


@dataclass
class Watch:
    store: InMemoryStore
    clock: Clock
    publisher: RecordingPublisher
    ct: CertSpotterStandIn
    rdap: RdapStandIn
    domains: DomainWatch
    checker: TargetChecker

    def watch(self, **wanted: Any) -> WatchedDomain:
        return self.domains.watch(TEAM, DomainRequest(domain=DOMAIN, **wanted))

    def events(self, type: str) -> list[dict[str, Any]]:
        return [d for d in self.publisher.documents if d["type"] == type]

    def target(self, server: TlsServer) -> Target:
        target = Target(
            id="tg_0194c6f2a1b2c3d4e5f6",
            team=TEAM,
            spec=TargetSpec(Endpoint(APP, server.port, Protocol.TLS)),
            created_at=NOW,
            updated_at=NOW,
            scheduled_at=NOW,
        )
        self.store.create_target(target)
        return target

    def check(self, target: Target) -> TargetReport:
        (checked,), retry = self.checker.run([target])
        assert retry == []
        return checked.report


@pytest.fixture
def world(engines: Engines, pki: Pki) -> Iterator[Watch]:
    clock = Clock(NOW)
    store = InMemoryStore()
    publisher = RecordingPublisher()
    alerter = alerter_on(store, publisher, clock.now)

    def loopback(host: str, port: int, *args: Any) -> list[Any]:
        if not host.endswith(DOMAIN):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    engine = engines.build(resolver=SystemResolver(lookup=loopback), clock=clock.now, timeout=5.0)
    checker = TargetChecker(store, engine, pki.trust, alerts=alerter, history=store, issuances=store)
    fetcher = UrlFetcher(resolver=SystemResolver(), address_policy=AddressPolicy.from_text("127.0.0.0/8"), timeout=5.0)
    with CertSpotterStandIn(page_size=2) as ct, RdapStandIn() as rdap:
        ct.now = NOW
        rdap.expirations[DOMAIN] = NOW + 300 * DAY
        source = CertSpotter(fetcher, ct.url, clock=clock.now)
        registry = RdapClient(fetcher, servers=f'{{"test": "{rdap.url}"}}')
        domains = domain_watch(store, source, registry, alerter, clock.now, interval=timedelta(hours=1))
        yield Watch(store, clock, publisher, ct, rdap, domains, checker)


def domain_watch(
    store: InMemoryStore,
    ct: IssuanceSource,
    rdap: RegistrationSource,
    announcer: Announcer,
    clock: Callable[[], datetime],
    *,
    interval: timedelta = timedelta(hours=1),
) -> DomainWatch:
    """The sweep with every store port it asks for in one in-memory store, as the composition root hands them."""
    return DomainWatch(
        domains=store,
        issuances=store,
        targets=store,
        ct=ct,
        rdap=rdap,
        announcer=announcer,
        clock=clock,
        interval=interval,
    )


def leaf(pki: Pki, *, issued_days_ago: float, days: float = 90, name: str = APP, **kwargs: Any) -> Issued:
    not_before = NOW - timedelta(days=issued_days_ago)
    return make_cert(
        name, issuer=pki.intermediate, not_before=not_before, not_after=not_before + timedelta(days=days), **kwargs
    )


def codes(report: TargetReport) -> dict[FindingCode, Severity]:
    return {f.code: f.severity for f in report.findings}


def spki(issued: Issued) -> str:
    der = issued.cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


# --- issued but not deployed ---------------------------------------------------------------------


def test_a_certificate_in_ct_the_endpoint_does_not_serve_is_renewed_not_deployed_until_it_does(
    world: Watch, servers: Servers, pki: Pki
) -> None:
    served = leaf(pki, issued_days_ago=80)  # certificate A, 10 days left
    renewed = leaf(pki, issued_days_ago=3)  # certificate B, in CT for 3 days
    world.ct.add(served, issuer=pki.intermediate)
    world.ct.add(renewed, issuer=pki.intermediate)
    server = servers.start(TlsServer([served, pki.intermediate]))
    target = world.target(server)
    world.watch()

    assert world.domains.sweep().new_issuances == 2
    report = world.check(target)

    assert codes(report)[FindingCode.RENEWED_NOT_DEPLOYED] is Severity.WARNING
    (finding,) = [f for f in report.findings if f.code is FindingCode.RENEWED_NOT_DEPLOYED]
    assert format(renewed.cert.serial_number, "x") in finding.message
    assert "127.0.0.1" in finding.message  # the address still serving A
    (event,) = world.events("certificate.renewed_not_deployed")
    assert event["severity"] == "warning"
    assert event["findings"][0]["code"] == "RENEWED_NOT_DEPLOYED"

    world.check(target)  # still not deployed: told once
    assert len(world.events("certificate.renewed_not_deployed")) == 1

    server.context = server_context([renewed, pki.intermediate], renewed.key)
    assert FindingCode.RENEWED_NOT_DEPLOYED not in codes(world.check(target))
    (closed,) = world.events("certificate.renewed")  # the all-clear: it resolves the incident the event opened
    assert closed["previous_fingerprint"] == served.fingerprint


def test_a_certificate_younger_than_the_grace_period_is_being_deployed(
    world: Watch, servers: Servers, pki: Pki
) -> None:
    served = leaf(pki, issued_days_ago=80)
    world.ct.add(leaf(pki, issued_days_ago=1))  # a day old: within the 48 hours
    server = servers.start(TlsServer([served, pki.intermediate]))
    target = world.target(server)
    world.watch()
    world.domains.sweep()

    assert FindingCode.RENEWED_NOT_DEPLOYED not in codes(world.check(target))


def test_an_old_certificate_within_the_critical_threshold_makes_it_critical(
    world: Watch, servers: Servers, pki: Pki
) -> None:
    served = leaf(pki, issued_days_ago=85)  # 5 days left: within critical_days (7)
    world.ct.add(leaf(pki, issued_days_ago=3))
    target = world.target(servers.start(TlsServer([served, pki.intermediate])))
    world.watch()
    world.domains.sweep()

    assert codes(world.check(target))[FindingCode.RENEWED_NOT_DEPLOYED] is Severity.CRITICAL


# --- unexpected issuance -------------------------------------------------------------------------


def test_an_issuer_outside_the_allowed_list_is_unexpected_issuance_once(world: Watch, pki: Pki) -> None:
    rogue_ca = make_ca("Rogue Issuing CA")
    world.ct.add(leaf(pki, issued_days_ago=10), issuer=pki.intermediate)
    rogue = make_cert(f"login.{DOMAIN}", issuer=rogue_ca, not_before=NOW - DAY, not_after=NOW + 30 * DAY)
    world.ct.add(rogue, issuer=rogue_ca)
    world.watch(allowed_issuers=("certwatch Test Intermediate",))

    world.domains.sweep()

    (event,) = world.events("certificate.unexpected_issuance")
    assert event["severity"] == "critical"
    assert event["target"]["source"] == "domain"
    assert event["target"]["domain"] == DOMAIN
    message = event["findings"][0]["message"]
    assert f"login.{DOMAIN}" in message
    assert "Rogue Issuing CA" in message
    assert format(rogue.cert.serial_number, "x") in message
    assert "https://crt.sh/?q=" in message

    world.clock.advance(2 * timedelta(hours=1))
    world.domains.sweep()
    assert len(world.events("certificate.unexpected_issuance")) == 1


def test_the_first_sweep_allows_the_issuers_it_sees_and_later_ones_are_unexpected(world: Watch, pki: Pki) -> None:
    world.ct.add(leaf(pki, issued_days_ago=10))
    domain = world.watch()

    world.domains.sweep()
    baselined = world.domains.get(TEAM, domain.id)
    assert baselined.allowed_issuers == ("CN=certwatch Test Intermediate",)
    assert world.events("certificate.unexpected_issuance") == []

    world.ct.add(leaf(pki, issued_days_ago=1))  # a renewal from the same CA: quiet
    rogue_ca = make_ca("Rogue Issuing CA")
    world.ct.add(make_cert(f"www.{DOMAIN}", issuer=rogue_ca, not_before=NOW - DAY, not_after=NOW + 30 * DAY))
    world.clock.advance(2 * timedelta(hours=1))
    world.domains.sweep()

    (event,) = world.events("certificate.unexpected_issuance")
    assert f"www.{DOMAIN}" in event["findings"][0]["message"]


def test_an_allowed_key_keeps_a_certificate_from_another_issuer_quiet(world: Watch, pki: Pki) -> None:
    other_ca = make_ca("Other Issuing CA")
    mine = make_cert(f"api.{DOMAIN}", issuer=other_ca, not_before=NOW - DAY, not_after=NOW + 30 * DAY)
    world.ct.add(mine, issuer=other_ca)
    world.watch(allowed_issuers=("certwatch Test Intermediate",), allowed_keys=(spki(mine),))

    world.domains.sweep()

    assert world.events("certificate.unexpected_issuance") == []


def test_a_precertificate_and_its_certificate_are_one_issuance(world: Watch, pki: Pki) -> None:
    rogue_ca = make_ca("Rogue Issuing CA")
    key = make_cert("k").key
    window: dict[str, Any] = {"not_before": NOW - DAY, "not_after": NOW + 30 * DAY, "serial": 0x5EED, "key": key}
    precert = make_cert(f"pay.{DOMAIN}", issuer=rogue_ca, extensions=[(x509.PrecertPoison(), True)], **window)
    final = make_cert(f"pay.{DOMAIN}", issuer=rogue_ca, **window)
    assert world.ct.add(precert, issuer=rogue_ca) == world.ct.add(final, issuer=rogue_ca)
    world.watch(allowed_issuers=("certwatch Test Intermediate",))

    world.domains.sweep()

    (issuance,) = world.domains.issuances(TEAM)
    assert issuance.precert is False  # the certificate's facts, once it is known
    assert issuance.serial == "5eed"
    assert len(world.events("certificate.unexpected_issuance")) == 1


def test_a_source_listing_precertificate_and_certificate_apart_still_tells_once(pki: Pki) -> None:
    """Another CT source (a log reader) may list both entries: they are coalesced by TBS hash."""
    clock = Clock(NOW)
    store = InMemoryStore()
    publisher = RecordingPublisher()
    common: dict[str, Any] = {
        "tbs_sha256": "ab" * 32,
        "dns_names": (f"pay.{DOMAIN}",),
        "pubkey_sha256": "cd" * 32,
        "issuer": "C=XX, O=Rogue, CN=Rogue Issuing CA",
        "not_before": NOW - DAY,
        "not_after": NOW + 30 * DAY,
        "serial": "5eed",
    }
    entries = (Issuance(id="1", precert=True, **common), Issuance(id="2", cert_sha256="ef" * 32, **common))

    class TwoEntries:
        def issuances(self, domain: str, *, include_subdomains: bool, after: str | None) -> IssuancePage:
            return IssuancePage(entries if after is None else (), "2")

    class NoRegistry:
        def expiration(self, domain: str) -> datetime | None:
            return None

    domains = domain_watch(store, TwoEntries(), NoRegistry(), alerter_on(store, publisher, clock.now), clock.now)
    domains.watch(TEAM, DomainRequest(DOMAIN, allowed_issuers=("R11",)))
    domains.sweep()

    assert [i.cert_sha256 for i in store.team_issuances(TEAM)] == ["ef" * 32]
    assert [d["type"] for d in publisher.documents] == ["certificate.unexpected_issuance"]


# --- the CT source's pages, cursor and rate limits ----------------------------------------------


def test_pages_are_read_to_the_end_and_the_cursor_reads_only_what_is_new(world: Watch, pki: Pki) -> None:
    ids = [world.ct.add(leaf(pki, issued_days_ago=days, name=f"n{days}.{DOMAIN}")) for days in (50, 40, 30, 20, 10)]
    domain = world.watch()

    assert world.domains.sweep().new_issuances == 5
    pages = [p for p in world.ct.requests if p.startswith("/v1/issuances")]
    assert len(pages) == 4  # 2 + 2 + 1, then the empty page that ends it
    for asked in ("expand=dns_names", "expand=issuer", "expand=cert", "include_subdomains=true"):
        assert asked in pages[0]
    assert "after=" not in pages[0]
    assert f"after={ids[1]}" in pages[1]
    assert world.domains.get(TEAM, domain.id).cursor == ids[-1]

    newest = world.ct.add(leaf(pki, issued_days_ago=1, name=f"new.{DOMAIN}"))
    world.clock.advance(2 * timedelta(hours=1))
    assert world.domains.sweep().new_issuances == 1
    assert f"after={ids[-1]}" in world.ct.requests[4]
    assert world.domains.get(TEAM, domain.id).cursor == newest


def test_a_429_is_a_finding_on_the_domain_and_it_is_due_again_after_retry_after(world: Watch, pki: Pki) -> None:
    world.ct.add(leaf(pki, issued_days_ago=10))
    domain = world.watch()
    world.ct.throttle(1, retry_after=120)

    done = world.domains.sweep()

    assert (done.swept, done.failures) == (1, 1)
    throttled = world.domains.get(TEAM, domain.id)
    assert throttled.next_sweep_at == NOW + timedelta(seconds=120)
    (finding, *_) = throttled.findings_at(NOW)
    assert finding.code is FindingCode.DOMAIN_WATCH_FAILED
    assert "429" in finding.message

    world.clock.advance(timedelta(seconds=60))
    assert world.domains.sweep().due == 0  # not before Retry-After
    world.clock.advance(timedelta(seconds=61))
    assert world.domains.sweep().new_issuances == 1
    assert world.domains.get(TEAM, domain.id).problem is None


def test_a_429_in_the_middle_of_the_pages_keeps_what_was_read_and_carries_on_from_there(world: Watch, pki: Pki) -> None:
    ids = [world.ct.add(leaf(pki, issued_days_ago=days, name=f"n{days}.{DOMAIN}")) for days in (50, 40, 30, 20, 10)]
    domain = world.watch()
    world.ct.throttle(1, retry_after=30, after=1)  # the first page, then a 429

    assert world.domains.sweep().new_issuances == 2
    paused = world.domains.get(TEAM, domain.id)
    assert (paused.cursor, paused.next_sweep_at) == (ids[1], NOW + timedelta(seconds=30))
    assert "429" in (paused.problem or "")

    world.clock.advance(timedelta(seconds=31))
    assert world.domains.sweep().new_issuances == 3
    assert f"after={ids[1]}" in world.ct.requests[2]
    assert world.domains.get(TEAM, domain.id).problem is None
    assert len(world.domains.issuances(TEAM)) == 5


def test_the_adapter_raises_rate_limited_with_the_seconds_retry_after_gives(world: Watch) -> None:
    world.ct.throttle(1, retry_after=7)
    fetcher = UrlFetcher(resolver=SystemResolver(), address_policy=AddressPolicy.from_text("127.0.0.0/8"))
    with pytest.raises(RateLimitedError) as raised:
        CertSpotter(fetcher, world.ct.url).issuances(DOMAIN, include_subdomains=True, after=None)
    assert raised.value.retry_after == 7


def test_the_api_key_is_sent_as_a_bearer_token(world: Watch, pki: Pki) -> None:
    world.ct.api_key = "k-123"
    world.ct.add(leaf(pki, issued_days_ago=10))
    fetcher = UrlFetcher(resolver=SystemResolver(), address_policy=AddressPolicy.from_text("127.0.0.0/8"))

    page = CertSpotter(fetcher, world.ct.url, api_key=lambda: "k-123").issuances(
        DOMAIN, include_subdomains=True, after=None
    )

    assert len(page.issuances) == 1
    assert world.ct.authorizations[-1] == "Bearer k-123"


def test_a_ct_server_on_a_forbidden_address_is_refused_by_the_address_policy(world: Watch) -> None:
    fetcher = UrlFetcher(resolver=SystemResolver(), address_policy=AddressPolicy())
    domains = domain_watch(
        world.store,
        CertSpotter(fetcher, world.ct.url),
        RdapClient(fetcher, servers=f'{{"test": "{world.rdap.url}"}}'),
        alerter_on(world.store, world.publisher, world.clock.now),
        world.clock.now,
    )
    domain = world.watch()

    assert domains.sweep().failures == 1
    problem = world.domains.get(TEAM, domain.id).problem or ""
    assert "loopback" in problem
    assert world.ct.requests == []


# --- the registration's end over RDAP -------------------------------------------------------------


def test_a_domain_expiring_in_20_days_gives_one_domain_expiring(world: Watch) -> None:
    world.rdap.expirations[DOMAIN] = NOW + 20 * DAY
    domain = world.watch()

    world.domains.sweep()

    (event,) = world.events("domain.expiring")
    assert event["threshold_days"] == 30
    assert event["severity"] == "warning"
    assert event["target"]["domain"] == DOMAIN
    watched = world.domains.get(TEAM, domain.id)
    assert watched.registration_expires_at == NOW + 20 * DAY
    assert [f.code for f in watched.findings_at(NOW)] == [FindingCode.DOMAIN_EXPIRING]

    for _ in range(3):  # later sweeps (and a day later, the registry asked again): no second event
        world.clock.advance(DAY)
        world.domains.sweep()
    assert len(world.events("domain.expiring")) == 1
    assert world.rdap.requests.count(f"/domain/{DOMAIN}") == 4


def test_a_registry_that_does_not_know_the_domain_is_a_finding_not_a_failed_sweep(world: Watch) -> None:
    del world.rdap.expirations[DOMAIN]
    domain = world.watch()

    assert world.domains.sweep().swept == 1

    assert "RDAP" in (world.domains.get(TEAM, domain.id).problem or "")
    assert world.events("domain.expiring") == []


# --- every channel --------------------------------------------------------------------------------


def test_every_channel_renders_a_domains_events(world: Watch, pki: Pki) -> None:
    """The relays read the topic's document back strictly and render Slack, PagerDuty, Teams and email from it."""
    world.rdap.expirations[DOMAIN] = NOW + 5 * DAY
    rogue_ca = make_ca("Rogue Issuing CA")
    world.ct.add(make_cert(f"www.{DOMAIN}", issuer=rogue_ca, not_before=NOW - DAY, not_after=NOW + 30 * DAY))
    world.watch(allowed_issuers=("certwatch Test Intermediate",), owner="web-oncall")

    world.domains.sweep()

    told = {d["type"]: d for d in world.publisher.documents}
    assert set(told) == {"certificate.unexpected_issuance", "domain.expiring"}
    assert told["domain.expiring"]["severity"] == "critical"  # 5 days: within 7
    for document in told.values():
        read = read_event(json.dumps(document))
        assert DOMAIN in email_subject(read)
        assert "web-oncall" in email_text(read)
        assert DOMAIN in json.dumps(slack_message(read))
        assert DOMAIN in json.dumps(teams_message(read))
        paged = pagerduty_event(read, "R" * 32)
        assert paged is not None
        assert paged["event_action"] == "trigger"


def test_a_domains_events_are_silenced_like_the_others(world: Watch, pki: Pki) -> None:
    """A silence of a finding quiets an unexpected issuance; a maintenance window quiets the team's every event."""
    rogue_ca = make_ca("Rogue Issuing CA")
    world.ct.add(make_cert(f"www.{DOMAIN}", issuer=rogue_ca, not_before=NOW - DAY, not_after=NOW + 30 * DAY))
    world.rdap.expirations[DOMAIN] = NOW + 20 * DAY
    world.store.put_silence(
        Silence("si_00000000000000a1", TEAM, Match.FINDING, "UNEXPECTED_ISSUANCE", "me", "a test CA", NOW, NOW + DAY)
    )
    world.store.put_window(MaintenanceWindow("mw_00000000000000b2", TEAM, NOW, NOW + DAY, "me", "migration", NOW))
    world.watch(allowed_issuers=("certwatch Test Intermediate",))

    world.domains.sweep()

    assert world.publisher.documents == []
    told = {r.notification.event.type.value: r for r in world.store.team_events(TEAM)}
    assert told["certificate.unexpected_issuance"].notification.silenced_by == "si_00000000000000a1"
    assert told["domain.expiring"].notification.silenced_by == "mw_00000000000000b2"
    assert {r.state for r in told.values()} == {"silenced"}


def test_hostile_answers_of_the_ct_source_fail_that_domain_not_the_sweep() -> None:
    """A page that is not a list, or whose last issuance has no id (the cursor could not move on): FetchError."""

    class Answers:
        def __init__(self, *bodies: bytes) -> None:
            self.bodies = list(bodies)

        def answer(self, url: str, *, max_bytes: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
            return 200, {}, self.bodies.pop(0)

    for body in (b'{"issuances": []}', b"[{}]", b"not json", b'[{"id": ""}]'):
        with pytest.raises(FetchError):
            CertSpotter(Answers(body), "http://ct.test").issuances(DOMAIN, include_subdomains=True, after=None)
    malformed_then_end = Answers(b'[{"id": "7", "tbs_sha256": 5}]', b"[]")
    page = CertSpotter(malformed_then_end, "http://ct.test").issuances(DOMAIN, include_subdomains=True, after=None)
    assert (page.issuances, page.cursor) == ((), "7")  # skipped, and read past
