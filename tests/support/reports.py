"""Check reports built by hand, for the tests of what stores, renders and alerts on them."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from chalicelib.domain.cadence import Cadence, Renewal
from chalicelib.domain.models import (
    CertificateInfo,
    CheckResult,
    Endpoint,
    FailureReason,
    Finding,
    FindingCode,
    Protocol,
    RenewalWindow,
    Revocation,
    Severity,
    Status,
    TargetReport,
)


def certificate(
    now: datetime, *, name: str = "www.example.com", days_left: int = 90, fingerprint: str = "ab" * 32
) -> CertificateInfo:
    """A leaf for ``name`` that expires ``days_left`` days (and an hour) after ``now``."""
    return CertificateInfo(
        subject=f"CN={name}",
        issuer="CN=Example Issuing CA,O=Example",
        serial="1f2e3d",
        sans=(name, f"alt.{name}"),
        ip_sans=("192.0.2.10",),
        key_type="EC",
        key_size=256,
        signature_algorithm="ecdsa-with-SHA256",
        fingerprint_sha256=fingerprint,
        not_before=(now - timedelta(days=30)).replace(microsecond=0),
        not_after=(now + timedelta(days=days_left, hours=1)).replace(microsecond=0),
        is_ca=False,
        self_issued=False,
    )


def intermediate(now: datetime) -> CertificateInfo:
    return CertificateInfo(
        subject="CN=Example Issuing CA,O=Example",
        issuer="CN=Example Root,O=Example",
        serial="02",
        sans=(),
        ip_sans=(),
        key_type="RSA",
        key_size=4096,
        signature_algorithm="sha384WithRSAEncryption",
        fingerprint_sha256="cd" * 32,
        not_before=(now - timedelta(days=900)).replace(microsecond=0),
        not_after=(now + timedelta(days=900)).replace(microsecond=0),
        is_ca=True,
        self_issued=False,
    )


def root(now: datetime) -> CertificateInfo:
    """The root the intermediate names as its issuer: a trust anchor."""
    return CertificateInfo(
        subject="CN=Example Root,O=Example",
        issuer="CN=Example Root,O=Example",
        serial="01",
        sans=(),
        ip_sans=(),
        key_type="RSA",
        key_size=4096,
        signature_algorithm="sha384WithRSAEncryption",
        fingerprint_sha256="12" * 32,
        not_before=(now - timedelta(days=3000)).replace(microsecond=0),
        not_after=(now + timedelta(days=3000)).replace(microsecond=0),
        is_ca=True,
        self_issued=True,
    )


def report(
    now: datetime, *, host: str = "www.example.com", days_left: int = 90, status: Status = Status.OK
) -> TargetReport:
    """One address serving a leaf and its intermediate, with ``status`` (a finding to match, unless ok)."""
    findings: tuple[Finding, ...] = ()
    if status is Status.WARNING:
        findings = (Finding(FindingCode.EXPIRING_SOON, Severity.WARNING, f"expires in {days_left} days"),)
    elif status is Status.CRITICAL:
        findings = (Finding(FindingCode.EXPIRING_SOON, Severity.CRITICAL, f"expires in {days_left} days"),)
    result = CheckResult(
        address="192.0.2.10",
        status=status,
        checked_at=now,
        findings=findings,
        leaf=certificate(now, name=host, days_left=days_left),
        chain=(intermediate(now),),
        trusted_by="CN=Example Root,O=Example",
        tls_version="TLSv1.3",
        cipher="TLS_AES_256_GCM_SHA384",
        elapsed_ms=12.5,
    )
    return TargetReport(Endpoint(host, 443), (result,), now)


def unreachable(now: datetime, *, host: str = "www.example.com") -> TargetReport:
    """A check that read no certificate: the connection was refused."""
    refused = Finding(FindingCode.CONNECTION_FAILED, Severity.CRITICAL, "connection refused", FailureReason.REFUSED)
    result = CheckResult("192.0.2.10", Status.ERROR, now, findings=(refused,), elapsed_ms=0.4)
    return TargetReport(Endpoint(host, 443), (result,), now)


def everything(now: datetime) -> TargetReport:
    """A report using every field: an SNI, two addresses disagreeing, one unreachable, times to the microsecond."""
    at = now.replace(microsecond=123456)
    served = report(at, host="mail.example.com", days_left=20, status=Status.WARNING).results[0]
    assert served.leaf is not None
    served = dataclasses.replace(
        served,
        verified_chain=(served.leaf, *served.chain, root(at)),
        group="X25519MLKEM768",
        legacy_tls=(),
        revocation=Revocation.GOOD,
        renewal_window=RenewalWindow(at + timedelta(days=2), at + timedelta(days=4), "https://ca.example/why"),
    )
    other = CheckResult(
        address="2001:db8::25",
        status=Status.OK,
        checked_at=at + timedelta(microseconds=5),
        leaf=certificate(at, name="mail.example.com", days_left=200, fingerprint="ef" * 32),
        tls_version="TLSv1.2",
        cipher="ECDHE-RSA-AES128-GCM-SHA256",
        group="secp256r1",
        elapsed_ms=3.0,
    )
    timeout = Finding(FindingCode.CONNECTION_FAILED, Severity.CRITICAL, "no answer within 10s", FailureReason.TIMEOUT)
    lost = CheckResult("192.0.2.26", Status.ERROR, at, findings=(timeout,), elapsed_ms=10000.0)
    disagree = Finding(FindingCode.ADDRESSES_DISAGREE, Severity.INFO, "the addresses serve 2 different certificates")
    endpoint = Endpoint("mail.example.com", 465, Protocol.SMTPS, sni="smtp.example.com")
    renewal = Renewal(at - timedelta(days=60, microseconds=1), 59, 61, 29)
    cadence = Cadence(certificates_seen=2, renewals=(renewal,), publicly_trusted=True)
    return TargetReport(
        endpoint, (served, other, lost), at + timedelta(milliseconds=7), target_findings=(disagree,), cadence=cadence
    )
