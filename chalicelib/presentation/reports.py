"""Presenting what a check says: a report's JSON document and the CLI's tables.

``report_to_dict`` is what ``certwatch check --json`` prints, what a target's ``result`` holds
in the API and what the checker's events carry; each document is built as its declared shape
(``result_shapes.py``; ``copy_as`` copies a domain object into its shape by name) and turned into
JSON by ``to_json``, so a renderer cannot write a field the OpenAPI document does not declare.
The API's own resources (targets, pages, settings, ...) are rendered in ``documents.py``: this
module is the verdict, which the CLI, the store and the events share with the API
(docs/architecture.md, "Where modules are cut").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.domain.cadence import READINESS_STEPS, Cadence
from chalicelib.domain.lifetime import next_step
from chalicelib.domain.models import CheckResult, Finding, TargetReport, short_name
from chalicelib.domain.posture import key_exchange
from chalicelib.presentation import result_shapes as shapes
from chalicelib.presentation.schema import ABSENT, copy_as, to_json
from chalicelib.presentation.schema import iso as iso  # the one timestamp format, for everything that writes one


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    return dict(to_json(copy_as(shapes.Finding, finding)))


def result_to_dict(result: CheckResult) -> dict[str, Any]:
    return dict(to_json(copy_as(shapes.AddressResult, result)))


def _cadence(cadence: Cadence, now: datetime) -> shapes.Cadence:
    """An endpoint's renewal cadence as seen, and whether it is ready for the coming lifetimes."""
    step = next_step(now)
    return copy_as(
        shapes.Cadence,
        cadence,
        ready_for_100_days=cadence.ready_for(100),
        ready_for_47_days=cadence.ready_for(47),
        next_step=None
        if step is None
        else shapes.NextStep(f"{step.since:%Y-%m-%d}", step.max_days, cadence.ready_for(step.max_days)),
    )


CADENCE_COLUMNS = (
    "ENDPOINT",
    "CERTIFICATES",
    "RENEWALS",
    "RENEWED AT AGE",
    "LEAST DAYS LEFT",
    *(f"READY {days}" for days in READINESS_STEPS),
)


def cadence_table(cadences: Sequence[tuple[str, Cadence]]) -> str:
    """One row per endpoint with a renewal seen: how its certificates are renewed, and for what it is ready."""
    rows = [CADENCE_COLUMNS]
    for name, cadence in cadences:
        ready = tuple({True: "yes", False: "no", None: "-"}[cadence.ready_for(days)] for days in READINESS_STEPS)
        rows.append(
            (
                name,
                str(cadence.certificates_seen),
                str(len(cadence.renewals)),
                f"{cadence.renewed_at_age_days} days",
                f"{cadence.least_days_left} days",
                *ready,
            )
        )
    return columns(rows)


def report_to_dict(report: TargetReport) -> dict[str, Any]:
    """A target's check: what ``certwatch check --json`` prints, and what a target's ``result`` holds."""
    endpoint = report.endpoint
    document = copy_as(
        shapes.CheckResult,
        report,  # its verdict: status, days left, findings (the target's own first), results
        target=str(endpoint),
        host=endpoint.host,
        port=endpoint.port,
        protocol=endpoint.protocol,
        sni=endpoint.server_name,
        cadence=ABSENT if report.cadence is None else _cadence(report.cadence, report.checked_at),
    )
    return dict(to_json(document))


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


POSTURE_COLUMNS = ("HOST", "PORT", "ADDRESS", "TLS", "CIPHER", "GROUP", "KEY EXCHANGE", "LEGACY TLS", "STATUS")


def posture_table(reports: list[TargetReport]) -> str:
    """``certwatch check --posture``: one row per target and address, its handshake and what its key exchange is
    made of, then the message of every finding below the table, as ``table`` lists them."""
    rows: list[tuple[str, ...]] = [POSTURE_COLUMNS]
    details: list[str] = []
    for report in reports:
        endpoint = report.endpoint
        for result in report.results:
            kind = key_exchange(result.group)
            legacy = "not asked" if result.legacy_tls is None else ",".join(result.legacy_tls) or "refused"
            rows.append(
                (
                    endpoint.host,
                    str(endpoint.port),
                    result.address or "-",
                    result.tls_version or "-",
                    result.cipher or "-",
                    result.group or "-",
                    "-" if kind is None else kind.value,
                    "-" if result.tls_version is None else legacy,
                    result.status.value,
                )
            )
            findings = result.findings + (report.target_findings if result is report.results[0] else ())
            details += _details(f"{endpoint}" + (f" ({result.address})" if result.address else ""), findings)
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
