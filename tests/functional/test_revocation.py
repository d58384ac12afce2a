"""Revocation against a real private CA on loopback: its CRL server and OCSP responder, served leaves.

The CA's HTTP side (``lab.authority.CaHttpServer``) serves a CRL signed by the test
intermediate and answers OCSP requests; each leaf names its URLs and is served over TLS. Names
resolve through pins only, and the fetcher allows loopback as CERTWATCH_ALLOW_CIDRS would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509 import ocsp

from chalicelib.checks.engine import CheckEngine
from chalicelib.checks.fetcher import UrlFetcher
from chalicelib.checks.resolver import SystemResolver
from chalicelib.checks.revocation import RevocationChecker, RevocationLimits
from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.models import FindingCode, Revocation, Severity, TargetReport
from chalicelib.domain.targets import Target, TargetSpec
from chalicelib.services.checking import TargetChecker
from chalicelib.services.slack_relay import SlackRelay
from lab.authority import (
    CaHttpServer,
    Revoked,
    make_crl,
    ocsp_answer,
    ocsp_responder_cert,
    revocation_extensions,
    tampered,
)
from lab.certs import Issued, make_cert
from lab.servers import TlsServer
from tests.functional.helpers import SLACK, Engines, Servers, codes, stopwatch
from tests.support.events import rendered, subject_line, text
from tests.support.fakes import InMemoryStore, RecordingPublisher, RecordingSlack, alerter_on
from tests.support.net import no_dns
from tests.support.pki import Pki

CA_HOST = "ca.revocation.test"
FETCH_TIMEOUT = 1.5
REVOKED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
LOOPBACK = AddressPolicy.from_text("127.0.0.0/8")


@dataclass
class World:
    ca: CaHttpServer
    pki: Pki
    servers: Servers
    responder: Issued
    leaves: dict[str, Issued]

    def url(self, path: str) -> str:
        return self.ca.url(path, host=CA_HOST)

    def serve(self, name: str, *, crl: str | None = None, ocsp_path: str | None = None, raw_urls: bool = False) -> str:
        """Serve a leaf for ``name`` naming these CRL/OCSP paths (or whole URLs when ``raw_urls``); its target."""
        crl_url = crl if raw_urls or crl is None else self.url(crl)
        ocsp_url = ocsp_path if raw_urls or ocsp_path is None else self.url(ocsp_path)
        leaf = make_cert(name, issuer=self.pki.intermediate, extensions=revocation_extensions(crl_url, ocsp_url))
        server = self.servers.start(TlsServer([leaf, self.pki.intermediate]))
        self.leaves[name] = leaf
        return f"tls://{name}:{server.port}"


@pytest.fixture(scope="module")
def world(pki: Pki, servers: Servers) -> Iterator[World]:
    with CaHttpServer() as ca:
        built = World(ca, pki, servers, ocsp_responder_cert(pki.intermediate), {})
        yield built


def _statuses(world: World) -> dict[int, tuple[ocsp.OCSPCertStatus, datetime | None, x509.ReasonFlags | None]]:
    good = (ocsp.OCSPCertStatus.GOOD, None, None)
    revoked = (ocsp.OCSPCertStatus.REVOKED, REVOKED_AT, x509.ReasonFlags.superseded)
    return {
        leaf.cert.serial_number: revoked if name.startswith("revoked") else good for name, leaf in world.leaves.items()
    }


def _engine(
    engines: Engines,
    targets: list[str],
    *,
    limits: RevocationLimits | None = None,
    pins: dict[str, list[str]] | None = None,
    timeout: float = FETCH_TIMEOUT,
) -> tuple[CheckEngine, UrlFetcher]:
    """An engine checking revocation, names pinned to loopback, fetching under CERTWATCH_ALLOW_CIDRS=127.0.0.0/8."""
    pins = {t.split("//")[1].split(":")[0]: ["127.0.0.1"] for t in targets} | {CA_HOST: ["127.0.0.1"]} | (pins or {})
    resolver = SystemResolver(pins, lookup=no_dns)
    fetcher = UrlFetcher(resolver=resolver, address_policy=LOOPBACK, timeout=timeout)
    engine = engines.build(resolver=resolver, revocation=RevocationChecker(fetcher, limits))
    return engine, fetcher


def _check(engine: CheckEngine, target: str) -> TargetReport:
    return engine.check(parse_target(target))


def _only(report: TargetReport, code: FindingCode) -> str:
    (finding,) = [f for f in report.findings if f.code is code]
    return finding.message


def test_a_revoked_leaf_is_revoked_with_its_reason_and_date_and_a_good_one_is_not(
    world: World, engines: Engines
) -> None:
    revoked = world.serve("revoked-crl.revocation.test", crl="/int.crl")
    good = world.serve("good-crl.revocation.test", crl="/int.crl")
    serial = world.leaves["revoked-crl.revocation.test"].cert.serial_number
    world.ca.routes["/int.crl"] = make_crl(world.pki.intermediate, [Revoked(serial, REVOKED_AT)])
    engine, fetcher = _engine(engines, [revoked, good])

    bad = _check(engine, revoked)
    assert codes(bad)[FindingCode.REVOKED] is Severity.CRITICAL
    message = _only(bad, FindingCode.REVOKED)
    assert f"on {REVOKED_AT:%Y-%m-%d %H:%M} UTC" in message
    assert "reason: keyCompromise" in message
    assert "CRL" in message
    assert bad.status.value == "critical"
    assert [r.revocation for r in bad.results] == [Revocation.REVOKED]  # the leaf's status, kept for /metrics

    fine = _check(engine, good)
    assert FindingCode.REVOKED not in codes(fine)
    assert FindingCode.REVOCATION_UNKNOWN not in codes(fine)
    assert fine.status.value == "ok"
    assert [r.revocation for r in fine.results] == [Revocation.GOOD]
    # One CRL for both leaves, fetched once: the second check found it in the cache.
    assert world.ca.hits.count("/int.crl") == 1
    assert fetcher.requests == 1


def test_ocsp_says_revoked_or_good_when_there_is_no_crl(world: World, engines: Engines) -> None:
    world.ca.routes["/ocsp"] = lambda method, body: (
        200,
        {"Content-Type": "application/ocsp-response"},
        ocsp_answer(body, world.pki.intermediate, _statuses(world)),
    )
    revoked = world.serve("revoked-ocsp.revocation.test", ocsp_path="/ocsp")
    good = world.serve("good-ocsp.revocation.test", ocsp_path="/ocsp")
    engine, _ = _engine(engines, [revoked, good])

    message = _only(_check(engine, revoked), FindingCode.REVOKED)
    assert "reason: superseded" in message
    assert f"on {REVOKED_AT:%Y-%m-%d %H:%M} UTC" in message
    assert "OCSP" in message
    assert {FindingCode.REVOKED, FindingCode.REVOCATION_UNKNOWN}.isdisjoint(codes(_check(engine, good)))


def test_a_delegated_responder_counts_only_with_the_ocsp_signing_eku(world: World, engines: Engines) -> None:
    unfit = ocsp_responder_cert(world.pki.intermediate, signing=False)
    world.ca.routes["/ocsp-delegated"] = lambda method, body: (
        200,
        {},
        ocsp_answer(body, world.pki.intermediate, _statuses(world), responder=world.responder),
    )
    world.ca.routes["/ocsp-unfit"] = lambda method, body: (
        200,
        {},
        ocsp_answer(body, world.pki.intermediate, _statuses(world), responder=unfit),
    )
    delegated = world.serve("revoked-delegated.revocation.test", ocsp_path="/ocsp-delegated")
    impostor = world.serve("revoked-unfit.revocation.test", ocsp_path="/ocsp-unfit")
    engine, _ = _engine(engines, [delegated, impostor])

    assert FindingCode.REVOKED in codes(_check(engine, delegated))
    report = _check(engine, impostor)
    assert FindingCode.REVOKED not in codes(report)
    assert "OCSPSigning" in _only(report, FindingCode.REVOCATION_UNKNOWN)


def test_a_tampered_crl_or_ocsp_response_is_ignored_never_revoked(world: World, engines: Engines) -> None:
    crl_leaf = world.serve("revoked-tampered-crl.revocation.test", crl="/tampered.crl")
    ocsp_leaf = world.serve("revoked-tampered-ocsp.revocation.test", ocsp_path="/ocsp-tampered")
    serial = world.leaves["revoked-tampered-crl.revocation.test"].cert.serial_number
    world.ca.routes["/tampered.crl"] = tampered(make_crl(world.pki.intermediate, [Revoked(serial, REVOKED_AT)]))
    world.ca.routes["/ocsp-tampered"] = lambda method, body: (
        200,
        {},
        tampered(ocsp_answer(body, world.pki.intermediate, _statuses(world))),
    )
    engine, _ = _engine(engines, [crl_leaf, ocsp_leaf])

    for target, source in ((crl_leaf, "CRL"), (ocsp_leaf, "OCSP")):
        report = _check(engine, target)
        assert FindingCode.REVOKED not in codes(report)
        assert codes(report)[FindingCode.REVOCATION_UNKNOWN] is Severity.INFO
        assert "signature does not verify" in _only(report, FindingCode.REVOCATION_UNKNOWN)
        assert source in _only(report, FindingCode.REVOCATION_UNKNOWN)
        assert report.status.value == "ok"  # a quiet info: nobody is paged for it


def test_a_crl_of_another_ca_is_not_used(world: World, engines: Engines, pki: Pki) -> None:
    target = world.serve("revoked-foreign.revocation.test", crl="/foreign.crl")
    serial = world.leaves["revoked-foreign.revocation.test"].cert.serial_number
    world.ca.routes["/foreign.crl"] = make_crl(pki.root, [Revoked(serial, REVOKED_AT)])
    engine, _ = _engine(engines, [target])
    report = _check(engine, target)
    assert FindingCode.REVOKED not in codes(report)
    assert "not by" in _only(report, FindingCode.REVOCATION_UNKNOWN)


def test_a_crl_over_the_size_cap_or_a_silent_responder_ends_within_the_timeout(world: World, engines: Engines) -> None:
    world.ca.routes["/big.crl"] = b"\x30" * 300_000
    world.ca.silent.add("/silent.crl")
    world.ca.silent.add("/silent-ocsp")
    big = world.serve("big.revocation.test", crl="/big.crl")
    silent = world.serve("silent.revocation.test", crl="/silent.crl", ocsp_path="/silent-ocsp")
    engine, _ = _engine(engines, [big, silent], limits=RevocationLimits(crl_max_bytes=100_000))

    report = _check(engine, big)
    assert "over the 100000-byte cap" in _only(report, FindingCode.REVOCATION_UNKNOWN)
    with stopwatch() as watch:
        report = _check(engine, silent)
    message = _only(report, FindingCode.REVOCATION_UNKNOWN)
    assert "no answer within 1.5s" in message
    assert report.status.value == "ok"
    # One deadline for the whole chain: the CRL and the OCSP responder share it.
    assert watch.elapsed < FETCH_TIMEOUT + SLACK
    # A second check does not wait again: the failure is remembered for a quarter hour.
    with stopwatch() as again:
        assert FindingCode.REVOCATION_UNKNOWN in codes(_check(engine, silent))
    assert again.elapsed < FETCH_TIMEOUT


@pytest.mark.parametrize("source", ["crl", "ocsp"])
def test_a_server_that_drips_its_answer_did_not_answer_in_time(world: World, engines: Engines, source: str) -> None:
    """Headers, then a byte at a time: each read gets a byte long before a socket timeout would fire."""
    name = f"drip-{source}.revocation.test"
    path = f"/drip-{source}"
    world.ca.dripping[path] = 0.02
    target = world.serve(name, crl=path if source == "crl" else None, ocsp_path=path if source == "ocsp" else None)
    engine, _ = _engine(engines, [target], timeout=0.3)

    report = _check(engine, target)

    message = _only(report, FindingCode.REVOCATION_UNKNOWN)
    assert f"{source.upper()}: {world.url(path)}: no answer within 0.3s" in message, message
    assert report.status.value == "ok"


def test_an_answer_cut_short_of_its_declared_length_says_so(world: World, engines: Engines) -> None:
    crl = make_crl(world.pki.intermediate, [])
    world.ca.routes["/short.crl"] = lambda method, body: (200, {"Content-Length": str(len(crl))}, crl[:-50])
    target = world.serve("short-crl.revocation.test", crl="/short.crl")
    engine, _ = _engine(engines, [target])

    message = _only(_check(engine, target), FindingCode.REVOCATION_UNKNOWN)

    assert f"the answer ended after {len(crl) - 50} of its {len(crl)} bytes" in message, message


@pytest.mark.parametrize(
    ("number", "url", "said"),
    [
        (1, "http://169.254.169.254/latest/meta-data/iam/security-credentials/", "link-local"),
        (2, "http://10.0.0.1/internal.crl", "private"),
        (3, "http://[::ffff:10.1.2.3]/mapped.crl", "IPv4 10.1.2.3"),
        (4, "http://user:secret@127.0.0.1/with-credentials.crl", "credentials"),
        (5, "file:///etc/passwd", None),  # not even named: only http(s) distribution points are read
    ],
)
def test_urls_to_forbidden_places_in_a_served_certificate_are_not_fetched(
    world: World, engines: Engines, number: int, url: str, said: str | None
) -> None:
    target = world.serve(f"forbidden-{number}.revocation.test", crl=url, raw_urls=True)
    engine, fetcher = _engine(engines, [target])
    report = _check(engine, target)
    assert FindingCode.REVOKED not in codes(report)
    assert fetcher.requests == 0
    if said is None:
        assert FindingCode.REVOCATION_UNKNOWN not in codes(report)
    else:
        message = _only(report, FindingCode.REVOCATION_UNKNOWN)
        assert "not fetched" in message
        assert said in message
        assert "secret" not in message


def test_a_name_that_resolves_to_a_private_address_or_a_redirect_there_is_not_followed(
    world: World, engines: Engines
) -> None:
    world.ca.redirects["/moved.crl"] = "http://169.254.169.254/latest/meta-data/"
    target = world.serve("redirected.revocation.test", crl="/moved.crl")
    private = world.serve("private-name.revocation.test", crl="http://internal.corp.test/int.crl", raw_urls=True)
    # internal.corp.test resolves to a 10/8 address: refused at connection time, not by its name.
    engine, fetcher = _engine(engines, [target, private], pins={"internal.corp.test": ["10.20.30.40"]})

    message = _only(_check(engine, target), FindingCode.REVOCATION_UNKNOWN)
    assert "169.254.169.254" in message
    assert "link-local" in message
    assert fetcher.requests == 1  # the redirect itself, from the CA's own server; nothing after it
    message = _only(_check(engine, private), FindingCode.REVOCATION_UNKNOWN)
    assert "10.20.30.40" in message
    assert fetcher.requests == 1


def test_a_private_cas_crl_on_an_allowed_internal_network_works(world: World, engines: Engines) -> None:
    target = world.serve("revoked-allowed.revocation.test", crl="/allowed.crl")
    serial = world.leaves["revoked-allowed.revocation.test"].cert.serial_number
    world.ca.routes["/allowed.crl"] = make_crl(world.pki.intermediate, [Revoked(serial, REVOKED_AT)])
    pins = {"revoked-allowed.revocation.test": ["127.0.0.1"], CA_HOST: ["127.0.0.1"]}
    resolver = SystemResolver(pins, lookup=no_dns)
    nothing_allowed = UrlFetcher(resolver=resolver, address_policy=AddressPolicy(), timeout=FETCH_TIMEOUT)
    refused = engines.build(resolver=resolver, revocation=RevocationChecker(nothing_allowed))
    assert "loopback" in _only(_check(refused, target), FindingCode.REVOCATION_UNKNOWN)
    assert nothing_allowed.requests == 0

    engine, _ = _engine(engines, [target])  # CERTWATCH_ALLOW_CIDRS=127.0.0.0/8
    assert FindingCode.REVOKED in codes(_check(engine, target))


def test_a_leaf_that_names_no_revocation_source_gets_no_revocation_finding(world: World, engines: Engines) -> None:
    target = world.serve("silent-about-it.revocation.test")
    engine, fetcher = _engine(engines, [target])
    report = _check(engine, target)
    assert {FindingCode.REVOKED, FindingCode.REVOCATION_UNKNOWN}.isdisjoint(codes(report))
    assert fetcher.requests == 0


def test_a_revocation_is_one_certificate_revoked_event_in_email_text_and_slack(world: World, engines: Engines) -> None:
    target_text = world.serve("revoked-alerted.revocation.test", crl="/alerted.crl")
    serial = world.leaves["revoked-alerted.revocation.test"].cert.serial_number
    world.ca.routes["/alerted.crl"] = make_crl(world.pki.intermediate, [Revoked(serial, REVOKED_AT)])
    engine, _ = _engine(engines, [target_text])
    store, publisher = InMemoryStore(), RecordingPublisher()
    now = datetime.now(UTC)
    target = Target("tg_0000000000aa1b2c3d4f", "payments", TargetSpec(parse_target(target_text)), now, now, now)
    store.create_target(target)
    alerter = alerter_on(store, publisher, lambda: datetime.now(UTC))
    checker = TargetChecker(store, engine, world.pki.trust, alerts=alerter)

    for _ in range(3):  # the same revoked certificate, checked again and again: announced once
        checker.run([store.get_target("payments", target.id)])

    (note,) = publisher.published
    document, body = rendered(note), text(note)
    assert document["type"] == "certificate.revoked"
    assert document["severity"] == "critical"
    assert "REVOKED" in body
    assert "reason: keyCompromise" in body
    assert f"{REVOKED_AT:%Y-%m-%d}" in body
    assert subject_line(note).startswith("[certwatch] CRITICAL revoked-alerted.revocation.test:")
    webhook = RecordingSlack()
    assert SlackRelay(webhook).deliver(json.dumps(rendered(note)))
    (posted,) = webhook.posted
    blocks = json.dumps(posted)
    assert "certificate.revoked" in blocks
    assert "reason: keyCompromise" in blocks


def test_a_target_switched_off_is_never_asked_about(world: World, engines: Engines) -> None:
    target_text = world.serve("revoked-switched-off.revocation.test", crl="/switched-off.crl")
    serial = world.leaves["revoked-switched-off.revocation.test"].cert.serial_number
    world.ca.routes["/switched-off.crl"] = make_crl(world.pki.intermediate, [Revoked(serial, REVOKED_AT)])
    engine, fetcher = _engine(engines, [target_text])
    store = InMemoryStore()
    now = datetime.now(UTC)
    spec = TargetSpec(parse_target(target_text), revocation=False)
    target = Target("tg_0000000000aa1b2c3d51", "payments", spec, now, now, now)
    store.create_target(target)

    (checked,), _ = TargetChecker(store, engine, world.pki.trust).run([target])

    assert {FindingCode.REVOKED, FindingCode.REVOCATION_UNKNOWN}.isdisjoint(codes(checked.report))
    assert fetcher.requests == 0
    assert world.ca.hits.count("/switched-off.crl") == 0
