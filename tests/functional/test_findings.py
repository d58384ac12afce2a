"""Every finding code, each from a real handshake with a loopback server serving a minted chain."""

from __future__ import annotations

import socket
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from chalicelib.checks.engine import CheckEngine, CheckRequest
from chalicelib.checks.resolver import SystemResolver
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.models import CheckPolicy, FailureReason, FindingCode, Severity, Status
from chalicelib.domain.truststore import TrustStore
from lab.certs import Issued, make_ca, make_cert
from lab.servers import GarbageServer, SilentServer, TlsServer
from tests.functional.helpers import (
    SLACK,
    AlertServer,
    Engines,
    HangUpServer,
    Servers,
    codes,
    failure,
    stopwatch,
)
from tests.support.net import closed_port
from tests.support.pki import Pki, with_broken_signature

DOMAIN = "findings.test"
C, W = Severity.CRITICAL, Severity.WARNING

# case -> the findings a check must report (exactly) and the status they amount to
EXPECTED: dict[str, tuple[dict[FindingCode, Severity], Status]] = {
    "healthy": ({}, Status.OK),
    "expired": ({FindingCode.EXPIRED: C}, Status.CRITICAL),
    "expiring-critical": ({FindingCode.EXPIRING_SOON: C}, Status.CRITICAL),
    "expiring-warning": ({FindingCode.EXPIRING_SOON: W}, Status.WARNING),
    "not-yet-valid": ({FindingCode.NOT_YET_VALID: C}, Status.CRITICAL),
    "wrong-name": ({FindingCode.HOSTNAME_MISMATCH: C}, Status.CRITICAL),
    "expired-wrong-name": ({FindingCode.EXPIRED: C, FindingCode.HOSTNAME_MISMATCH: C}, Status.CRITICAL),
    "self-signed": ({FindingCode.SELF_SIGNED: C}, Status.CRITICAL),
    "untrusted-root": ({FindingCode.UNTRUSTED_ROOT: C}, Status.CRITICAL),
    "untrusted-root-sent": ({FindingCode.UNTRUSTED_ROOT: C}, Status.CRITICAL),
    "incomplete-chain": ({FindingCode.INCOMPLETE_CHAIN: C}, Status.CRITICAL),
    "chain-expiring": ({FindingCode.CHAIN_EXPIRING: W}, Status.WARNING),
    "chain-expired": ({FindingCode.CHAIN_EXPIRING: C}, Status.CRITICAL),
    "weak-key": ({FindingCode.WEAK_KEY: C}, Status.CRITICAL),
    "weak-signature": ({FindingCode.WEAK_SIGNATURE: C}, Status.CRITICAL),
    "renewal-overdue": ({FindingCode.RENEWAL_OVERDUE: W}, Status.WARNING),
    "chain-too-long": ({FindingCode.CHAIN_TOO_LONG: W}, Status.WARNING),
    "unparseable-leaf": ({FindingCode.CERTIFICATE_UNPARSEABLE: C}, Status.CRITICAL),
    "unparseable-in-chain": ({FindingCode.CERTIFICATE_UNPARSEABLE: W}, Status.WARNING),
    "crl-sign-only": ({FindingCode.NOT_FOR_SERVER_AUTH: C}, Status.CRITICAL),
    "bad-signature": ({FindingCode.BAD_SIGNATURE: C}, Status.CRITICAL),
}
# A critical keyUsage of cRLSign alone (with serverAuth): OpenSSL says "unsuitable certificate purpose".
CRL_SIGN_ONLY = [
    (x509.KeyUsage(False, False, False, False, False, False, True, False, False), True),
    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
]


def host(case: str) -> str:
    return f"{case}.{DOMAIN}"


@dataclass(frozen=True)
class Exhibit:
    server: TlsServer
    chain: list[Issued]

    def target(self, case: str) -> str:
        return f"tls://{host(case)}:{self.server.port}"


def _chains(pki: Pki, now: datetime) -> dict[str, list[Issued]]:
    day = timedelta(days=1)
    inter = pki.intermediate

    def leaf(case: str, **kwargs: Any) -> Issued:
        kwargs.setdefault("issuer", inter)
        return make_cert(host(case), now=now, **kwargs)

    foreign_root = make_ca("Foreign Root", now=now)
    foreign_inter = make_ca("Foreign Intermediate", issuer=foreign_root, now=now)
    rsa_inter = make_ca("certwatch Test RSA Intermediate", issuer=pki.root, key="rsa2048", now=now)
    short_inter = make_ca("certwatch Short-lived Intermediate", issuer=pki.root, days=10, now=now)
    expired_inter = make_ca(
        "certwatch Expired Intermediate", issuer=pki.root, not_before=now - 400 * day, not_after=now - day, now=now
    )
    # Self-signed padding a client ignores: the chain is fine apart from its length.
    padding = [make_cert(f"padding-{i}.{DOMAIN}", now=now) for i in range(48)]
    return {
        "healthy": [leaf("healthy"), inter],
        "expired": [leaf("expired", not_before=now - 90 * day, not_after=now - 2 * day), inter],
        "expiring-critical": [leaf("expiring-critical", not_before=now - day, not_after=now + 3 * day), inter],
        "expiring-warning": [leaf("expiring-warning", not_before=now - 10 * day, not_after=now + 20 * day), inter],
        "not-yet-valid": [leaf("not-yet-valid", not_before=now + day, not_after=now + 90 * day), inter],
        "wrong-name": [make_cert(f"elsewhere.{DOMAIN}", issuer=inter, now=now), inter],
        "expired-wrong-name": [
            make_cert(f"elsewhere.{DOMAIN}", issuer=inter, not_before=now - 90 * day, not_after=now - day, now=now),
            inter,
        ],
        "self-signed": [make_cert(host("self-signed"), now=now)],
        "untrusted-root": [leaf("untrusted-root", issuer=foreign_inter), foreign_inter],
        "untrusted-root-sent": [leaf("untrusted-root-sent", issuer=foreign_inter), foreign_inter, foreign_root],
        "incomplete-chain": [leaf("incomplete-chain")],
        "chain-expiring": [leaf("chain-expiring", issuer=short_inter), short_inter],
        "chain-expired": [leaf("chain-expired", issuer=expired_inter), expired_inter],
        "weak-key": [leaf("weak-key", key="rsa1024"), inter],
        "weak-signature": [leaf("weak-signature", issuer=rsa_inter, hash_name="sha1"), rsa_inter],
        "renewal-overdue": [leaf("renewal-overdue", not_before=now - 150 * day, not_after=now + 50 * day), inter],
        "chain-too-long": [leaf("chain-too-long"), inter, *padding],
        "unparseable-leaf": [leaf("unparseable-leaf", ber_boolean=True), inter],
        "unparseable-in-chain": [
            leaf("unparseable-in-chain"),
            inter,
            make_cert(f"stray.{DOMAIN}", issuer=inter, ber_boolean=True, now=now),
        ],
        "crl-sign-only": [leaf("crl-sign-only", extensions=CRL_SIGN_ONLY), inter],
        "bad-signature": [with_broken_signature(leaf("bad-signature")), inter],
    }


@pytest.fixture(scope="module")
def exhibits(pki: Pki, servers: Servers) -> dict[str, Exhibit]:
    chains = _chains(pki, datetime.now(UTC))
    assert set(chains) == set(EXPECTED)
    return {case: Exhibit(servers.start(TlsServer(chain)), chain) for case, chain in chains.items()}


@pytest.fixture
def engine(engines: Engines) -> CheckEngine:
    return engines.build({host(case): ["127.0.0.1"] for case in EXPECTED})


@pytest.mark.parametrize("case", list(EXPECTED))
def test_a_handshake_yields_exactly_the_expected_findings(
    case: str, exhibits: dict[str, Exhibit], engine: CheckEngine
) -> None:
    expected, status = EXPECTED[case]
    report = engine.check(parse_target(exhibits[case].target(case)))

    assert codes(report) == expected
    assert report.status is status
    (result,) = report.results
    assert result.address == "127.0.0.1"
    assert result.tls_version is not None  # a real handshake happened
    assert not any(f.code is FindingCode.CONNECTION_FAILED for f in report.findings)


def test_a_healthy_server_is_ok_and_described(pki: Pki, exhibits: dict[str, Exhibit], engine: CheckEngine) -> None:
    report = engine.check(parse_target(exhibits["healthy"].target("healthy")))

    (result,) = report.results
    assert result.findings == ()
    assert report.target_findings == ()
    assert result.status is Status.OK
    assert result.trusted_by == pki.root.cert.subject.rfc4514_string()
    assert result.leaf is not None
    assert result.leaf.sans == (host("healthy"),)
    assert result.leaf.fingerprint_sha256 == exhibits["healthy"].chain[0].fingerprint
    assert [c.fingerprint_sha256 for c in result.chain] == [pki.intermediate.fingerprint]
    assert report.days_left in (89, 90)
    assert result.cipher
    assert 0 < result.elapsed_ms < 1000


def test_a_weak_signature_is_named_without_breaking_the_chain(
    pki: Pki, exhibits: dict[str, Exhibit], engine: CheckEngine
) -> None:
    report = engine.check(parse_target(exhibits["weak-signature"].target("weak-signature")))

    (result,) = report.results
    assert result.leaf is not None
    assert result.leaf.signature_algorithm == "sha1WithRSAEncryption"
    assert result.trusted_by == pki.root.cert.subject.rfc4514_string()
    assert "sha1WithRSAEncryption" in report.findings[0].message


def test_a_leaf_whose_key_usage_is_crl_sign_only_is_refused_on_a_path_still_known(
    pki: Pki, exhibits: dict[str, Exhibit], engine: CheckEngine
) -> None:
    report = engine.check(parse_target(exhibits["crl-sign-only"].target("crl-sign-only")))

    (result,) = report.results
    (finding,) = report.findings
    assert "key usage (cRLSign)" in finding.message
    assert "unsuitable certificate purpose" in finding.message
    assert result.trusted_by == pki.root.cert.subject.rfc4514_string()


def test_a_damaged_leaf_signature_is_named_with_the_intermediate_that_issued_it(
    pki: Pki, exhibits: dict[str, Exhibit], engine: CheckEngine
) -> None:
    report = engine.check(parse_target(exhibits["bad-signature"].target("bad-signature")))

    (finding,) = report.findings
    intermediate = pki.intermediate.cert.subject.rfc4514_string()
    assert finding.message.startswith(
        f"the signature of the server's certificate does not verify with the key of its issuer, {intermediate}"
    )


def test_an_unparseable_leaf_leaves_no_certificate_facts(exhibits: dict[str, Exhibit], engine: CheckEngine) -> None:
    report = engine.check(parse_target(exhibits["unparseable-leaf"].target("unparseable-leaf")))

    (result,) = report.results
    assert result.leaf is None
    assert result.chain == ()
    assert report.days_left is None
    assert "cannot be parsed" in report.findings[0].message


def test_a_self_signed_certificate_passed_as_an_anchor_is_trusted(
    exhibits: dict[str, Exhibit], engine: CheckEngine
) -> None:
    exhibit = exhibits["self-signed"]
    request = CheckRequest(parse_target(exhibit.target("self-signed")), trust=TrustStore([exhibit.chain[0].cert]))

    (report,) = engine.check_many([request])

    assert report.findings == ()
    assert report.status is Status.OK


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (CheckPolicy(warn_days=10, critical_days=5), {}),
        (CheckPolicy(warn_days=30, critical_days=7), {FindingCode.EXPIRING_SOON: W}),
        (CheckPolicy(warn_days=60, critical_days=25), {FindingCode.EXPIRING_SOON: C}),
    ],
)
def test_each_request_is_judged_by_its_own_thresholds(
    policy: CheckPolicy, expected: dict[FindingCode, Severity], exhibits: dict[str, Exhibit], engine: CheckEngine
) -> None:
    # The certificate has 20 of its 30 days left.
    report = engine.check(parse_target(exhibits["expiring-warning"].target("expiring-warning")), policy)

    assert codes(report) == expected


def test_a_batch_reports_every_case_in_request_order(exhibits: dict[str, Exhibit], engine: CheckEngine) -> None:
    requests = [CheckRequest(parse_target(exhibit.target(case))) for case, exhibit in exhibits.items()]

    reports = list(engine.check_many(requests))

    assert [r.endpoint.host for r in reports] == [host(case) for case in exhibits]
    assert [codes(r) for r in reports] == [EXPECTED[case][0] for case in exhibits]


# CONNECTION_FAILED, one test per reason


def test_a_name_no_resolver_knows_fails_as_dns(engines: Engines) -> None:
    def lookup(host: str, *args: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    engine = engines.build(resolver=SystemResolver({"known.test": ["127.0.0.1"]}, lookup=lookup))

    report = engine.check(parse_target("tls://unknown.test:443"))

    finding = failure(report)
    assert finding.reason is FailureReason.DNS
    assert "unknown.test" in finding.message
    assert report.status is Status.ERROR
    (result,) = report.results
    assert result.address is None


def test_a_port_nobody_listens_on_fails_as_refused(engines: Engines) -> None:
    engine = engines.build()
    with closed_port() as port:
        report = engine.check(parse_target(f"tls://127.0.0.1:{port}"))

    assert failure(report).reason is FailureReason.REFUSED
    assert report.status is Status.ERROR
    assert report.results[0].address == "127.0.0.1"


def test_a_server_that_never_answers_fails_as_timeout(engines: Engines, servers: Servers) -> None:
    silent = servers.start(SilentServer())
    engine = engines.build(timeout=0.5)

    with stopwatch() as watch:
        report = engine.check(parse_target(silent.target()))

    finding = failure(report)
    assert finding.reason is FailureReason.TIMEOUT
    assert "0.5s" in finding.message
    assert 0.5 <= watch.elapsed < 0.5 + SLACK


@pytest.mark.parametrize(("server_class", "fragment"), [(AlertServer, "handshake failure"), (HangUpServer, "closed")])
def test_a_failed_tls_handshake_fails_as_tls(
    server_class: type[AlertServer | HangUpServer], fragment: str, engines: Engines, servers: Servers
) -> None:
    server = servers.start(server_class())

    report = engines.build().check(parse_target(server.target()))

    finding = failure(report)
    assert finding.reason is FailureReason.TLS
    assert fragment in finding.message


def test_a_server_that_speaks_no_tls_fails_as_protocol(engines: Engines, servers: Servers) -> None:
    server = servers.start(GarbageServer())

    report = engines.build().check(parse_target(server.target()))

    finding = failure(report)
    assert finding.reason is FailureReason.PROTOCOL
    assert "does not speak TLS" in finding.message


def test_building_an_engine_warns_about_nothing(pki: Pki) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        engine = CheckEngine(trust=pki.trust, resolver=SystemResolver())
    engine.close()
