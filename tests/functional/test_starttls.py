"""STARTTLS dialogues and implicit-TLS schemes against the lab's tiny protocol servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.checks.engine import CheckRequest
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.models import FailureReason, FindingCode, Protocol, Severity, Status
from lab.certs import Issued, make_cert
from lab.servers import TlsServer
from tests.functional.helpers import Engines, Servers, codes, failure
from tests.support.pki import Pki

LOOPBACK = ["127.0.0.1", "::1"]


@pytest.fixture(scope="module")
def leaf(pki: Pki) -> Issued:
    """A certificate valid for the loopback addresses themselves, so address-literal targets match it."""
    return make_cert("mail.starttls.test", sans=["mail.starttls.test", *LOOPBACK], issuer=pki.intermediate)


@pytest.fixture(scope="module")
def dialogue_servers(pki: Pki, leaf: Issued, servers: Servers) -> dict[str, TlsServer]:
    names = ["smtp", "imap", "pop3", "ftp", "postgres", "smtp-refuse", "postgres-refuse"]
    return {name: servers.start(TlsServer([leaf, pki.intermediate], dialogue=name)) for name in names}


@pytest.fixture(scope="module")
def implicit_server(pki: Pki, leaf: Issued, servers: Servers) -> TlsServer:
    return servers.start(TlsServer([leaf, pki.intermediate]))


@pytest.mark.parametrize(
    ("scheme", "dialogue"),
    [
        ("smtp", "smtp"),
        ("submission", "smtp"),
        ("imap", "imap"),
        ("pop3", "pop3"),
        ("ftp", "ftp"),
        ("postgres", "postgres"),
        ("postgresql", "postgres"),
    ],
)
def test_starttls_reaches_the_certificate(
    scheme: str, dialogue: str, leaf: Issued, dialogue_servers: dict[str, TlsServer], engines: Engines
) -> None:
    server = dialogue_servers[dialogue]
    endpoint = parse_target(server.target(scheme))

    report = engines.build().check(endpoint)

    assert endpoint.protocol is Protocol(scheme if scheme != "postgresql" else "postgres")
    assert report.findings == ()
    assert report.status is Status.OK
    (result,) = report.results
    assert result.leaf is not None
    assert result.leaf.fingerprint_sha256 == leaf.fingerprint
    assert result.tls_version is not None


@pytest.mark.parametrize(("scheme", "dialogue"), [("smtp", "smtp"), ("imap", "imap"), ("postgres", "postgres")])
def test_starttls_with_a_pinned_name_matches_that_name(
    scheme: str, dialogue: str, dialogue_servers: dict[str, TlsServer], engines: Engines
) -> None:
    engine = engines.build({"mail.starttls.test": ["127.0.0.1"], "other.starttls.test": ["127.0.0.1"]})
    port = dialogue_servers[dialogue].port

    right = engine.check(parse_target(f"{scheme}://mail.starttls.test:{port}"))
    wrong = engine.check(parse_target(f"{scheme}://other.starttls.test:{port}"))

    assert codes(right) == {}
    assert set(codes(wrong)) == {FindingCode.HOSTNAME_MISMATCH}


@pytest.mark.parametrize(
    ("scheme", "dialogue", "fragment"),
    [
        ("smtp", "smtp-refuse", "STARTTLS refused"),
        ("submission", "smtp-refuse", "502"),
        ("postgres", "postgres-refuse", "does not accept SSL"),
    ],
)
def test_a_refused_starttls_fails_as_protocol(
    scheme: str, dialogue: str, fragment: str, dialogue_servers: dict[str, TlsServer], engines: Engines
) -> None:
    report = engines.build().check(parse_target(dialogue_servers[dialogue].target(scheme)))

    finding = failure(report)
    assert finding.reason is FailureReason.PROTOCOL
    assert fragment in finding.message
    assert report.status is Status.ERROR


@pytest.mark.parametrize("scheme", ["smtps", "imaps", "pop3s", "ldaps", "tls", "https"])
def test_implicit_tls_schemes_shake_hands_at_once(
    scheme: str, leaf: Issued, implicit_server: TlsServer, engines: Engines
) -> None:
    endpoint = parse_target(implicit_server.target(scheme))

    report = engines.build().check(endpoint)

    assert endpoint.protocol is Protocol(scheme)
    assert report.findings == ()
    (result,) = report.results
    assert result.leaf is not None
    assert result.leaf.fingerprint_sha256 == leaf.fingerprint


def test_what_is_wrong_behind_starttls_is_found_too(pki: Pki, servers: Servers, engines: Engines) -> None:
    now = datetime.now(UTC)
    expired = make_cert(
        "127.0.0.1", issuer=pki.intermediate, not_before=now - timedelta(days=90), not_after=now - timedelta(days=1)
    )
    server = servers.start(TlsServer([expired, pki.intermediate], dialogue="imap"))

    report = engines.build().check(parse_target(server.target("imap")))

    assert codes(report) == {FindingCode.EXPIRED: Severity.CRITICAL}


def test_every_starttls_protocol_in_one_batch(dialogue_servers: dict[str, TlsServer], engines: Engines) -> None:
    targets = [
        dialogue_servers["smtp"].target("smtp"),
        dialogue_servers["smtp-refuse"].target("smtp"),
        dialogue_servers["imap"].target("imap"),
        dialogue_servers["pop3"].target("pop3"),
        dialogue_servers["ftp"].target("ftp"),
        dialogue_servers["postgres"].target("postgres"),
        dialogue_servers["postgres-refuse"].target("postgres"),
    ]

    reports = list(engines.build().check_many(CheckRequest(parse_target(t)) for t in targets))

    assert [r.status for r in reports] == [
        Status.OK,
        Status.ERROR,
        Status.OK,
        Status.OK,
        Status.OK,
        Status.OK,
        Status.ERROR,
    ]
