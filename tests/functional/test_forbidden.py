"""The SSRF guard at check time: the engine re-checks every address it is about to contact."""

from __future__ import annotations

from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.models import FailureReason, FindingCode, Status
from lab.certs import make_cert
from lab.servers import TlsServer
from tests.functional.helpers import Engines, Servers
from tests.support.pki import Pki


def test_a_name_that_now_resolves_to_a_forbidden_address_is_refused_not_contacted(
    pki: Pki, servers: Servers, engines: Engines
) -> None:
    server = servers.start(_server(pki))
    engine = engines.build({"rebound.example.test": ["127.0.0.1"]}, address_policy=AddressPolicy())

    report = engine.check(parse_target(f"rebound.example.test:{server.port}"))

    assert report.status is Status.ERROR
    (finding,) = report.findings
    assert finding.code is FindingCode.CONNECTION_FAILED
    assert finding.reason is FailureReason.FORBIDDEN
    assert "127.0.0.1" in finding.message
    assert "loopback" in finding.message
    assert server.connections == 0


def test_only_the_forbidden_addresses_of_a_name_are_refused(pki: Pki, servers: Servers, engines: Engines) -> None:
    server = servers.start(_server(pki))
    policy = AddressPolicy.from_text("127.0.0.1/32")
    engine = engines.build({"mixed.example.test": ["127.0.0.1", "10.0.0.1"]}, address_policy=policy)

    report = engine.check(parse_target(f"mixed.example.test:{server.port}"))

    by_address = {r.address: r for r in report.results}
    assert by_address["127.0.0.1"].status is Status.OK
    refused = by_address["10.0.0.1"].findings[0]
    assert (refused.code, refused.reason) == (FindingCode.CONNECTION_FAILED, FailureReason.FORBIDDEN)
    assert "private" in refused.message


def test_allow_cidrs_let_the_local_stack_check_loopback(pki: Pki, servers: Servers, engines: Engines) -> None:
    server = servers.start(_server(pki))
    engine = engines.build(address_policy=AddressPolicy.from_text("127.0.0.0/8,::1/128"))

    report = engine.check(parse_target(f"127.0.0.1:{server.port}", sni="forbidden.example.test"))

    assert report.status is Status.OK


def _server(pki: Pki) -> TlsServer:
    names = ["rebound.example.test", "mixed.example.test", "forbidden.example.test"]
    return TlsServer([make_cert("forbidden.example.test", sans=names, issuer=pki.intermediate), pki.intermediate])
