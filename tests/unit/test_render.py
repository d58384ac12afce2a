from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain.models import (
    CertificateInfo,
    CheckResult,
    Endpoint,
    FailureReason,
    Finding,
    FindingCode,
    Protocol,
    Severity,
    Status,
    TargetReport,
)
from chalicelib.presentation.reports import iso, report_to_dict, table

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
EXPIRING = Finding(FindingCode.EXPIRING_SOON, Severity.WARNING, "the certificate expires in 20 days")
MISMATCH = Finding(FindingCode.HOSTNAME_MISMATCH, Severity.CRITICAL, "www.example.com is not covered")
DISAGREE = Finding(FindingCode.ADDRESSES_DISAGREE, Severity.INFO, "the addresses serve 2 different certificates")
REFUSED = Finding(FindingCode.CONNECTION_FAILED, Severity.CRITICAL, "connection refused", FailureReason.REFUSED)


def _info(
    now: datetime, days: float, *, issuer: str = "CN=Example-CA,O=Example", is_ca: bool = False
) -> CertificateInfo:
    return CertificateInfo(
        subject="CN=www.example.com",
        issuer=issuer,
        serial="3e8",
        sans=("www.example.com",),
        ip_sans=("192.0.2.1",),
        key_type="EC-secp256r1",
        key_size=256,
        signature_algorithm="ecdsa-with-SHA256",
        fingerprint_sha256="ab" * 32,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=days),
        is_ca=is_ca,
        self_issued=False,
    )


def _ok(now: datetime, address: str, days: float = 80) -> CheckResult:
    return CheckResult(
        address=address,
        status=Status.OK,
        checked_at=now,
        leaf=_info(now, days),
        chain=(_info(now, 1000, issuer="CN=Example-Root", is_ca=True),),
        trusted_by="CN=Example-Root",
        tls_version="TLSv1.3",
        cipher="TLS_AES_128_GCM_SHA256",
        elapsed_ms=12.5,
    )


def _warned(now: datetime, address: str) -> CheckResult:
    return CheckResult(
        address=address, status=Status.WARNING, checked_at=now, findings=(EXPIRING,), leaf=_info(now, 20.5)
    )


def _failed(now: datetime, address: str | None) -> CheckResult:
    return CheckResult(address=address, status=Status.ERROR, checked_at=now, findings=(REFUSED,), elapsed_ms=3.0)


@pytest.fixture
def reports(now: datetime) -> list[TargetReport]:
    web = TargetReport(
        Endpoint("www.example.com", 443),
        (_ok(now, "192.0.2.1"), _warned(now, "2001:db8::1")),
        now,
        target_findings=(DISAGREE,),
    )
    mail = TargetReport(Endpoint("mail.example.com", 25, Protocol.SMTP), (_failed(now, "192.0.2.25"),), now)
    return [web, mail]


# --- JSON documents ----------------------------------------------------------------------------


def test_iso_writes_utc_with_a_z(now: datetime) -> None:
    assert iso(now) == "2026-11-27T12:00:00Z"
    assert iso(None) is None


def test_iso_converts_an_aware_time_to_utc() -> None:
    assert iso(datetime(2026, 11, 27, 14, 0, tzinfo=timezone(timedelta(hours=2)))) == "2026-11-27T12:00:00Z"


def test_a_report_document_has_the_target_and_its_verdict(reports: list[TargetReport], now: datetime) -> None:
    data = report_to_dict(reports[0])
    assert set(data) == {
        "target",
        "host",
        "port",
        "protocol",
        "sni",
        "status",
        "days_left",
        "not_after",
        "findings",
        "results",
        "checked_at",
    }
    assert data["target"] == "https://www.example.com:443"
    assert (data["host"], data["port"], data["protocol"], data["sni"]) == (
        "www.example.com",
        443,
        "https",
        "www.example.com",
    )
    assert data["status"] == "warning"
    assert data["days_left"] == 20
    assert data["not_after"] == "2026-12-18T00:00:00Z"
    assert data["checked_at"] == "2026-11-27T12:00:00Z"
    assert data["findings"] == [
        {"code": "ADDRESSES_DISAGREE", "severity": "info", "message": DISAGREE.message},
        {"code": "EXPIRING_SOON", "severity": "warning", "message": EXPIRING.message},
    ]
    assert [r["address"] for r in data["results"]] == ["192.0.2.1", "2001:db8::1"]


def test_a_result_document_has_the_leaf_chain_and_handshake(reports: list[TargetReport]) -> None:
    result = report_to_dict(reports[0])["results"][0]
    assert set(result) == {
        "address",
        "status",
        "days_left",
        "not_after",
        "findings",
        "leaf",
        "chain",
        "trusted_by",
        "publicly_trusted",
        "tls_version",
        "cipher",
        "checked_at",
        "group",
        "key_exchange",
        "elapsed_ms",
        "legacy_tls",
    }
    assert (result["status"], result["days_left"], result["findings"]) == ("ok", 80, [])
    assert (result["trusted_by"], result["tls_version"], result["elapsed_ms"]) == ("CN=Example-Root", "TLSv1.3", 12.5)
    leaf = result["leaf"]
    assert leaf == {
        "subject": "CN=www.example.com",
        "issuer": "CN=Example-CA,O=Example",
        "serial": "3e8",
        "sans": ["www.example.com"],
        "ip_sans": ["192.0.2.1"],
        "key_type": "EC-secp256r1",
        "key_size": 256,
        "signature_algorithm": "ecdsa-with-SHA256",
        "fingerprint_sha256": "ab" * 32,
        "not_before": "2026-11-26T12:00:00Z",
        "not_after": "2027-02-15T12:00:00Z",
        "is_ca": False,
        "algorithms": {
            "key": {
                "name": "ECDSA-P256",
                "primitive": "signature",
                "parameter_set": "P-256",
                "curve": "secp256r1",
                "oid": "1.2.840.10045.2.1",
                "nist_quantum_level": 0,
            },
            "signature": {
                "name": "ecdsa-with-SHA256",
                "primitive": "signature",
                "parameter_set": None,
                "curve": None,
                "oid": "1.2.840.10045.4.3.2",
                "nist_quantum_level": 0,
            },
            "hash": {
                "name": "SHA-256",
                "primitive": "hash",
                "parameter_set": "256",
                "curve": None,
                "oid": "2.16.840.1.101.3.4.2.1",
                "nist_quantum_level": 2,
            },
        },
    }
    assert [c["is_ca"] for c in result["chain"]] == [True]


def test_a_failed_result_carries_its_reason_and_no_leaf(reports: list[TargetReport]) -> None:
    data = report_to_dict(reports[1])
    assert data["target"] == "smtp://mail.example.com:25"
    assert data["status"] == "error"
    assert (data["days_left"], data["not_after"]) == (None, None)
    result = data["results"][0]
    assert (result["leaf"], result["chain"], result["days_left"], result["not_after"]) == (None, [], None, None)
    assert result["findings"] == [
        {"code": "CONNECTION_FAILED", "severity": "critical", "message": "connection refused", "reason": "refused"}
    ]


def test_an_address_target_sends_no_sni(now: datetime) -> None:
    report = TargetReport(Endpoint("2001:db8::1", 8443, host_is_address=True), (_ok(now, "2001:db8::1"),), now)
    data = report_to_dict(report)
    assert data["target"] == "https://[2001:db8::1]:8443"
    assert data["sni"] is None


def test_every_timestamp_is_iso_utc_with_a_z(reports: list[TargetReport]) -> None:
    def timestamps(node: object, key: str = "") -> list[str]:
        if isinstance(node, dict):
            return [t for k, v in node.items() for t in timestamps(v, k)]
        if isinstance(node, list):
            return [t for item in node for t in timestamps(item, key)]
        return [node] if key in {"checked_at", "not_after", "not_before"} and isinstance(node, str) else []

    found = [t for report in reports for t in timestamps(report_to_dict(report))]
    assert len(found) >= 10
    assert all(ISO_Z.match(t) for t in found), found


def test_report_documents_serialize_to_json_and_back(reports: list[TargetReport]) -> None:
    documents = [report_to_dict(r) for r in reports]
    assert json.loads(json.dumps(documents)) == documents


# --- the CLI table -----------------------------------------------------------------------------


def _rows(text: str) -> list[list[str]]:
    body = text.split("\n\n", 1)[0]
    return [line.split() for line in body.splitlines()]


def test_the_table_has_a_header_and_one_row_per_target_and_address(reports: list[TargetReport]) -> None:
    rows = _rows(table(reports))
    assert rows[0] == ["HOST", "PORT", "ADDRESS", "DAYS", "EXPIRES", "ISSUER", "STATUS", "FINDINGS"]
    assert [row[:3] for row in rows[1:]] == [
        ["www.example.com", "443", "192.0.2.1"],
        ["www.example.com", "443", "2001:db8::1"],
        ["mail.example.com", "25", "192.0.2.25"],
    ]


def test_each_row_shows_days_expiry_issuer_status_and_finding_codes(reports: list[TargetReport]) -> None:
    rows = _rows(table(reports))
    assert rows[1][3:] == ["80", "2027-02-15", "Example-CA", "ok", "ADDRESSES_DISAGREE"]
    assert rows[2][3:] == ["20", "2026-12-18", "Example-CA", "warning", "EXPIRING_SOON"]
    assert rows[3][3:] == ["-", "-", "-", "error", "CONNECTION_FAILED"]


def test_the_columns_line_up(reports: list[TargetReport]) -> None:
    lines = table(reports).split("\n\n", 1)[0].splitlines()
    status_column = lines[0].index("STATUS")
    assert [line[status_column:].split()[0] for line in lines[1:]] == ["ok", "warning", "error"]


def test_the_messages_are_listed_below_the_table(reports: list[TargetReport]) -> None:
    text = table(reports)
    assert "\n\n" in text
    details = text.split("\n\n", 1)[1].splitlines()
    assert details == [
        "https://www.example.com:443 (192.0.2.1)",
        f"  info     ADDRESSES_DISAGREE: {DISAGREE.message}",
        "https://www.example.com:443 (2001:db8::1)",
        f"  warning  EXPIRING_SOON: {EXPIRING.message}",
        "smtp://mail.example.com:25 (192.0.2.25)",
        "  critical CONNECTION_FAILED: connection refused",
    ]


def test_several_findings_share_the_codes_column(now: datetime) -> None:
    result = CheckResult(
        address="192.0.2.1", status=Status.CRITICAL, checked_at=now, findings=(MISMATCH, EXPIRING), leaf=_info(now, 20)
    )
    rows = _rows(table([TargetReport(Endpoint("www.example.com", 443), (result,), now)]))
    assert rows[1][-1] == "HOSTNAME_MISMATCH,EXPIRING_SOON"


def test_a_healthy_table_has_no_details(now: datetime) -> None:
    text = table([TargetReport(Endpoint("www.example.com", 443), (_ok(now, "192.0.2.1"),), now)])
    assert "\n\n" not in text
    assert len(text.splitlines()) == 2
    assert text.splitlines()[1].split()[-1] == "-"


def test_a_failure_without_an_address_shows_a_dash(now: datetime) -> None:
    report = TargetReport(Endpoint("nowhere.example.com", 443), (_failed(now, None),), now)
    text = table([report])
    assert _rows(text)[1][:3] == ["nowhere.example.com", "443", "-"]
    assert "https://nowhere.example.com:443\n" in text


def test_an_empty_table_is_just_the_header() -> None:
    assert table([]).split() == ["HOST", "PORT", "ADDRESS", "DAYS", "EXPIRES", "ISSUER", "STATUS", "FINDINGS"]
