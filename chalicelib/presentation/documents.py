"""Presenting check results: JSON documents (CLI --json, the API) and the CLI's table."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.inventory import DiscoveredEndpoint, InventoryRow
from chalicelib.domain.models import CertificateInfo, CheckResult, Endpoint, Finding, TargetReport, short_name
from chalicelib.domain.targets import BULK_OUTCOMES, BulkOutcome, ResultSummary, Target


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, the one timestamp format certwatch writes."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    data: dict[str, Any] = {"code": finding.code.value, "severity": finding.severity.value, "message": finding.message}
    if finding.reason is not None:
        data["reason"] = finding.reason.value
    return data


def certificate_to_dict(info: CertificateInfo) -> dict[str, Any]:
    return {
        "subject": info.subject,
        "issuer": info.issuer,
        "serial": info.serial,
        "sans": list(info.sans),
        "ip_sans": list(info.ip_sans),
        "key_type": info.key_type,
        "key_size": info.key_size,
        "signature_algorithm": info.signature_algorithm,
        "fingerprint_sha256": info.fingerprint_sha256,
        "not_before": iso(info.not_before),
        "not_after": iso(info.not_after),
        "is_ca": info.is_ca,
    }


def result_to_dict(result: CheckResult) -> dict[str, Any]:
    return {
        "address": result.address,
        "status": result.status.value,
        "days_left": result.days_left,
        "not_after": iso(result.not_after),
        "findings": [finding_to_dict(f) for f in result.findings],
        "leaf": None if result.leaf is None else certificate_to_dict(result.leaf),
        "chain": [certificate_to_dict(c) for c in result.chain],
        "trusted_by": result.trusted_by,
        "tls_version": result.tls_version,
        "cipher": result.cipher,
        "checked_at": iso(result.checked_at),
        "elapsed_ms": result.elapsed_ms,
    }


def endpoint_fields(endpoint: Endpoint) -> dict[str, Any]:
    """How every document names an endpoint: its canonical form and its parts."""
    return {
        "target": str(endpoint),
        "host": endpoint.host,
        "port": endpoint.port,
        "protocol": endpoint.protocol.value,
    }


def report_to_dict(report: TargetReport) -> dict[str, Any]:
    endpoint = report.endpoint
    return {
        **endpoint_fields(endpoint),
        "sni": endpoint.server_name,
        "status": report.status.value,
        "days_left": report.days_left,
        "not_after": iso(report.not_after),
        "findings": [finding_to_dict(f) for f in report.findings],
        "results": [result_to_dict(r) for r in report.results],
        "checked_at": iso(report.checked_at),
    }


_COLUMNS = ("HOST", "PORT", "ADDRESS", "DAYS", "EXPIRES", "ISSUER", "STATUS", "FINDINGS")


def table(reports: list[TargetReport]) -> str:
    """One row per target and address, then the message of every finding below the table."""
    rows: list[tuple[str, ...]] = [_COLUMNS]
    details: list[str] = []
    for report in reports:
        endpoint = report.endpoint
        for result in report.results:
            findings = result.findings + (report.target_findings if result is report.results[0] else ())
            rows.append((endpoint.host, str(endpoint.port), result.address or "-", *_cells(result, findings)))
            where = f"{endpoint}" + (f" ({result.address})" if result.address else "")
            details += _details(where, findings)
    return "\n".join([columns(rows), *(["", *details] if details else [])])


def inspection_table(source: str, name: str | None, result: CheckResult) -> str:
    """``certwatch inspect``'s table: the file's row and the message of every finding."""
    rows = [("FILE", "NAME", *_COLUMNS[3:]), (source, name or "-", *_cells(result, result.findings))]
    details = _details(source, result.findings)
    return "\n".join([columns(rows), *(["", *details] if details else [])])


def inspection_to_dict(source: str, name: str | None, result: CheckResult) -> dict[str, Any]:
    """``certwatch inspect --json``: a check's document, with the file and the name judged for the endpoint."""
    return {
        "file": source,
        "name": name,
        "status": result.status.value,
        "days_left": result.days_left,
        "not_after": iso(result.not_after),
        "findings": [finding_to_dict(f) for f in result.findings],
        "results": [result_to_dict(result)],
        "checked_at": iso(result.checked_at),
    }


def _cells(result: CheckResult, findings: tuple[Finding, ...]) -> tuple[str, ...]:
    return (
        "-" if result.days_left is None else str(result.days_left),
        "-" if result.not_after is None else f"{result.not_after:%Y-%m-%d}",
        _issuer(result),
        result.status.value,
        ",".join(f.code.value for f in findings) or "-",
    )


def _details(where: str, findings: tuple[Finding, ...]) -> list[str]:
    if not findings:
        return []
    return [where, *(f"  {f.severity.value:<8} {f.code.value}: {f.message}" for f in findings)]


def columns(rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned text columns, two spaces apart (the first row is the header)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def _issuer(result: CheckResult) -> str:
    return "-" if result.leaf is None else short_name(result.leaf.issuer)[:40]


def summary_to_dict(summary: ResultSummary | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {
        "status": summary.status.value,
        "days_left": summary.days_left,
        "not_after": iso(summary.not_after),
        "codes": list(summary.codes),
        "checked_at": iso(summary.checked_at),
    }


def target_to_dict(target: Target) -> dict[str, Any]:
    """A registered target as the API shows it, with its latest result summary."""
    spec, endpoint = target.spec, target.spec.endpoint
    return {
        "id": target.id,
        "team": target.team,
        **endpoint_fields(endpoint),
        "sni": endpoint.sni,
        "labels": dict(spec.labels),
        "warn_days": spec.warn_days,
        "critical_days": spec.critical_days,
        "check_interval_minutes": spec.check_interval_minutes,
        "ca_bundle": spec.ca_bundle,
        "notes": spec.notes,
        "alert_days": None if spec.alert_days is None else list(spec.alert_days),
        "paused": target.paused,
        "source": target.source,
        "created_at": iso(target.created_at),
        "updated_at": iso(target.updated_at),
        "next_check_at": iso(target.next_check_at),
        "latest": summary_to_dict(target.latest),
    }


def checked_target_to_dict(target: Target, report: TargetReport | None) -> dict[str, Any]:
    """A target with the full report of its latest check (None before the first)."""
    return {**target_to_dict(target), "result": None if report is None else report_to_dict(report)}


def bulk_outcomes_to_dict(outcomes: Sequence[BulkOutcome]) -> dict[str, Any]:
    """The answer of a bulk import: one result per row, and how many rows had each outcome."""
    counts = {kind: sum(o.outcome == kind for o in outcomes) for kind in BULK_OUTCOMES}
    return {"results": [bulk_outcome_to_dict(o) for o in outcomes], **counts}


def bulk_outcome_to_dict(outcome: BulkOutcome) -> dict[str, Any]:
    data: dict[str, Any] = {"row": outcome.row, "outcome": outcome.outcome}
    if outcome.target is not None:
        data["target"] = target_to_dict(outcome.target)
    if outcome.existing_id is not None:
        data["existing_id"] = outcome.existing_id
    if outcome.reason is not None:
        data["error"] = {"code": outcome.error_code, "message": outcome.reason}
    return data


def inventory_row_to_dict(row: InventoryRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "source": row.source.value,
        "subject": row.subject,
        "sans": list(row.sans),
        "issuer": row.issuer,
        "key": row.key,
        "not_after": iso(row.not_after),
        "days_left": row.days_left,
        "status": row.status,
        "codes": list(row.codes),
        "used_by": list(row.used_by),
        "region": row.region,
        "team": row.team,
    }


INVENTORY_COLUMNS = ("SOURCE", "SUBJECT", "ISSUER", "KEY", "EXPIRES", "DAYS", "STATUS", "FINDINGS", "USED BY")


def inventory_cells(row: InventoryRow) -> tuple[str, ...]:
    return (
        row.source.value,
        short_name(row.subject),
        short_name(row.issuer)[:40] if row.issuer else "-",
        row.key,
        f"{row.not_after:%Y-%m-%d}" if row.not_after else "-",
        "-" if row.days_left is None else str(row.days_left),
        row.status,
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
                row.status,
                " ".join(row.codes),
                " ".join(row.used_by),
                row.region or "",
                row.team or "",
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
        entry: dict[str, Any] = {
            **endpoint_fields(item.endpoint),
            "source": item.source,
            "certificate_arn": item.certificate_arn,
            "region": item.region,
            "outcome": "proposed",
        }
        outcome = by_row.get(number)
        if outcome is not None:
            entry["outcome"] = outcome.outcome
            if outcome.target is not None:
                entry["target_id"] = outcome.target.id
            if outcome.existing_id is not None:
                entry["existing_id"] = outcome.existing_id
            if outcome.reason is not None:
                entry["error"] = {"code": outcome.error_code, "message": outcome.reason}
        endpoints.append(entry)
    return {"endpoints": endpoints, "failures": [" / ".join(failure) for failure in failures]}
