"""The storage format of a check's report (chalicelib/adapters/dynamo/codec.py), apart from the API's rendering.

Reports are stored in a format of their own (2) and come back equal, every field; a record of
any other format is refused.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.dynamo import codec
from chalicelib.domain.alerts import AlertEvent, AlertSubject, EventType, Notification, Observation
from chalicelib.domain.models import Endpoint, PosturePolicy, Protocol, Severity, Status, TargetReport
from chalicelib.domain.targets import Target, TargetSpec
from chalicelib.errors import StoreError
from chalicelib.presentation.reports import report_to_dict
from tests.support import reports

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


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


# --- records by the domain's declarations ---------------------------------------------------------


def _target(spec: TargetSpec) -> Target:
    return Target("tg_0000000000aa1b2c3d4e", "web", spec, NOW, NOW, NOW)


def test_every_field_of_a_target_spec_is_stored_by_name_and_read_back() -> None:
    spec = TargetSpec(
        Endpoint("mail.example.com", 465, Protocol.SMTPS, sni="smtp.example.com"),
        labels={"env": "prod"},
        warn_days=21,
        critical_days=5,
        check_interval_minutes=60,
        ca_bundle="PEM",
        notes="n",
        owner="web-oncall",
        runbook_url="https://wiki.example.com/tls",
        alert_days=(10, 3),
        revocation=False,
        ari=False,
        posture=PosturePolicy(require_post_quantum=True, quantum_safe_signatures_by=date(2030, 1, 1), legacy_tls=True),
    )
    item = codec.target_item(_target(spec))

    assert {f.name for f in dataclasses.fields(TargetSpec)} - {"endpoint"} <= set(item)
    assert codec.target(codec.load(codec.dump(item))).spec == spec  # through DynamoDB's types (Decimal)


def test_a_record_written_before_a_field_existed_reads_with_the_fields_default() -> None:
    record = _stored(codec.report_record(reports.unreachable(NOW)))
    del record["results"][0]["findings"][0]["reason"]
    item = codec.target_item(_target(TargetSpec(Endpoint("a.example.com", 443), revocation=False, owner="web")))
    for name in ("revocation", "ari", "owner"):
        del item[name]

    assert codec.report(record).results[0].findings[0].reason is None
    assert codec.target(item).spec == TargetSpec(Endpoint("a.example.com", 443))
