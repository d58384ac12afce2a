"""Watched domains: registering them, and the sweep that reads CT and RDAP for each one due.

The sweep reads each due domain's new issuances from the CT source (from its stored cursor, so
each is seen once), keeps them for the checker's RENEWED_NOT_DEPLOYED judgement, tells
``certificate.unexpected_issuance`` for an issuer the domain does not allow, reads the
registration's expiry over RDAP (once a day) and tells ``domain.expiring`` once per threshold.
A failed fetch is a finding on that domain (DOMAIN_WATCH_FAILED), never a failed sweep.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chalicelib.domain.alerts import AlertEvent, AlertSubject, EventType, Observation
from chalicelib.domain.domains import (
    DomainOutcome,
    DomainRequest,
    Issuance,
    WatchedDomain,
    baseline_issuers,
    coalesce,
    issuer_cn,
    registration_finding,
    registration_threshold,
    suggestions,
    unexpected_issuance,
    unwatched_rows,
)
from chalicelib.domain.inventory import InventoryRow
from chalicelib.domain.models import Status, days_until, status_for
from chalicelib.domain.targets import TargetFilter
from chalicelib.errors import CertwatchError, DuplicateDomainError, RateLimitedError
from chalicelib.services.ports import Announcer, Issuances, IssuanceSource, RegistrationSource, Targets, WatchedDomains

logger = logging.getLogger(__name__)

REGISTRATION_EVERY = timedelta(days=1)  # a registration's end moves only when it is renewed


def team_names(targets: Targets, team: str) -> set[str]:
    """The names the team's targets check (their SNI, else their host)."""
    names: set[str] = set()
    cursor: str | None = None
    while True:
        page = targets.list_targets(team, limit=500, cursor=cursor, where=TargetFilter())
        names.update(t.endpoint.checked_name.lower() for t in page.items)
        if page.cursor is None:
            return names
        cursor = page.cursor


@dataclass(frozen=True, slots=True)
class DomainSweep:
    """What one sweep did: domains due and swept, issuances new, failures, events told."""

    due: int = 0
    swept: int = 0
    new_issuances: int = 0
    failures: int = 0
    published: int = 0


def domain_id(team: str, name: str) -> str:
    """A watched domain's id: the same for the same team and name, so watching it twice is a conflict."""
    return "dm_" + hashlib.sha256(f"{team}\n{name}".encode()).hexdigest()[:16]


class DomainWatch:
    """Watched domains per team, and the sweep of those due."""

    def __init__(
        self,
        *,
        domains: WatchedDomains,
        issuances: Issuances,
        targets: Targets,
        ct: IssuanceSource,
        rdap: RegistrationSource,
        announcer: Announcer,
        clock: Callable[[], datetime],
        interval: timedelta = timedelta(hours=1),
    ) -> None:
        self._domains = domains
        self._issuances = issuances
        self._ct = ct
        self._rdap = rdap
        self._announcer = announcer
        self._targets = targets
        self._clock = clock
        self._interval = interval

    def watch(self, team: str, wanted: DomainRequest) -> WatchedDomain:
        """Start watching a domain; its first sweep is due at once."""
        now = self._clock()
        domain = WatchedDomain(
            id=domain_id(team, wanted.domain),
            team=team,
            domain=wanted.domain,
            created_at=now,
            include_subdomains=wanted.include_subdomains,
            allowed_issuers=wanted.allowed_issuers,
            allowed_keys=wanted.allowed_keys,
            owner=wanted.owner,
            alert_days=wanted.alert_days,
            next_sweep_at=now,
        )
        self._domains.create_domain(domain)
        return domain

    def watch_many(self, team: str, rows: Sequence[DomainRequest | CertwatchError]) -> list[DomainOutcome]:
        """Watch each row's domain (a row that could not be read is its error): one outcome per row, whatever
        becomes of the others."""
        outcomes = []
        for number, row in enumerate(rows, start=1):
            if isinstance(row, CertwatchError):
                outcomes.append(DomainOutcome(number, "rejected", error_code="invalid_field", reason=str(row)))
                continue
            try:
                outcomes.append(DomainOutcome(number, "created", domain=self.watch(team, row)))
            except DuplicateDomainError as exc:
                outcomes.append(DomainOutcome(number, "duplicate", existing_id=exc.existing_id))
            except CertwatchError as exc:  # the store failed on this row: it may be sent again
                outcomes.append(DomainOutcome(number, "retry", error_code="unavailable", reason=str(exc)))
        return outcomes

    def domains(self, team: str) -> list[WatchedDomain]:
        return self._domains.list_domains(team)

    def get(self, team: str, domain_id: str) -> WatchedDomain:
        return self._domains.get_domain(team, domain_id)

    def remove(self, team: str, domain_id: str) -> None:
        self._domains.delete_domain(team, domain_id)

    def suggest(self, team: str) -> dict[str, list[str]]:
        """Per watched domain, the names valid CT certificates cover that no target of the team checks."""
        now = self._clock()
        issuances = self._issuances.team_issuances(team)
        watched = team_names(self._targets, team)
        return {d.domain: suggestions(d, issuances, watched, now) for d in self._domains.list_domains(team)}

    def unwatched_rows(self, team: str, now: datetime) -> list[InventoryRow]:
        """The inventory's rows of CT certificates for names no target of the team checks."""
        domains = self._domains.list_domains(team)
        if not domains:
            return []
        issuances = self._issuances.team_issuances(team)
        return unwatched_rows(domains, issuances, team_names(self._targets, team), team, now)

    def issuances(self, team: str) -> list[Issuance]:
        return self._issuances.team_issuances(team)

    def sweep(self) -> DomainSweep:
        """Sweep every domain due; one domain's failure is a finding on it, never the sweep's."""
        now = self._clock()
        due = [d for d in self._domains.list_domains() if d.next_sweep_at is None or d.next_sweep_at <= now]
        result = DomainSweep(due=len(due))
        for domain in due:
            try:
                new, failed, published = self._sweep_one(domain, now)
            except Exception:  # a bug on one domain costs that domain's sweep, never the others'
                logger.exception("sweeping %s/%s failed", domain.team, domain.id)
                result = replace(result, failures=result.failures + 1)
                continue
            result = replace(
                result,
                swept=result.swept + 1,
                new_issuances=result.new_issuances + new,
                failures=result.failures + failed,
                published=result.published + published,
            )
        return result

    def _sweep_one(self, domain: WatchedDomain, now: datetime) -> tuple[int, int, int]:
        problems: list[str] = []
        events: list[AlertEvent] = []
        findings = []
        next_at = now + self._interval
        try:
            page = self._ct.issuances(domain.domain, include_subdomains=domain.include_subdomains, after=domain.cursor)
        except RateLimitedError as exc:
            problems.append(f"Certificate Transparency: {exc}")
            next_at = now + timedelta(seconds=max(exc.retry_after, 1))
            page = None
        except CertwatchError as exc:
            problems.append(f"Certificate Transparency: {exc}")
            page = None
        new: list[Issuance] = []
        if page is not None and page.retry_after is not None:
            problems.append(
                f"Certificate Transparency asks to wait {page.retry_after}s (HTTP 429); the rest is read then"
            )
            next_at = now + timedelta(seconds=max(page.retry_after, 1))
        if page is not None:
            seen = coalesce(page.issuances)
            new = self._issuances.record_issuances(domain.team, seen)
            judged = domain
            if not domain.baselined and not (domain.allowed_issuers or domain.allowed_keys):
                # The first sweep's issuers are the expected ones, until the team says otherwise.
                judged = replace(domain, allowed_issuers=baseline_issuers(seen))
            else:
                for issuance in new:
                    finding = unexpected_issuance(domain, issuance)
                    if finding is not None:
                        findings.append(finding)
                        events.append(
                            AlertEvent(
                                f"{domain.id}:unexpected:{issuance.tbs_sha256}",
                                EventType.UNEXPECTED_ISSUANCE,
                                finding.severity,
                                f"unexpected certificate from {issuer_cn(issuance.issuer)}",
                                findings=(finding,),
                            )
                        )
            domain = replace(judged, cursor=page.cursor or domain.cursor, baselined=True)
        domain = self._registration(domain, now, problems)
        domain = replace(domain, swept_at=now, next_sweep_at=next_at, problem="; ".join(problems) or None)
        events += self._expiring(domain, now)
        findings += domain.findings_at(now)
        self._domains.save_domain(domain)
        published = 0
        if events:
            observed = Observation(
                leaf=None,
                findings=tuple(findings),
                status=status_for(tuple(findings)) if findings else Status.OK,
                days_left=None
                if domain.registration_expires_at is None
                else days_until(domain.registration_expires_at, now),
                checked_at=now,
            )
            published = len(self._announcer.announce(_subject(domain), observed, events))
        return len(new), 1 if problems else 0, published

    def _registration(self, domain: WatchedDomain, now: datetime, problems: list[str]) -> WatchedDomain:
        checked = domain.registrar_checked_at
        if checked is not None and now - checked < REGISTRATION_EVERY:
            return domain
        try:
            ends = self._rdap.expiration(domain.domain)
        except CertwatchError as exc:
            problems.append(f"RDAP: {exc}")
            return domain
        return replace(domain, registration_expires_at=ends, registrar_checked_at=now)

    def _expiring(self, domain: WatchedDomain, now: datetime) -> list[AlertEvent]:
        threshold = registration_threshold(domain, now)
        ends = domain.registration_expires_at
        if threshold is None or ends is None:
            return []
        finding = registration_finding(domain, now)
        if finding is None:
            return []
        key = f"{domain.id}:{ends:%Y%m%d}:domain_expiring:{threshold}"
        left = days_until(ends, now)
        when = "has ended" if left < 0 else f"ends in {left} day{'s' if left != 1 else ''}"
        summary = f"the registration of {domain.domain} {when} ({ends:%Y-%m-%d})"
        expiring = AlertEvent(
            key, EventType.DOMAIN_EXPIRING, finding.severity, summary, threshold_days=threshold, findings=(finding,)
        )
        return [expiring]


def _subject(domain: WatchedDomain) -> AlertSubject:
    return AlertSubject(id=domain.id, team=domain.team, owner=domain.owner, watched_domain=domain.domain)
