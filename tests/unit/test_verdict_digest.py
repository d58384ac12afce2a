"""A verdict's digest: the same findings, chain and addresses at another time are the same verdict."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from chalicelib.domain.models import Finding, FindingCode, Severity
from chalicelib.domain.targets import ResultSummary
from tests.support import reports


def test_the_same_verdict_later_is_unchanged_until_its_full_result_is_a_day_old(now: datetime) -> None:
    first = ResultSummary.of(reports.everything(now))
    later = ResultSummary.of(reports.everything(now + timedelta(hours=6)))

    assert later.digest == first.digest
    assert later.unchanged_since(first)
    assert not ResultSummary.of(reports.everything(now + timedelta(days=1))).unchanged_since(first)
    # A summary written before digests were kept is never taken for the same verdict.
    assert not later.unchanged_since(dataclasses.replace(first, digest="", result_at=None))


def test_another_finding_another_chain_or_another_address_is_a_change(now: datetime) -> None:
    report = reports.everything(now)
    first = ResultSummary.of(report)
    (result, *rest) = report.results
    noted = Finding(FindingCode.WEAK_KEY, Severity.WARNING, "a weak key")
    changes = [
        dataclasses.replace(report, target_findings=(*report.target_findings, noted)),
        dataclasses.replace(report, results=(dataclasses.replace(result, chain=()), *rest)),
        dataclasses.replace(report, results=(dataclasses.replace(result, address="192.0.2.9"), *rest)),
    ]
    for changed in changes:
        assert not ResultSummary.of(changed).unchanged_since(first)
    assert not ResultSummary.of(reports.unreachable(now)).unchanged_since(first)
