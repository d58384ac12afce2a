"""The account's certificates: scanning ACM and IAM, ACM's own events, and the one inventory view.

Certificates held in ACM/IAM flow through the same alert decision and events as endpoints
(their documents say ``"source": "acm"``), so a threshold is announced once whether the daily
scan or ACM's EventBridge event saw it first.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.alerts import AlertSubject
from chalicelib.domain.cadence import Cadence, Readiness, observed_cadence, readiness
from chalicelib.domain.inventory import (
    ACM_EVENT_TYPES,
    Assessment,
    InventoryQuery,
    InventoryRow,
    ManagedCertificate,
    ManagedPolicy,
    RowStatus,
    Source,
    assess,
    endpoint_rows,
)
from chalicelib.domain.models import days_until
from chalicelib.domain.targets import Target, TargetFilter, decode_cursor, encode_cursor
from chalicelib.domain.tokens import Principal
from chalicelib.errors import CertwatchError, InvalidValueError, PermissionDeniedError
from chalicelib.services.alerting import Alerter
from chalicelib.services.ports import AcmLookup, CertificateSource, History, Inventory, Targets

logger = logging.getLogger(__name__)

DEFAULT_TEAM = "aws"  # the team attribute of events about certificates held in ACM/IAM


@dataclass(frozen=True, slots=True)
class ScanResult:
    seen: int
    removed: int
    failures: tuple[tuple[str, str], ...]
    published: int


@dataclass(frozen=True, slots=True)
class InventoryPage:
    items: tuple[InventoryRow, ...]
    cursor: str | None
    notes: tuple[str, ...] = field(default=())
    readiness: Readiness | None = None  # of the team's endpoints, when they are in the view
    cadences: tuple[tuple[str, Cadence], ...] = ()  # (endpoint, cadence) with a renewal seen


class InventoryService:
    """Keeps the inventory of certificates held in ACM/IAM and answers the one inventory view."""

    def __init__(
        self,
        *,
        inventory: Inventory,
        targets: Targets,
        alerter: Alerter,
        clock: Callable[[], datetime],
        sources: Callable[[], Sequence[CertificateSource]],
        acm: Callable[[], AcmLookup],
        policy: ManagedPolicy | None = None,
        team: str | None = None,
        history: History | None = None,
        unwatched: Callable[[str, datetime], list[InventoryRow]] | None = None,
    ) -> None:
        self._inventory = inventory
        self._targets = targets
        self._unwatched = unwatched
        self._alerter = alerter
        self._clock = clock
        self._sources = sources
        self._acm = acm
        self._policy = policy or ManagedPolicy()
        self._team = team
        self._history = history

    @property
    def alert_team(self) -> str:
        return self._team or DEFAULT_TEAM

    def scan(self) -> ScanResult:
        """Assess every certificate ACM (each configured region) and IAM hold; forget vanished ones."""
        seen: set[str] = set()
        failures: list[tuple[str, str]] = []
        published = 0
        sources = self._sources()
        for source in sources:
            scanned = source.scan()
            for cert in scanned.certificates:
                seen.add(cert.arn)
                published += self._record(cert)
            failures += scanned.failures
        # Only forget what this scan looked for and would have seen: not another region's
        # certificates, nor those of a region it could not read.
        looked = {place for source in sources for place in source.places} - {where for where, _ in failures}
        removed = 0
        for known in self._inventory.list_managed():
            cert = known.certificate
            if cert.arn not in seen and (cert.region or "iam") in looked:
                self._inventory.delete_managed(cert.arn)
                removed += 1
        return ScanResult(len(seen), removed, tuple(failures), published)

    def on_acm_event(self, event: dict[str, Any]) -> int:
        """Handle an ACM EventBridge event at once; returns the notifications published."""
        kind = event.get("detail-type")
        if kind not in ACM_EVENT_TYPES:
            logger.info("ignoring ACM event %s", kind)
            return 0
        published = 0
        for arn in event.get("resources") or []:
            if isinstance(arn, str) and ":acm:" in arn:
                published += self._record(self._acm().describe(arn))
        return published

    def rows(
        self,
        principal: Principal,
        *,
        team: str,
        query: InventoryQuery,
        limit: int,
        cursor: str | None,
    ) -> InventoryPage:
        """The one inventory: the team's endpoint certificates, and ACM/IAM ones for who may see them."""
        now = self._clock()
        endpoints: dict[str, str] = {}  # target id -> endpoint, filled by _endpoint_rows
        rows = (
            [] if query.source in (Source.ACM, Source.IAM, Source.DOMAIN) else self._endpoint_rows(team, now, endpoints)
        )
        notes: list[str] = []
        if query.source in (None, Source.DOMAIN) and self._unwatched is not None:
            rows += self._unwatched(team, now)  # seen in CT under a watched domain, for names no target checks
        if query.source in (None, Source.ACM, Source.IAM):
            if self.may_see_managed(principal):
                rows += [managed_row(a, now, self.alert_team) for a in self._inventory.list_managed()]
            elif query.source is not None:
                raise PermissionDeniedError("ACM and IAM certificates are visible to admin tokens only")
            else:
                notes.append("ACM and IAM certificates are visible to admin tokens (and CERTWATCH_ACM_TEAM)")
        chosen = sorted((r for r in rows if _matches(r, query)), key=_by_expiry)
        start = _offset(cursor)
        page = chosen[start : start + limit]
        more = start + limit < len(chosen)
        cadences = self._cadences(team, endpoints) if endpoints else {}
        return InventoryPage(
            tuple(page),
            encode_cursor({"offset": start + limit}) if more else None,
            tuple(notes),
            readiness=readiness(cadences, now) if endpoints and self._history is not None else None,
            cadences=tuple((name, c) for name, c in sorted(cadences.items()) if c.known),
        )

    def _cadences(self, team: str, endpoints: dict[str, str]) -> dict[str, Cadence]:
        """Each endpoint's renewal cadence, from its certificate history (none when history is unavailable)."""
        if self._history is None:
            return {}
        try:
            history = self._history.team_sightings(team)
        except CertwatchError as exc:
            logger.warning("certificate history unavailable for the inventory: %s", exc)
            return {}
        return {name: observed_cadence(history.get(target_id, ())) for target_id, name in endpoints.items()}

    def may_see_managed(self, principal: Principal) -> bool:
        return principal.admin or (self._team is not None and principal.team == self._team)

    def _record(self, cert: ManagedCertificate) -> int:
        assessment = assess(cert, self._clock(), self._policy)
        self._inventory.put_managed(assessment)
        subject = managed_subject(assessment, self.alert_team)
        return len(self._alerter.after_check(subject, assessment.observation()))

    def _endpoint_rows(self, team: str, now: datetime, endpoints: dict[str, str]) -> list[InventoryRow]:
        targets: list[Target] = []
        cursor: str | None = None
        while True:
            page = self._targets.list_targets(team, limit=500, cursor=cursor, where=TargetFilter())
            targets += page.items
            if page.cursor is None:
                break
            cursor = page.cursor
        endpoints.update((target.id, str(target.endpoint)) for target in targets)
        return endpoint_rows(targets, team, now)


def managed_subject(assessment: Assessment, team: str) -> AlertSubject:
    """A certificate held in ACM/IAM as the subject of alerts (its alert state is keyed by its ARN)."""
    cert = assessment.certificate
    return AlertSubject(
        id="cert_" + hashlib.sha256(cert.arn.encode()).hexdigest()[:20],
        team=team,
        warn_days=assessment.warn_days,
        critical_days=assessment.critical_days,
        managed=cert,
        owner=cert.owner,
        runbook_url=cert.runbook_url,
        notes=cert.notes,
    )


def managed_row(assessment: Assessment, now: datetime, team: str) -> InventoryRow:
    cert = assessment.certificate
    return InventoryRow(
        id=cert.arn,
        source=cert.source,
        subject=f"CN={cert.domain}",
        sans=cert.sans,
        issuer=cert.issuer or "",
        key=cert.key_algorithm,
        not_after=cert.not_after,
        days_left=None if cert.not_after is None else days_until(cert.not_after, now),
        status=RowStatus(assessment.status),
        codes=tuple(f.code.value for f in assessment.findings),
        used_by=cert.in_use_by,
        region=cert.region,
        team=team,
    )


def _matches(row: InventoryRow, query: InventoryQuery) -> bool:
    if query.source is not None and row.source is not query.source:
        return False
    if query.status is not None and row.status != query.status:
        return False
    if query.expiring_before is not None and (row.not_after is None or row.not_after > query.expiring_before):
        return False
    return query.issuer is None or query.issuer.lower() in row.issuer.lower()


def _by_expiry(row: InventoryRow) -> tuple[int, str, str]:
    when = row.not_after.isoformat() if row.not_after else ""
    return (row.not_after is None, when, row.id)


def _offset(cursor: str | None) -> int:
    """Where a page of the inventory starts: the offset its cursor carries (0 without one)."""
    if not cursor:
        return 0
    offset = decode_cursor(cursor).get("offset")
    if not isinstance(offset, int) or offset < 0:
        raise InvalidValueError("invalid cursor", field="cursor", code="invalid_cursor")
    return offset
