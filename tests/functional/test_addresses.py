"""Addresses and names: IPv6 loopback, several addresses behind one name, and the SNI name that is matched."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.checks.engine import CheckRequest
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.models import Endpoint, FailureReason, FindingCode, Protocol, Severity, Status
from lab.certs import Issued, make_cert
from lab.servers import TlsServer, server_context
from tests.functional.helpers import Engines, Servers, codes
from tests.support.net import closed_port
from tests.support.pki import Pki

NAME = "www.addresses.test"


@dataclass
class Site:
    """Servers behind one port on several loopback addresses, and the certificates they serve."""

    port: int
    by_address: dict[str, TlsServer] = field(default_factory=dict)
    certs: dict[str, Issued] = field(default_factory=dict)


def _same_port_servers(servers: Servers, chains: dict[str, list[Issued]]) -> Site:
    """One server per address, all on the port the first one was given."""
    addresses = list(chains)
    first = servers.start(TlsServer(chains[addresses[0]], host=addresses[0]))
    site = Site(first.port, {addresses[0]: first}, {addresses[0]: chains[addresses[0]][0]})
    for address in addresses[1:]:
        site.by_address[address] = servers.start(TlsServer(chains[address], host=address, port=first.port))
        site.certs[address] = chains[address][0]
    return site


@pytest.fixture(scope="module")
def v6(pki: Pki, servers: Servers) -> TlsServer:
    leaf = make_cert(NAME, sans=[NAME, "::1"], issuer=pki.intermediate)
    return servers.start(TlsServer([leaf, pki.intermediate], host="::1"))


@pytest.fixture(scope="module")
def agreeing(pki: Pki, servers: Servers) -> Site:
    leaf = make_cert(NAME, issuer=pki.intermediate)
    chain = [leaf, pki.intermediate]
    return _same_port_servers(servers, {"127.0.0.1": chain, "127.0.0.2": chain, "::1": chain})


@pytest.fixture(scope="module")
def disagreeing(pki: Pki, servers: Servers) -> Site:
    now = datetime.now(UTC)
    fresh = make_cert(NAME, issuer=pki.intermediate, now=now)
    stale = make_cert(
        NAME, issuer=pki.intermediate, not_before=now - timedelta(days=80), not_after=now + timedelta(days=10)
    )
    return _same_port_servers(servers, {"127.0.0.1": [fresh, pki.intermediate], "127.0.0.2": [stale, pki.intermediate]})


def test_an_ipv6_literal_target_is_checked_over_ipv6(v6: TlsServer, engines: Engines) -> None:
    endpoint = parse_target(f"[::1]:{v6.port}")

    report = engines.build().check(endpoint)

    assert (endpoint.host, endpoint.protocol) == ("::1", Protocol.TLS)  # [v6]:PORT is TLS on that port
    assert report.findings == ()
    (result,) = report.results
    assert result.address == "::1"
    assert result.leaf is not None
    assert result.leaf.ip_sans == ("::1",)


def test_a_name_pinned_to_ipv6_is_checked_there(v6: TlsServer, engines: Engines) -> None:
    report = engines.build({NAME: ["::1"]}).check(parse_target(f"tls://{NAME}:{v6.port}"))

    assert report.findings == ()
    assert [r.address for r in report.results] == ["::1"]


def test_starttls_works_over_ipv6(pki: Pki, servers: Servers, engines: Engines) -> None:
    leaf = make_cert("mail.addresses.test", sans=["::1"], issuer=pki.intermediate)
    server = servers.start(TlsServer([leaf, pki.intermediate], dialogue="smtp", host="::1"))

    report = engines.build().check(parse_target(f"smtp://[::1]:{server.port}"))

    assert report.findings == ()
    assert [r.address for r in report.results] == ["::1"]


def test_an_ipv6_port_nobody_listens_on_is_refused(engines: Engines) -> None:
    with closed_port("::1") as port:
        report = engines.build().check(parse_target(f"tls://[::1]:{port}"))

    assert [f.reason for f in report.findings] == [FailureReason.REFUSED]


def test_addresses_serving_one_certificate_agree(agreeing: Site, engines: Engines) -> None:
    engine = engines.build({NAME: ["127.0.0.1", "127.0.0.2", "::1"]})

    report = engine.check(parse_target(f"tls://{NAME}:{agreeing.port}"))

    assert [r.address for r in report.results] == ["127.0.0.1", "127.0.0.2", "::1"]
    assert all(r.status is Status.OK for r in report.results)
    assert report.target_findings == ()
    assert report.findings == ()
    assert report.status is Status.OK


def test_addresses_serving_different_certificates_disagree(disagreeing: Site, engines: Engines) -> None:
    engine = engines.build({NAME: ["127.0.0.1", "127.0.0.2"]})

    report = engine.check(parse_target(f"tls://{NAME}:{disagreeing.port}"))

    (disagreement,) = report.target_findings
    assert disagreement.code is FindingCode.ADDRESSES_DISAGREE
    assert disagreement.severity is Severity.INFO
    assert "2 different certificates" in disagreement.message
    assert "127.0.0.1" in disagreement.message
    assert "127.0.0.2" in disagreement.message
    fresh, stale = report.results
    assert fresh.leaf is not None
    assert fresh.leaf.fingerprint_sha256 == disagreeing.certs["127.0.0.1"].fingerprint
    assert stale.leaf is not None
    assert stale.leaf.fingerprint_sha256 == disagreeing.certs["127.0.0.2"].fingerprint
    # The stale backend is what breaks first, and what the report shows.
    assert codes(report) == {
        FindingCode.ADDRESSES_DISAGREE: Severity.INFO,
        FindingCode.EXPIRING_SOON: Severity.WARNING,
        FindingCode.RENEWAL_OVERDUE: Severity.WARNING,
    }
    assert report.status is Status.WARNING
    assert report.days_left == stale.days_left
    assert report.days_left is not None
    assert report.days_left < 11


def test_a_disagreement_alone_is_no_problem(pki: Pki, servers: Servers, engines: Engines) -> None:
    one = make_cert(NAME, issuer=pki.intermediate)
    other = make_cert(NAME, issuer=pki.intermediate)
    site = _same_port_servers(servers, {"127.0.0.1": [one, pki.intermediate], "127.0.0.2": [other, pki.intermediate]})

    report = engines.build({NAME: ["127.0.0.1", "127.0.0.2"]}).check(parse_target(f"tls://{NAME}:{site.port}"))

    assert codes(report) == {FindingCode.ADDRESSES_DISAGREE: Severity.INFO}
    assert report.status is Status.OK


def test_only_the_first_address_is_checked_when_asked(disagreeing: Site, engines: Engines) -> None:
    engine = engines.build({NAME: ["127.0.0.1", "127.0.0.2"]}, all_addresses=False)

    report = engine.check(parse_target(f"tls://{NAME}:{disagreeing.port}"))

    assert [r.address for r in report.results] == ["127.0.0.1"]
    assert report.findings == ()


def test_one_unreachable_address_does_not_hide_the_others(agreeing: Site, engines: Engines) -> None:
    # The agreeing site listens on 127.0.0.1, 127.0.0.2 and ::1; nothing listens on 127.0.0.3 at its port.
    engine = engines.build({NAME: ["127.0.0.3", "127.0.0.1"]})

    report = engine.check(parse_target(f"tls://{NAME}:{agreeing.port}"))

    down, up = report.results
    assert down.address == "127.0.0.3"
    assert [f.reason for f in down.findings] == [FailureReason.REFUSED]
    assert down.leaf is None
    assert up.address == "127.0.0.1"
    assert up.status is Status.OK
    assert report.status is Status.ERROR
    assert report.days_left is not None  # what one address served is still reported
    assert report.target_findings == ()


def test_an_address_pinned_twice_is_checked_once(agreeing: Site, engines: Engines) -> None:
    engine = engines.build({NAME: ["127.0.0.1", "127.0.0.1"]})

    report = engine.check(parse_target(f"tls://{NAME}:{agreeing.port}"))

    assert [r.address for r in report.results] == ["127.0.0.1"]


# SNI: what the client sends, and what the certificate is matched against


@dataclass
class SniServer:
    server: TlsServer
    seen: list[str | None]


@pytest.fixture(scope="module")
def sni_server(pki: Pki, servers: Servers) -> SniServer:
    """Serves a certificate for api.sni.test only, recording the SNI name of every handshake."""
    leaf = make_cert("api.sni.test", issuer=pki.intermediate)
    context = server_context([leaf, pki.intermediate], leaf.key)
    seen: list[str | None] = []

    def record(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        seen.append(name)

    context.sni_callback = record
    return SniServer(servers.start(TlsServer([leaf, pki.intermediate], context=context)), seen)


def test_the_sni_name_is_sent_and_matched(sni_server: SniServer, engines: Engines) -> None:
    endpoint = parse_target(f"tls://127.0.0.1:{sni_server.server.port}", sni="api.sni.test")
    sni_server.seen.clear()

    report = engines.build().check(endpoint)

    assert sni_server.seen == ["api.sni.test"]
    assert report.findings == ()
    assert report.results[0].address == "127.0.0.1"


def test_a_wrong_sni_name_is_the_mismatch_reported(sni_server: SniServer, engines: Engines) -> None:
    endpoint = Endpoint("127.0.0.1", sni_server.server.port, Protocol.TLS, sni="web.sni.test", host_is_address=True)
    sni_server.seen.clear()

    report = engines.build().check(endpoint)

    assert sni_server.seen == ["web.sni.test"]
    assert codes(report) == {FindingCode.HOSTNAME_MISMATCH: Severity.CRITICAL}
    assert "web.sni.test" in report.findings[0].message


def test_an_address_literal_sends_no_sni_and_is_matched_as_an_address(sni_server: SniServer, engines: Engines) -> None:
    sni_server.seen.clear()

    report = engines.build().check(parse_target(f"tls://127.0.0.1:{sni_server.server.port}"))

    assert sni_server.seen == [None]
    assert codes(report) == {FindingCode.HOSTNAME_MISMATCH: Severity.CRITICAL}
    assert "127.0.0.1" in report.findings[0].message


def test_a_pinned_name_is_sent_as_sni_unless_another_is_given(sni_server: SniServer, engines: Engines) -> None:
    engine = engines.build({"api.sni.test": ["127.0.0.1"], "lb.sni.test": ["127.0.0.1"]})
    port = sni_server.server.port
    sni_server.seen.clear()

    by_name = engine.check(parse_target(f"tls://api.sni.test:{port}"))
    by_sni = engine.check(parse_target(f"tls://lb.sni.test:{port}", sni="api.sni.test"))

    assert sni_server.seen == ["api.sni.test", "api.sni.test"]
    assert by_name.findings == ()
    assert by_sni.findings == ()


def test_requests_in_one_batch_keep_their_own_sni(sni_server: SniServer, engines: Engines) -> None:
    port = sni_server.server.port
    requests = [
        CheckRequest(parse_target(f"tls://127.0.0.1:{port}", sni=name))
        for name in ("api.sni.test", "web.sni.test", "api.sni.test")
    ]

    reports = list(engines.build().check_many(requests))

    assert [set(codes(r)) for r in reports] == [set(), {FindingCode.HOSTNAME_MISMATCH}, set()]
