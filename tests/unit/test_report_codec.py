"""The storage format of a check's report (chalicelib/adapters/dynamo/codec.py), apart from the API's rendering.

Reports are stored in a format of their own (2) and come back equal, every field. Items written
before that format existed hold the API's JSON document of the check (format 1): they are read
as the report that renders as that very document again, so nothing needs migrating.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.dynamo import codec
from chalicelib.domain.alerts import AlertEvent, AlertSubject, EventType, Notification, Observation
from chalicelib.domain.models import Endpoint, FindingCode, Protocol, Severity, Status, TargetReport
from chalicelib.errors import StoreError
from chalicelib.presentation.reports import report_to_dict
from tests.support import reports

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

# What certwatch stored for a check before reports had a format of their own: the API's document.
FORMAT_1 = {
    "target": "smtps://mail.example.com:465",
    "host": "mail.example.com",
    "port": 465,
    "protocol": "smtps",
    "sni": "smtp.example.com",
    "status": "error",
    "days_left": 20,
    "not_after": "2026-12-17T13:00:00Z",
    "findings": [
        {"code": "ADDRESSES_DISAGREE", "severity": "info", "message": "the addresses serve 2 different certificates"},
        {"code": "EXPIRING_SOON", "severity": "warning", "message": "expires in 20 days"},
        {"code": "CONNECTION_FAILED", "severity": "critical", "message": "connection refused", "reason": "refused"},
    ],
    "results": [
        {
            "address": "192.0.2.10",
            "status": "warning",
            "days_left": 20,
            "not_after": "2026-12-17T13:00:00Z",
            "findings": [{"code": "EXPIRING_SOON", "severity": "warning", "message": "expires in 20 days"}],
            "leaf": {
                "subject": "CN=mail.example.com",
                "issuer": "CN=Example Issuing CA,O=Example",
                "serial": "1f2e3d",
                "sans": ["mail.example.com", "alt.mail.example.com"],
                "ip_sans": ["192.0.2.10"],
                "key_type": "EC",
                "key_size": 256,
                "signature_algorithm": "ecdsa-with-SHA256",
                "fingerprint_sha256": "ab" * 32,
                "not_before": "2026-10-28T12:00:00Z",
                "not_after": "2026-12-17T13:00:00Z",
                "is_ca": False,
            },
            "chain": [],
            "trusted_by": "CN=Example Root,O=Example",
            "publicly_trusted": True,
            "tls_version": "TLSv1.3",
            "cipher": "TLS_AES_256_GCM_SHA384",
            "checked_at": "2026-11-27T12:00:00Z",
            "elapsed_ms": 12.5,
        },
        {
            "address": "192.0.2.26",
            "status": "error",
            "days_left": None,
            "not_after": None,
            "findings": [
                {
                    "code": "CONNECTION_FAILED",
                    "severity": "critical",
                    "message": "connection refused",
                    "reason": "refused",
                }
            ],
            "leaf": None,
            "chain": [],
            "trusted_by": None,
            "publicly_trusted": False,
            "tls_version": None,
            "cipher": None,
            "checked_at": "2026-11-27T12:00:01Z",
            "elapsed_ms": 0.4,
        },
    ],
    "checked_at": "2026-11-27T12:00:02Z",
    "cadence": {
        "certificates_seen": 3,
        "renewals": [
            {"at": "2026-06-01T08:00:00Z", "days_since_previous_change": 60, "age_days": 60, "days_left": 30},
            {"at": "2026-10-28T12:00:00Z", "days_since_previous_change": 149, "age_days": 149, "days_left": 1},
        ],
        "renewed_at_age_days": 149,
        "least_days_left": 1,
        "publicly_trusted": True,
        "ready_for_100_days": False,
        "ready_for_47_days": False,
        "next_step": {"since": "2027-03-15", "max_days": 100, "ready": False},
    },
}


def _stored(record: dict[str, Any]) -> dict[str, Any]:
    """A record as it comes back from the table: through JSON text."""
    loaded: dict[str, Any] = json.loads(codec.compact_json(record))
    return loaded


def _with_address_host(report: TargetReport, sni: str | None) -> TargetReport:
    return dataclasses.replace(report, endpoint=Endpoint("192.0.2.10", 8443, sni=sni, host_is_address=True))


def _close_to_a_day(report: TargetReport) -> TargetReport:
    """Checked half a second before the leaf had exactly 30 days left: 29 days, by a hair."""
    result = report.results[0]
    assert result.leaf is not None
    checked_at = result.leaf.not_after - timedelta(days=30) + timedelta(microseconds=500_000)
    return dataclasses.replace(report, results=(dataclasses.replace(result, checked_at=checked_at),))


CASES = {
    "every field": reports.everything(NOW),
    "ok": reports.report(NOW),
    "critical": reports.report(NOW, days_left=3, status=Status.CRITICAL),
    "unreachable": reports.unreachable(NOW),
    "address, no SNI": _with_address_host(reports.report(NOW), None),
    "address with SNI": _with_address_host(reports.report(NOW), "www.example.com"),
    "SNI the host itself": dataclasses.replace(
        reports.report(NOW), endpoint=Endpoint("www.example.com", 443, Protocol.HTTPS, sni="www.example.com")
    ),
    "a hair from a day": _close_to_a_day(reports.report(NOW.replace(microsecond=250_000))),
}


@pytest.mark.parametrize("report", CASES.values(), ids=CASES.keys())
def test_a_report_comes_back_equal_every_field(report: TargetReport) -> None:
    record = _stored(codec.report_record(report))

    assert record["format"] == codec.REPORT_FORMAT
    assert codec.report(record) == report


@pytest.mark.parametrize("report", CASES.values(), ids=CASES.keys())
def test_an_api_document_stored_before_the_format_renders_as_the_same_document_again(report: TargetReport) -> None:
    document = json.loads(json.dumps(report_to_dict(report)))  # what checking.py stored until now

    assert report_to_dict(codec.report(document)) == document


def test_a_format_1_document_reads_as_its_report() -> None:
    report = codec.report(json.loads(json.dumps(FORMAT_1)))

    assert report.endpoint == Endpoint("mail.example.com", 465, Protocol.SMTPS, sni="smtp.example.com")
    assert [f.code for f in report.target_findings] == [FindingCode.ADDRESSES_DISAGREE]  # in no result's findings
    assert [r.address for r in report.results] == ["192.0.2.10", "192.0.2.26"]
    assert report.results[0].leaf is not None
    assert report.results[0].leaf.not_after == datetime(2026, 12, 17, 13, 0, tzinfo=UTC)
    assert report.results[0].leaf.self_issued is False
    assert report.checked_at == datetime(2026, 11, 27, 12, 0, 2, tzinfo=UTC)
    assert (report.status, report.days_left) == (Status.ERROR, 20)
    assert report.cadence is not None
    assert report.cadence.renewed_at_age_days == 149
    assert report_to_dict(report) == FORMAT_1


def test_a_format_1_document_from_before_revocation_and_cadence_reads_without_them() -> None:
    older = {name: value for name, value in FORMAT_1.items() if name != "cadence"}
    results: list[dict[str, Any]] = FORMAT_1["results"]  # type: ignore[assignment]
    older["results"] = [{k: v for k, v in r.items() if k != "publicly_trusted"} for r in results]

    report = codec.report(json.loads(json.dumps(older)))

    assert report.cadence is None
    assert [r.publicly_trusted for r in report.results] == [False, False]
    assert "cadence" not in report_to_dict(report)


def test_a_format_1_time_is_read_within_its_second_so_days_left_stays_what_was_shown() -> None:
    report = _close_to_a_day(reports.report(NOW))
    document = report_to_dict(report)
    assert document["results"][0]["days_left"] == 29  # at the second it shows (.000), 30 days were left

    (result,) = codec.report(json.loads(json.dumps(document))).results

    assert result.days_left == 29
    assert abs(result.checked_at - report.results[0].checked_at) < timedelta(seconds=1)


def test_a_format_this_code_does_not_know_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="format 3"):
        codec.report({"format": 3})


def test_the_stored_format_is_not_the_api_document() -> None:
    report = reports.everything(NOW)
    record = codec.report_record(report)

    assert set(record) == {"format", "endpoint", "checked_at", "target_findings", "results", "cadence"}
    assert record["checked_at"] == "2026-11-27T12:00:00.130456Z"  # to the microsecond
    assert set(record) & set(report_to_dict(report)) == {"checked_at", "results", "cadence"}
    # The cadence as observed, not what the API derives from it for the day it renders.
    assert set(record["cadence"]) == {"certificates_seen", "renewals", "publicly_trusted"}


# --- the outbox's notifications -------------------------------------------------------------------


def test_a_notification_recorded_before_subjects_named_owner_runbook_and_notes_reads_without_them() -> None:
    report = reports.report(NOW, days_left=5, status=Status.CRITICAL)
    subject = AlertSubject("tg_0000000000aa1b2c3d4e", "web", endpoint=report.endpoint, owner="web", notes="n")
    event = AlertEvent("tg_0000000000aa1b2c3d4e:x:expiring:7", EventType.EXPIRING, Severity.CRITICAL, "soon", 7)
    note = Notification.of(event, subject, Observation.of(report), NOW)
    record = json.loads(json.dumps(codec.notification_record(note)))
    assert codec.notification(record) == note

    for name in ("owner", "runbook_url", "notes"):
        del record["subject"][name]

    unowned = dataclasses.replace(subject, owner=None, notes=None)
    assert codec.notification(record) == dataclasses.replace(note, subject=unowned)
