"""Presenting the API's documents: targets and their pages, bulk outcomes, errors, the inventory.

Every JSON document the API answers is built as its declared shape (``shapes.py``), most of them
copied by name from the domain object they show (``copy_as``), and turned into JSON by
``to_json``: a renderer cannot write a field the OpenAPI document does not declare.
A check's own document and tables (``certwatch check``, a target's ``result``) are in
``reports.py``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.alerts import RecordedEvent
from chalicelib.domain.cadence import Readiness
from chalicelib.domain.domains import DOMAIN_OUTCOMES, DomainOutcome, WatchedDomain
from chalicelib.domain.inventory import DiscoveredEndpoint, InventoryRow
from chalicelib.domain.models import TargetReport, short_name
from chalicelib.domain.silences import MaintenanceWindow, Silence
from chalicelib.domain.targets import BULK_OUTCOMES, BulkOutcome, Page, Target
from chalicelib.domain.teams import TeamSettings
from chalicelib.domain.tokens import redacted
from chalicelib.presentation import shapes
from chalicelib.presentation.reports import columns, report_to_dict
from chalicelib.presentation.schema import ABSENT, copy_as, iso, to_json


def _readiness(readiness: Readiness) -> shapes.Readiness:
    step = readiness.next_step
    return shapes.Readiness(
        endpoints_with_cadence=readiness.known,
        endpoints_without_renewal_seen=readiness.unknown,
        ready_for_100_days=readiness.ready[100],
        ready_for_47_days=readiness.ready[47],
        next_step=None if step is None else shapes.NextStep(f"{step.since:%Y-%m-%d}", step.max_days),
        not_ready_for_next_step=tuple(readiness.at_risk),
    )


def readiness_text(readiness: Readiness) -> str:
    """The readiness summary in a few lines, for the CLI."""
    ready = ", ".join(f"{count} ready for {days} days" for days, count in readiness.ready.items())
    lines = [
        f"renewal readiness: {readiness.known} public endpoints with a renewal seen ({ready}); "
        f"{readiness.unknown} without a renewal seen yet"
    ]
    step = readiness.next_step
    if step is not None and readiness.at_risk:
        names = ", ".join(readiness.at_risk)
        lines.append(f"not ready for {step.max_days}-day certificates (from {step.since:%Y-%m-%d}): {names}")
    return "\n".join(lines)


def silence_to_dict(silence: Silence, now: datetime) -> dict[str, Any]:
    return dict(to_json(_silence(silence, now)))


def silence_page_to_dict(silences: Sequence[Silence], now: datetime, *, max_days: int) -> dict[str, Any]:
    items = tuple(_silence(s, now) for s in silences)
    return dict(to_json(shapes.SilencePage(items=items, max_days=max_days)))


def _silence(silence: Silence, now: datetime) -> shapes.Silence:
    return copy_as(shapes.Silence, silence, active=silence.active(now))


def window_to_dict(window: MaintenanceWindow, now: datetime) -> dict[str, Any]:
    return dict(to_json(_window(window, now)))


def window_page_to_dict(windows: Sequence[MaintenanceWindow], now: datetime) -> dict[str, Any]:
    return dict(to_json(shapes.MaintenancePage(items=tuple(_window(w, now) for w in windows))))


def _window(window: MaintenanceWindow, now: datetime) -> shapes.MaintenanceWindow:
    return copy_as(shapes.MaintenanceWindow, window, active=window.active(now))


def event_page_to_dict(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    """A team's recorded events (``GET /events``)."""
    items = tuple(
        shapes.RecordedEvent(
            id=r.notification.key,
            type=r.notification.event.type,
            severity=r.notification.event.severity,
            summary=r.notification.event.summary,
            team=r.notification.team,
            target_id=r.notification.target_id,
            endpoints=tuple(h.id for h in r.notification.event.holders),
            created_at=r.notification.created_at,
            state=r.state,
            silenced_by=r.notification.silenced_by,
        )
        for r in events
    )
    return dict(to_json(shapes.EventPage(items=items)))


def team_settings_to_dict(settings: TeamSettings) -> dict[str, Any]:
    """A team's settings as the API shows them."""
    return dict(to_json(copy_as(shapes.TeamSettings, settings)))


def target_to_dict(target: Target) -> dict[str, Any]:
    """A registered target as the API shows it, with its latest result summary."""
    return dict(to_json(copy_as(shapes.Target, target)))


def target_page_to_dict(page: Page) -> dict[str, Any]:
    items = tuple(copy_as(shapes.Target, t) for t in page.items)
    return dict(to_json(shapes.TargetPage(items=items, next_cursor=page.cursor)))


def checked_target_to_dict(target: Target, report: TargetReport | None) -> dict[str, Any]:
    """A target with the full report of its latest check (None before the first)."""
    result = None if report is None else report_to_dict(report)
    return dict(to_json(copy_as(shapes.TargetWithResult, target, result=result)))


def bulk_outcomes_to_dict(outcomes: Sequence[BulkOutcome]) -> dict[str, Any]:
    """The answer of a bulk import: one result per row, and how many rows had each outcome."""
    counts = {kind: sum(o.outcome == kind for o in outcomes) for kind in BULK_OUTCOMES}
    results = tuple(copy_as(shapes.BulkRowOutcome, o, error=_outcome_error(o)) for o in outcomes)
    return dict(to_json(shapes.BulkOutcomes(results=results, **counts)))


def _outcome_error(outcome: BulkOutcome) -> shapes.ErrorDetail:
    if outcome.reason is None:
        absent: shapes.ErrorDetail = ABSENT
        return absent
    return _error_detail(outcome.error_code or "invalid_field", outcome.reason)


def error_to_dict(
    code: str, message: str, *, field: str | None = None, existing_id: str | None = None
) -> dict[str, Any]:
    """Every error answer's body: ``{"error": {"code": ..., "message": ...}}``, with the field at fault."""
    return dict(to_json(shapes.Error(error=_error_detail(code, message, field=field, existing_id=existing_id))))


def _error_detail(
    code: str, message: str, *, field: str | None = None, existing_id: str | None = None
) -> shapes.ErrorDetail:
    """What the API says went wrong, an answer's or a bulk row's: the one place error text meets the wire.

    Messages and field names quote what the caller sent, and a caller may have sent a token where
    it does not belong (a path, a field name, a CSV header): no answer repeats one.
    """
    return shapes.ErrorDetail(
        code=code,
        message=redacted(message),
        field=ABSENT if field is None else redacted(field),
        existing_id=ABSENT if existing_id is None else existing_id,
    )


def health_to_dict(version: str) -> dict[str, Any]:
    return dict(to_json(shapes.Health(status="ok", version=version)))


def inventory_row_to_dict(row: InventoryRow) -> dict[str, Any]:
    return dict(to_json(copy_as(shapes.InventoryRow, row)))


def certificate_page_to_dict(
    rows: Sequence[InventoryRow], cursor: str | None, notes: Sequence[str], readiness: Readiness | None
) -> dict[str, Any]:
    """A page of ``GET /certificates``, with the readiness of the team's endpoints for shorter lifetimes."""
    document = shapes.CertificatePage(
        items=tuple(copy_as(shapes.InventoryRow, row) for row in rows),
        next_cursor=cursor,
        notes=tuple(notes),
        readiness=None if readiness is None else _readiness(readiness),
    )
    return dict(to_json(document))


INVENTORY_COLUMNS = (
    "SOURCE",
    "SUBJECT",
    "ISSUER",
    "KEY",
    "EXPIRES",
    "DAYS",
    "STATUS",
    "CHECKED",
    "FINDINGS",
    "USED BY",
)


def inventory_cells(row: InventoryRow) -> tuple[str, ...]:
    return (
        row.source.value,
        short_name(row.subject) or "-",
        short_name(row.issuer)[:40] if row.issuer else "-",
        row.key or "-",
        f"{row.not_after:%Y-%m-%d}" if row.not_after else "-",
        "-" if row.days_left is None else str(row.days_left),
        row.status.value,
        f"{row.checked_at.astimezone(UTC):%Y-%m-%dT%H:%MZ}" if row.checked_at else "-",
        ",".join(row.codes) or "-",
        ", ".join(row.used_by) or "-",
    )


def inventory_table(rows: Sequence[InventoryRow]) -> str:
    return columns([INVENTORY_COLUMNS, *(inventory_cells(r) for r in rows)])


def inventory_csv(rows: Sequence[InventoryRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "id",
            "source",
            "subject",
            "issuer",
            "key",
            "not_after",
            "days_left",
            "status",
            "findings",
            "used_by",
            "region",
            "team",
            "kind",
            "checked_at",
            "next_check_at",
        ]
    )
    for row in rows:
        writer.writerow(
            [
                row.id,
                row.source.value,
                row.subject,
                row.issuer,
                row.key,
                iso(row.not_after) or "",
                "" if row.days_left is None else row.days_left,
                row.status.value,
                " ".join(row.codes),
                " ".join(row.used_by),
                row.region or "",
                row.team or "",
                row.kind.value,
                iso(row.checked_at) or "",
                iso(row.next_check_at) or "",
            ]
        )
    return out.getvalue()


def discovery_to_dict(
    found: Sequence[DiscoveredEndpoint], outcomes: Sequence[BulkOutcome], failures: Sequence[tuple[str, ...]]
) -> dict[str, Any]:
    """What discovery found, and (with register) what became of each endpoint."""
    by_row = {outcome.row: outcome for outcome in outcomes}
    endpoints = []
    for number, item in enumerate(found, start=1):
        outcome = by_row.get(number)
        endpoints.append(
            shapes.DiscoveredEndpoint(
                target=str(item.endpoint),
                host=item.endpoint.host,
                port=item.endpoint.port,
                protocol=item.endpoint.protocol,
                source=item.source,
                certificate_arn=item.certificate_arn,
                region=item.region,
                outcome="proposed" if outcome is None else outcome.outcome,
                target_id=ABSENT if outcome is None or outcome.target is None else outcome.target.id,
                existing_id=ABSENT if outcome is None or outcome.existing_id is None else outcome.existing_id,
                error=ABSENT if outcome is None else _outcome_error(outcome),
            )
        )
    document = shapes.Discovery(endpoints=tuple(endpoints), failures=tuple(" / ".join(f) for f in failures))
    return dict(to_json(document))


def watched_domain_to_dict(domain: WatchedDomain, now: datetime, unwatched: Sequence[str] = ()) -> dict[str, Any]:
    return dict(to_json(_watched(domain, now, unwatched)))


def domain_page_to_dict(
    domains: Sequence[WatchedDomain], now: datetime, unwatched: dict[str, list[str]]
) -> dict[str, Any]:
    items = tuple(_watched(d, now, unwatched.get(d.domain, ())) for d in domains)
    return dict(to_json(shapes.DomainPage(items=items)))


def domain_outcomes_to_dict(outcomes: Sequence[DomainOutcome], now: datetime) -> dict[str, Any]:
    """The answer of ``POST /domains/bulk``: one result per row, and how many rows had each outcome."""
    counts = {kind: sum(o.outcome == kind for o in outcomes) for kind in DOMAIN_OUTCOMES}
    results = tuple(
        shapes.DomainBulkRow(
            row=o.row,
            outcome=o.outcome,
            domain=ABSENT if o.domain is None else _watched(o.domain, now, ()),
            existing_id=o.existing_id or ABSENT,
            error=ABSENT if o.reason is None else _error_detail(o.error_code or "invalid_field", o.reason),
        )
        for o in outcomes
    )
    return dict(to_json(shapes.DomainBulkOutcomes(results=results, **counts)))


def _watched(domain: WatchedDomain, now: datetime, unwatched: Sequence[str]) -> shapes.WatchedDomain:
    findings = tuple(copy_as(shapes.DomainFinding, f) for f in domain.findings_at(now))
    return copy_as(shapes.WatchedDomain, domain, findings=findings, unwatched=tuple(unwatched))
