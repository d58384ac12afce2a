from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.models import (
    CertificateInfo,
    CheckResult,
    Endpoint,
    FailureReason,
    Finding,
    FindingCode,
    Severity,
    Status,
    TargetReport,
    days_until,
    short_name,
    status_for,
    worst_status,
)

EXPIRING = Finding(FindingCode.EXPIRING_SOON, Severity.WARNING, "the certificate expires in 20 days")
EXPIRED = Finding(FindingCode.EXPIRED, Severity.CRITICAL, "the certificate expired")
DISAGREE = Finding(FindingCode.ADDRESSES_DISAGREE, Severity.INFO, "the addresses serve 2 different certificates")
REFUSED = Finding(FindingCode.CONNECTION_FAILED, Severity.CRITICAL, "connection refused", FailureReason.REFUSED)


def _info(not_after: datetime, *, fingerprint: str = "aa" * 32, lifetime_days: int = 90) -> CertificateInfo:
    return CertificateInfo(
        subject="CN=www.example.com",
        issuer="CN=Example CA,O=Example",
        serial="3e8",
        sans=("www.example.com",),
        ip_sans=(),
        key_type="EC-secp256r1",
        key_size=256,
        signature_algorithm="ecdsa-with-SHA256",
        fingerprint_sha256=fingerprint,
        not_before=not_after - timedelta(days=lifetime_days),
        not_after=not_after,
        is_ca=False,
        self_issued=False,
    )


def _result(
    now: datetime, address: str | None, *, days: float | None, findings: tuple[Finding, ...] = ()
) -> CheckResult:
    leaf = None if days is None else _info(now + timedelta(days=days), fingerprint=f"{address}".ljust(64, "0"))
    return CheckResult(address=address, status=status_for(findings), checked_at=now, findings=findings, leaf=leaf)


# --- days_until --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(days=2.5), 2),
        (timedelta(days=30), 30),
        (timedelta(days=1), 1),
        (timedelta(hours=23, minutes=59), 0),
        (timedelta(seconds=1), 0),
        (timedelta(0), 0),
        (timedelta(seconds=-1), -1),
        (timedelta(days=-0.5), -1),
        (timedelta(days=-1), -1),
        (timedelta(days=-1.5), -1),
        (timedelta(days=-2.0001), -2),
        (timedelta(days=-40, hours=-3), -40),
    ],
)
def test_days_until_counts_whole_days(now: datetime, delta: timedelta, expected: int) -> None:
    assert days_until(now + delta, now) == expected


# --- statuses ----------------------------------------------------------------------------------


def test_worst_status_orders_critical_over_error_over_warning_over_ok() -> None:
    assert worst_status([Status.OK, Status.WARNING]) is Status.WARNING
    assert worst_status([Status.WARNING, Status.ERROR, Status.OK]) is Status.ERROR
    assert worst_status([Status.ERROR, Status.CRITICAL, Status.WARNING]) is Status.CRITICAL
    assert worst_status((Status.CRITICAL, Status.ERROR)) is Status.CRITICAL
    assert worst_status([Status.OK]) is Status.OK
    assert worst_status([]) is Status.OK


@pytest.mark.parametrize(
    ("status", "code"),
    [(Status.OK, 0), (Status.WARNING, 1), (Status.CRITICAL, 2), (Status.ERROR, 3)],
)
def test_exit_codes_follow_the_monitoring_plugin_convention(status: Status, code: int) -> None:
    assert status.exit_code == code


def test_statuses_and_codes_serialize_as_their_names() -> None:
    assert f"{Status.CRITICAL}" == "critical"
    assert FindingCode.HOSTNAME_MISMATCH == "HOSTNAME_MISMATCH"
    assert Severity.WARNING.rank > Severity.INFO.rank


@pytest.mark.parametrize(
    ("findings", "status"),
    [
        ((), Status.OK),
        ((DISAGREE,), Status.OK),
        ((DISAGREE, EXPIRING), Status.WARNING),
        ((EXPIRING, EXPIRED), Status.CRITICAL),
        ((REFUSED,), Status.ERROR),
        ((EXPIRING, REFUSED), Status.ERROR),
    ],
)
def test_status_for_findings(findings: tuple[Finding, ...], status: Status) -> None:
    assert status_for(findings) is status
    assert status_for(list(findings)) is status


# --- check results and target reports ----------------------------------------------------------


def test_a_result_without_a_leaf_has_no_days_left(now: datetime) -> None:
    failed = _result(now, "192.0.2.1", days=None, findings=(REFUSED,))
    assert failed.days_left is None
    assert failed.not_after is None


def test_a_result_knows_its_days_left_and_expiry(now: datetime) -> None:
    result = _result(now, "192.0.2.1", days=12.5)
    assert result.days_left == 12
    assert result.not_after == now + timedelta(days=12.5)


def test_a_report_takes_the_worst_status_of_its_addresses(now: datetime) -> None:
    report = TargetReport(
        Endpoint("www.example.com", 443),
        (
            _result(now, "192.0.2.1", days=80),
            _result(now, "192.0.2.2", days=20, findings=(EXPIRING,)),
            _result(now, "192.0.2.3", days=None, findings=(REFUSED,)),
        ),
        now,
    )
    assert report.status is Status.ERROR
    healthy_and_warning = TargetReport(report.endpoint, report.results[:2], now)
    assert healthy_and_warning.status is Status.WARNING


def test_a_report_counts_its_own_findings_in_the_status(now: datetime) -> None:
    endpoint = Endpoint("www.example.com", 443)
    results = (_result(now, "192.0.2.1", days=80),)
    assert TargetReport(endpoint, results, now, target_findings=(DISAGREE,)).status is Status.OK
    assert TargetReport(endpoint, results, now, target_findings=(EXPIRED,)).status is Status.CRITICAL
    assert TargetReport(endpoint, (), now).status is Status.OK


def test_a_report_lists_each_finding_once_its_own_first(now: datetime) -> None:
    report = TargetReport(
        Endpoint("www.example.com", 443),
        (
            _result(now, "192.0.2.1", days=20, findings=(EXPIRING,)),
            _result(now, "192.0.2.2", days=20, findings=(EXPIRING, EXPIRED)),
        ),
        now,
        target_findings=(DISAGREE,),
    )
    assert report.findings == (DISAGREE, EXPIRING, EXPIRED)


def test_findings_that_differ_only_in_message_are_both_kept(now: datetime) -> None:
    other = Finding(FindingCode.EXPIRING_SOON, Severity.WARNING, "the certificate expires in 21 days")
    report = TargetReport(
        Endpoint("www.example.com", 443),
        (
            _result(now, "192.0.2.1", days=20, findings=(EXPIRING,)),
            _result(now, "192.0.2.2", days=21, findings=(other,)),
        ),
        now,
    )
    assert report.findings == (EXPIRING, other)


def test_the_soonest_address_decides_days_left(now: datetime) -> None:
    later = _result(now, "192.0.2.1", days=80)
    sooner = _result(now, "192.0.2.2", days=5.75)
    failed = _result(now, "192.0.2.3", days=None, findings=(REFUSED,))
    report = TargetReport(Endpoint("www.example.com", 443), (later, failed, sooner), now)
    assert report.soonest is sooner
    assert report.days_left == 5
    assert report.not_after == now + timedelta(days=5.75)


def test_a_report_where_nothing_was_read_has_no_soonest(now: datetime) -> None:
    failed = _result(now, None, days=None, findings=(REFUSED,))
    report = TargetReport(Endpoint("www.example.com", 443), (failed,), now)
    assert report.soonest is None
    assert report.days_left is None
    assert report.not_after is None


def test_an_expired_leaf_has_negative_days_left(now: datetime) -> None:
    report = TargetReport(Endpoint("www.example.com", 443), (_result(now, "192.0.2.1", days=-3.5),), now)
    assert report.days_left == -3


# --- certificates and names --------------------------------------------------------------------


def test_certificate_info_derives_lifetime_and_common_name() -> None:
    info = _info(datetime(2027, 1, 1, tzinfo=UTC), lifetime_days=397)
    assert info.lifetime == timedelta(days=397)
    assert info.common_name == "www.example.com"


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("CN=www.example.com", "www.example.com"),
        ("CN=R11,O=Let's Encrypt,C=US", "R11"),
        ("C=US,O=Example,CN=Example CA", "Example CA"),
        (
            "OU=Go Daddy Class 2 Certification Authority,O=The Go Daddy Group,C=US",
            "OU=Go Daddy Class 2 Certification Authority,O=The Go Daddy Group,C=US",
        ),
        ("", ""),
    ],
)
def test_short_name_is_the_common_name_or_the_whole_name(name: str, short: str) -> None:
    assert short_name(name) == short


def test_short_name_keeps_an_escaped_comma_in_the_common_name() -> None:
    assert short_name("CN=Example\\, Inc. Root CA,O=Example\\, Inc.,C=US") == "Example, Inc. Root CA"


# --- endpoints ---------------------------------------------------------------------------------


def test_an_endpoint_names_what_it_sends_and_checks() -> None:
    named = Endpoint("www.example.com", 443)
    assert (named.server_name, named.checked_name, str(named)) == (
        "www.example.com",
        "www.example.com",
        "https://www.example.com:443",
    )
    address = Endpoint("2001:db8::1", 8443, host_is_address=True)
    assert (address.server_name, address.checked_name, str(address)) == (
        None,
        "2001:db8::1",
        "https://[2001:db8::1]:8443",
    )
    pinned = Endpoint("192.0.2.1", 443, sni="api.example.com", host_is_address=True)
    assert (pinned.server_name, pinned.checked_name) == ("api.example.com", "api.example.com")
