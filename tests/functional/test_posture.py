"""An address's crypto posture through the engine, against real loopback servers: the key exchange group
each server negotiates and its class, what the posture policy says of it, and the legacy protocol probe.

pyOpenSSL on the OpenSSL cryptography bundles negotiates X25519MLKEM768; Debian's ``openssl
s_server`` (OpenSSL 3.0) and Python's ssl negotiate x25519 (classical).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from OpenSSL import SSL

from chalicelib.checks.engine import CheckEngine, CheckRequest
from chalicelib.checks.tlsprobe import LegacyProbe
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.models import (
    CheckPolicy,
    CheckResult,
    Endpoint,
    FailureReason,
    FindingCode,
    PosturePolicy,
    Severity,
    Status,
    TargetReport,
)
from chalicelib.domain.posture import KeyExchange, key_exchange
from chalicelib.errors import ProbeError
from lab.certs import Issued, make_cert
from lab.servers import BundledTlsServer, SilentServer, SServer, TlsServer
from tests.functional.helpers import Engines, Servers, codes
from tests.support.pki import Pki

NAME = "posture.test"
REQUIRED = CheckPolicy(posture=PosturePolicy(require_post_quantum=True))
NOTED = CheckPolicy(posture=PosturePolicy(note_classical=True))
LEGACY = CheckPolicy(posture=PosturePolicy(legacy_tls=True))
MODERN = (SSL.TLS1_2_VERSION, 0)


@pytest.fixture(scope="module")
def leaf(pki: Pki) -> Issued:
    return make_cert(NAME, sans=[NAME], issuer=pki.intermediate)


@pytest.fixture(scope="module")
def hybrid(leaf: Issued, pki: Pki, servers: Servers) -> BundledTlsServer:
    """Negotiates X25519MLKEM768; TLS 1.2 and 1.3 only."""
    return servers.start(BundledTlsServer([leaf, pki.intermediate], versions=MODERN))


@pytest.fixture(scope="module")
def s_server(leaf: Issued, pki: Pki) -> Iterator[SServer]:
    assert shutil.which("openssl"), "the s_server tests need Debian's openssl: apt-get install -y openssl"
    with SServer([leaf, pki.intermediate]) as server:
        yield server


@pytest.fixture(scope="module")
def legacy(leaf: Issued, pki: Pki, servers: Servers) -> BundledTlsServer:
    """Still accepts TLS 1.0 and 1.1 (at security level 0), and negotiates TLS 1.3 with a modern client."""
    return servers.start(BundledTlsServer([leaf, pki.intermediate], versions=(SSL.TLS1_VERSION, 0)))


@dataclass(frozen=True)
class Checked:
    report: TargetReport

    @property
    def result(self) -> CheckResult:
        (only,) = self.report.results
        return only


def _check(
    engine: CheckEngine, server: BundledTlsServer | SServer | TlsServer | SilentServer, policy: CheckPolicy
) -> Checked:
    endpoint = parse_target(server.target(), sni=NAME)
    return Checked(next(engine.check_many([CheckRequest(endpoint, policy)])))


def test_a_bundled_openssl_server_is_named_hybrid_post_quantum(hybrid: BundledTlsServer, engines: Engines) -> None:
    checked = _check(engines.build(), hybrid, REQUIRED)

    assert checked.result.group == "X25519MLKEM768"
    assert key_exchange(checked.result.group) is KeyExchange.HYBRID_POST_QUANTUM
    assert checked.result.tls_version == "TLSv1.3"
    assert codes(checked.report) == {}, "post-quantum required and negotiated: nothing to say"
    assert checked.result.legacy_tls is None, "the legacy probe is off by default"


def test_debians_s_server_is_classical(s_server: SServer, engines: Engines) -> None:
    engine = engines.build()

    default, noted, required = (_check(engine, s_server, policy) for policy in (CheckPolicy(), NOTED, REQUIRED))

    assert default.result.group == "x25519"
    assert key_exchange(default.result.group) is KeyExchange.CLASSICAL
    assert codes(default.report) == {}, "by default the class is said, with no finding"
    assert (default.report.status, noted.report.status) == (Status.OK, Status.OK)
    assert codes(noted.report) == {FindingCode.NO_POST_QUANTUM_KEY_EXCHANGE: Severity.INFO}
    assert codes(required.report) == {FindingCode.NO_POST_QUANTUM_KEY_EXCHANGE: Severity.WARNING}
    assert required.report.status is Status.WARNING
    (finding,) = required.report.findings
    assert "x25519, a classical key exchange" in finding.message
    assert "the policy requires one" in finding.message


def test_pythons_ssl_on_the_platform_openssl_is_classical_too(
    leaf: Issued, pki: Pki, servers: Servers, engines: Engines
) -> None:
    server = servers.start(TlsServer([leaf, pki.intermediate]))

    checked = _check(engines.build(), server, REQUIRED)

    assert (checked.result.group, checked.report.status) == ("x25519", Status.WARNING)


def test_a_failed_handshake_has_no_posture_finding(pki: Pki, servers: Servers, engines: Engines) -> None:
    silent = servers.start(SilentServer())

    checked = _check(engines.build(timeout=0.5), silent, REQUIRED)

    assert list(codes(checked.report)) == [FindingCode.CONNECTION_FAILED]
    assert checked.result.group is None


def test_a_server_accepting_tls1_is_found_by_the_legacy_probe(legacy: BundledTlsServer, engines: Engines) -> None:
    checked = _check(engines.build(), legacy, LEGACY)

    assert checked.result.legacy_tls == ("TLSv1", "TLSv1.1")
    assert codes(checked.report) == {FindingCode.LEGACY_TLS_ACCEPTED: Severity.WARNING}
    assert checked.report.status is Status.WARNING
    assert "TLS 1.0 and TLS 1.1" in checked.report.findings[0].message
    assert checked.result.tls_version == "TLSv1.3", "the check's own handshake is the modern one"


def test_without_the_probe_a_legacy_server_says_nothing_of_it(legacy: BundledTlsServer, engines: Engines) -> None:
    checked = _check(engines.build(), legacy, CheckPolicy())

    assert checked.result.legacy_tls is None
    assert codes(checked.report) == {}


def test_the_engines_setting_probes_every_address(legacy: BundledTlsServer, engines: Engines) -> None:
    checked = _check(engines.build(legacy_tls=True), legacy, CheckPolicy())

    assert checked.result.legacy_tls == ("TLSv1", "TLSv1.1")
    assert FindingCode.LEGACY_TLS_ACCEPTED in codes(checked.report)


def test_a_server_refusing_legacy_versions_is_said_to_refuse_them(
    hybrid: BundledTlsServer, s_server: SServer, engines: Engines
) -> None:
    engine = engines.build(legacy_tls=True)

    for server in (hybrid, s_server):
        checked = _check(engine, server, CheckPolicy())
        assert checked.result.legacy_tls == ()
        assert FindingCode.LEGACY_TLS_ACCEPTED not in codes(checked.report)


def test_s_server_told_to_serve_tls1_is_found_accepting_it(leaf: Issued, pki: Pki, engines: Engines) -> None:
    with SServer([leaf, pki.intermediate], None, "-tls1", "-cipher", "ALL:@SECLEVEL=0") as server:
        checked = _check(engines.build(), server, LEGACY)

    assert checked.result.tls_version == "TLSv1"
    assert checked.result.legacy_tls == ("TLSv1",)
    assert codes(checked.report)[FindingCode.LEGACY_TLS_ACCEPTED] is Severity.WARNING


class _BrokenProbe(LegacyProbe):
    def accepts(self, endpoint: Endpoint, address: str, version: str, *, timeout: float | None = None) -> bool:
        raise RuntimeError("a bug in the probe")


def test_a_legacy_probe_that_fails_never_fails_the_check(hybrid: BundledTlsServer, engines: Engines) -> None:
    checked = _check(engines.build(legacy_probe=_BrokenProbe()), hybrid, LEGACY)

    assert checked.result.legacy_tls is None
    assert (checked.report.status, codes(checked.report)) == (Status.OK, {})
    assert checked.result.group == "X25519MLKEM768"


class _SilentProbe(LegacyProbe):
    def accepts(self, endpoint: Endpoint, address: str, version: str, *, timeout: float | None = None) -> bool:
        raise ProbeError(FailureReason.TIMEOUT, f"no answer within {timeout}s (TLS handshake)")


def test_a_legacy_probe_that_no_answer_tells_says_nothing(hybrid: BundledTlsServer, engines: Engines) -> None:
    checked = _check(engines.build(legacy_probe=_SilentProbe()), hybrid, LEGACY)

    assert checked.result.legacy_tls is None
    assert (checked.report.status, codes(checked.report)) == (Status.OK, {})
