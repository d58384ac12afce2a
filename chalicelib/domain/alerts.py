"""Deciding which alert events a check gives rise to: pure, given the target's alert state and ``now``.

The rules, so an expiring certificate reaches a person once and clearly:

* ``certificate.expiring`` when the leaf crosses a threshold (30, 14, 7, 3, 1 days by default):
  the tightest threshold crossed is announced, the looser ones are marked done with it.
* ``certificate.expired`` once the leaf is past notAfter, and again if it is still in place a day
  later (no silence but one naming the certificate hides that one).
* ``certificate.problem`` when critical findings (hostname mismatch, untrusted, incomplete
  chain, ...) or RENEWAL_OVERDUE appear; ``certificate.recovered`` when they have all cleared.
* ``endpoint.unreachable`` only after N consecutive checks read nothing (a blip is not a page);
  ``certificate.recovered`` when it answers again.
* ``certificate.revoked`` once per certificate its CA revoked (REVOKED: the leaf or an
  intermediate); ``certificate.renewal_requested`` once per certificate and severity when its
  ACME CA's renewal window has started (RENEWAL_REQUESTED).
* ``certificate.renewed`` when a new certificate replaces one that was alerted on.
* ``certificate.renewed_not_deployed`` once per served certificate and severity when CT shows a
  newer one for the name that the endpoint does not serve (RENEWED_NOT_DEPLOYED). A watched
  domain's ``certificate.unexpected_issuance`` and ``domain.expiring`` are decided by the domain
  watch (``services/domains.py``) and told through the same outbox.

Every event has a deterministic key (target, certificate fingerprint, threshold or episode),
so two workers deciding from the same state produce the same keys, and the store announces
each key at most once.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.domain.models import CertificateInfo, Endpoint, Finding, FindingCode, Severity, Status, TargetReport
from chalicelib.domain.targets import Target

if TYPE_CHECKING:  # inventory imports this module (Observation)
    from chalicelib.domain.inventory import ManagedCertificate

DEFAULT_THRESHOLDS = (30, 14, 7, 3, 1)
# A certificate still in place this long after notAfter is announced again, past any silence but
# one that names it.
STILL_THERE_AFTER = timedelta(days=1)
STILL_THERE = "still-there"  # the key's suffix of that second certificate.expired
# Not "problems": expiry has events of its own, reachability too, and disagreement is info.
_NOT_PROBLEMS = {
    FindingCode.EXPIRED,
    FindingCode.EXPIRING_SOON,
    FindingCode.CONNECTION_FAILED,
    FindingCode.ADDRESSES_DISAGREE,
    FindingCode.REVOKED,
    FindingCode.REVOCATION_UNKNOWN,
    FindingCode.RENEWAL_REQUESTED,
    FindingCode.RENEWED_NOT_DEPLOYED,
}


# How a problem reads in a subject line; the findings carry the details.
_PROBLEM_NAMES = {
    FindingCode.NOT_YET_VALID: "certificate not yet valid",
    FindingCode.HOSTNAME_MISMATCH: "certificate does not cover the name",
    FindingCode.SELF_SIGNED: "self-signed certificate",
    FindingCode.UNTRUSTED_ROOT: "untrusted certificate chain",
    FindingCode.INCOMPLETE_CHAIN: "incomplete certificate chain",
    FindingCode.CHAIN_EXPIRING: "intermediate or root certificate expiring",
    FindingCode.INVALID_INTERMEDIATE: "unusable intermediate certificate",
    FindingCode.NAME_CONSTRAINTS_VIOLATED: "CA name constraints violated",
    FindingCode.NOT_FOR_SERVER_AUTH: "certificate not for TLS servers",
    FindingCode.PATH_LENGTH_EXCEEDED: "CA path length exceeded",
    FindingCode.UNKNOWN_CRITICAL_EXTENSION: "unknown critical extension",
    FindingCode.CA_CERTIFICATE_AS_LEAF: "CA certificate served as the leaf",
    FindingCode.PATH_VALIDATION_FAILED: "certificate chain refused",
    FindingCode.PATH_BUILDING_REQUIRED: "chain order needs path building",
    FindingCode.NOT_WEB_PKI_COMPLIANT: "chain breaks a Web PKI rule",
    FindingCode.CHAIN_TOO_LONG: "certificate chain too long",
    FindingCode.WEAK_KEY: "weak key",
    FindingCode.WEAK_SIGNATURE: "weak signature",
    FindingCode.BAD_SIGNATURE: "certificate signature does not verify",
    FindingCode.RENEWAL_OVERDUE: "renewal overdue",
    FindingCode.CERTIFICATE_UNPARSEABLE: "unparseable certificate",
    FindingCode.CA_BUNDLE_UNUSABLE: "the target's CA bundle cannot be used",
    FindingCode.RENEWAL_FAILED: "ACM renewal failed",
    FindingCode.LIFETIME_EXCEEDS_POLICY: "lifetime over the public CAs' maximum",
    FindingCode.RENEWAL_CADENCE_AT_RISK: "renewal cadence too slow for shorter lifetimes",
}


class EventType(enum.StrEnum):
    EXPIRING = "certificate.expiring"
    EXPIRED = "certificate.expired"
    PROBLEM = "certificate.problem"
    UNREACHABLE = "endpoint.unreachable"
    RENEWED = "certificate.renewed"
    RECOVERED = "certificate.recovered"
    REVOKED = "certificate.revoked"
    RENEWAL_REQUESTED = "certificate.renewal_requested"
    RENEWED_NOT_DEPLOYED = "certificate.renewed_not_deployed"
    UNEXPECTED_ISSUANCE = "certificate.unexpected_issuance"
    DOMAIN_EXPIRING = "domain.expiring"


# Events that close what earlier events opened (a pager resolves the incident with them).
CLOSING = frozenset({EventType.RENEWED, EventType.RECOVERED})
# Events about a certificate, whichever endpoint serves it: announced once per certificate and team
# (naming every endpoint that serves it) where the team groups its events. The others are about
# one endpoint (a name it does not cover, an outage, a chain one node sends) and stay its own.
CERTIFICATE_EVENTS = frozenset(
    {EventType.EXPIRING, EventType.EXPIRED, EventType.REVOKED, EventType.RENEWAL_REQUESTED, EventType.RENEWED}
)


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """How a target is alerted on."""

    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    critical_days: int = 7
    unreachable_after: int = 2
    repeat_critical_hours: int | None = None


@dataclass(frozen=True, slots=True)
class AlertState:
    """What has been announced for a target, so each event is announced once."""

    fingerprint: str | None = None
    announced: frozenset[str] = frozenset()
    failures: int = 0
    unreachable: bool = False
    unreachable_episode: int = 0
    problems: frozenset[str] = frozenset()
    problem_episode: int = 0


@dataclass(frozen=True, slots=True)
class Observation:
    """What a decision needs to know of a check: the certificate that expires first, and the findings."""

    leaf: CertificateInfo | None
    findings: tuple[Finding, ...]
    status: Status
    days_left: int | None
    checked_at: datetime | None = None

    @classmethod
    def of(cls, report: TargetReport) -> Observation:
        soonest = report.soonest
        leaf = None if soonest is None else soonest.leaf
        return cls(
            leaf=leaf,
            findings=report.findings,
            status=report.status,
            days_left=report.days_left,
            checked_at=report.checked_at,
        )


@dataclass(frozen=True, slots=True)
class AlertSubject:
    """What an alert is about: a registered endpoint (``endpoint``), or a certificate the account holds
    in ACM/IAM (``managed``)."""

    id: str  # the target's id, or the managed certificate's alert id
    team: str
    warn_days: int = 30
    critical_days: int = 7
    alert_days: tuple[int, ...] | None = None
    endpoint: Endpoint | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    managed: ManagedCertificate | None = None
    # Who acts and how: the target's own, or an ACM/IAM certificate's tags (inventory.tagged).
    owner: str | None = None
    runbook_url: str | None = None
    notes: str | None = None
    watched_domain: str | None = None  # a domain the team watches in CT and RDAP (domains.WatchedDomain)

    @classmethod
    def of_target(cls, target: Target) -> AlertSubject:
        """A registered endpoint as the subject of alerts."""
        spec = target.spec
        return cls(
            id=target.id,
            team=target.team,
            warn_days=spec.warn_days,
            critical_days=spec.critical_days,
            alert_days=spec.alert_days,
            endpoint=target.endpoint,
            labels=dict(spec.labels),
            owner=spec.owner,
            runbook_url=spec.runbook_url,
            notes=spec.notes,
        )


@dataclass(frozen=True, slots=True, order=True)
class Holder:
    """One place a certificate is served or held: a registered endpoint, or a certificate in ACM/IAM."""

    kind: str  # "endpoint", "acm", "iam" or "domain"
    id: str  # the target's id, or the certificate's ARN
    name: str  # the endpoint as `certwatch check` takes it, or the ARN

    @classmethod
    def of(cls, subject: AlertSubject) -> Holder:
        if subject.managed is not None:
            return cls(subject.managed.source.value, subject.managed.arn, subject.managed.arn)
        if subject.watched_domain is not None:
            return cls("domain", subject.id, subject.watched_domain)
        return cls("endpoint", subject.id, str(subject.endpoint))

    def encode(self) -> str:
        """One text (a member of the store's set of a certificate's holders)."""
        return f"{self.kind} {self.id} {self.name}"

    @classmethod
    def decode(cls, text: str) -> Holder:
        kind, id, name = text.split(" ", 2)
        return cls(kind, id, name)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One announcement to publish."""

    key: str
    type: EventType
    severity: Severity
    summary: str
    threshold_days: int | None = None
    previous_fingerprint: str | None = None
    findings: tuple[Finding, ...] = field(default=())
    holders: tuple[Holder, ...] = ()  # every endpoint (and ACM/IAM certificate) it is about


def grouped(event: AlertEvent, subject_id: str, scope: str, holders: Iterable[Holder]) -> AlertEvent:
    """``event`` of one subject as its scope announces it: a certificate's event keyed by the scope (the
    team) instead of the subject, so every endpoint serving that certificate announces it once, naming
    ``holders``; an endpoint's own event naming that endpoint alone."""
    named = tuple(sorted(set(holders)))
    if event.type not in CERTIFICATE_EVENTS or scope == subject_id:
        return replace(event, holders=named)
    prefix = f"{subject_id}:"
    if not event.key.startswith(prefix):
        raise ValueError(f"event key {event.key!r} is not {subject_id!r}'s")
    return replace(event, key=f"{scope}:{event.key.removeprefix(prefix)}", holders=named)


def thresholds_for(warn_days: int, critical_days: int, explicit: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """A target's thresholds: its own list, else the defaults within warn_days plus warn_days itself."""
    if explicit:
        return tuple(sorted(set(explicit), reverse=True))
    chosen = {d for d in DEFAULT_THRESHOLDS if d <= warn_days} | {warn_days, critical_days}
    return tuple(sorted((d for d in chosen if d > 0), reverse=True))


def decide(
    target_id: str,
    state: AlertState,
    observed: TargetReport | Observation,
    policy: AlertPolicy,
    now: datetime,
) -> tuple[AlertState, list[AlertEvent]]:
    """The state after a check (of an endpoint, or of a certificate held in ACM/IAM) and its events."""
    report = observed if isinstance(observed, Observation) else Observation.of(observed)
    if report.leaf is None:
        return _unreachable(target_id, state, report, policy)
    events: list[AlertEvent] = []
    if state.unreachable:
        events.append(
            AlertEvent(
                f"{target_id}:unreachable:{state.unreachable_episode}:recovered",
                EventType.RECOVERED,
                Severity.INFO,
                "the endpoint answers again",
            )
        )
        state = replace(state, unreachable=False, unreachable_episode=state.unreachable_episode + 1)
    state = replace(state, failures=0)
    leaf = report.leaf
    state, renewal = _renewal(target_id, state, leaf)
    events += renewal
    expiry, done = _expiry(target_id, leaf, report, policy, now, state.announced)
    events += expiry
    announced = set(state.announced) | done
    ca_events, ca_done = _what_the_ca_says(target_id, leaf, report, state.announced)
    events += ca_events
    announced |= ca_done
    # Inside the expiry thresholds the expiry events say it all: an overdue renewal is no news.
    ignored = {FindingCode.RENEWAL_OVERDUE} if done else set()
    state, problem_events = _problems(target_id, state, report, leaf.fingerprint_sha256, ignored)
    events += problem_events
    announced |= {e.key for e in problem_events}
    if policy.repeat_critical_hours and report.status is Status.CRITICAL:
        bucket = int(now.timestamp() // (policy.repeat_critical_hours * 3600))
        repeat_prefix = f"{target_id}:{leaf.fingerprint_sha256}:repeat:"
        key = f"{repeat_prefix}{bucket}"
        if key not in announced and not any(e.severity is Severity.CRITICAL for e in events):
            worst = [f for f in report.findings if f.severity is Severity.CRITICAL]
            events.append(
                AlertEvent(key, EventType.PROBLEM, Severity.CRITICAL, "still critical", findings=tuple(worst))
            )
        # This bucket is covered (by the repeat, or by what was just announced); older ones are done with.
        announced = {k for k in announced if not k.startswith(repeat_prefix)} | {key}
    announced |= {e.key for e in events}
    return replace(state, announced=frozenset(announced)), events


def _unreachable(
    target_id: str, state: AlertState, report: Observation, policy: AlertPolicy
) -> tuple[AlertState, list[AlertEvent]]:
    failures = state.failures + 1
    state = replace(state, failures=failures)
    if failures < policy.unreachable_after or state.unreachable:
        return state, []
    failed = tuple(f for f in report.findings if f.code is FindingCode.CONNECTION_FAILED)
    reason = failed[0].message if failed else "no address answered"
    event = AlertEvent(
        f"{target_id}:unreachable:{state.unreachable_episode}",
        EventType.UNREACHABLE,
        Severity.CRITICAL,
        f"unreachable for {failures} checks in a row: {reason}",
        findings=failed,
    )
    return replace(state, unreachable=True, announced=state.announced | {event.key}), [event]


def _renewal(target_id: str, state: AlertState, leaf: CertificateInfo) -> tuple[AlertState, list[AlertEvent]]:
    old, new = state.fingerprint, leaf.fingerprint_sha256
    if old == new:
        return state, []
    events = []
    alerted_prefix = f"{target_id}:{old}:"
    if old is not None and any(
        key.startswith(alerted_prefix) and any(mark in key for mark in _REPLACEMENT_NEWS) for key in state.announced
    ):
        events.append(
            AlertEvent(
                f"{target_id}:{old}:renewed:{new}",
                EventType.RENEWED,
                Severity.INFO,
                f"a new certificate is served, valid until {leaf.not_after:%Y-%m-%d}",
                previous_fingerprint=old,
            )
        )
    # Keys of the old certificate are done with; episodes carry on.
    kept = frozenset(key for key in state.announced if not key.startswith(alerted_prefix))
    return replace(state, fingerprint=new, announced=kept | {e.key for e in events}), events


# Announced keys after which a new certificate is news (certificate.renewed).
_REPLACEMENT_NEWS = (":expiring:", ":expired", ":revoked", ":renewal_requested:", ":renewed_not_deployed:")


def _what_the_ca_says(
    target_id: str, leaf: CertificateInfo, report: Observation, announced: frozenset[str]
) -> tuple[list[AlertEvent], set[str]]:
    """certificate.revoked, certificate.renewal_requested and certificate.renewed_not_deployed, each once per
    certificate (and severity)."""
    prefix = f"{target_id}:{leaf.fingerprint_sha256}"
    events = []
    revoked = _codes(report, FindingCode.REVOKED)
    if revoked and f"{prefix}:revoked" not in announced:
        events.append(
            AlertEvent(
                f"{prefix}:revoked",
                EventType.REVOKED,
                Severity.CRITICAL,
                "certificate revoked by its CA",
                findings=revoked,
            )
        )
    requested = _codes(report, FindingCode.RENEWAL_REQUESTED)
    done: set[str] = _not_deployed(prefix, report, announced, events)
    if requested:
        severity = max((f.severity for f in requested), key=lambda s: s.rank)
        key = f"{prefix}:renewal_requested:{severity.value}"
        # A critical request settles the warning one: it is the same request, later.
        done |= {key} | ({f"{prefix}:renewal_requested:warning"} if severity is Severity.CRITICAL else set())
        if key not in announced:
            events.append(
                AlertEvent(
                    key,
                    EventType.RENEWAL_REQUESTED,
                    severity,
                    "the CA asks for renewal now (ACME renewal information)",
                    findings=requested,
                )
            )
    return events, done | {e.key for e in events}


def _not_deployed(prefix: str, report: Observation, announced: frozenset[str], events: list[AlertEvent]) -> set[str]:
    """certificate.renewed_not_deployed once per served certificate and severity (appended to ``events``)."""
    found = _codes(report, FindingCode.RENEWED_NOT_DEPLOYED)
    if not found:
        return set()
    severity = max((f.severity for f in found), key=lambda s: s.rank)
    key = f"{prefix}:renewed_not_deployed:{severity.value}"
    if key not in announced:
        summary = "a renewed certificate is in CT but not deployed"
        events.append(AlertEvent(key, EventType.RENEWED_NOT_DEPLOYED, severity, summary, findings=found))
    return {key}


def _expiry(
    target_id: str,
    leaf: CertificateInfo,
    report: Observation,
    policy: AlertPolicy,
    now: datetime,
    announced: frozenset[str],
) -> tuple[list[AlertEvent], set[str]]:
    """Expiry events due, and the keys they settle (a tighter threshold settles the looser ones)."""
    prefix = f"{target_id}:{leaf.fingerprint_sha256}"
    left = leaf.not_after - now
    if left < timedelta(0):
        key, still = f"{prefix}:expired", f"{prefix}:expired:{STILL_THERE}"
        findings = _codes(report, FindingCode.EXPIRED)
        severity = max((f.severity for f in findings), key=lambda s: s.rank, default=Severity.CRITICAL)
        if -left > STILL_THERE_AFTER:
            # Still in place a day after it expired: said again, and no silence but one naming the
            # certificate hides it (domain.silences). One found this late gets this one alone.
            if still in announced:
                return [], set()
            when = f"certificate expired on {leaf.not_after:%Y-%m-%d} and is still in place a day later"
            return [AlertEvent(still, EventType.EXPIRED, severity, when, findings=findings)], {key, still}
        if key in announced:
            return [], set()
        expired = AlertEvent(
            key,
            EventType.EXPIRED,
            severity,
            f"certificate expired on {leaf.not_after:%Y-%m-%d}",
            findings=findings,
        )
        return [expired], {key}
    crossed = [days for days in policy.thresholds if left <= timedelta(days=days)]
    if not crossed:
        return [], set()
    tightest = min(crossed)
    key = f"{prefix}:expiring:{tightest}"
    done = {f"{prefix}:expiring:{days}" for days in crossed}
    if key in announced:
        return [], done
    days_left = report.days_left if report.days_left is not None else left.days
    when = "today" if days_left == 0 else f"in {days_left} day{'s' if days_left != 1 else ''}"
    findings = _codes(report, FindingCode.EXPIRING_SOON)
    critical = left <= timedelta(days=policy.critical_days)
    # The check's own judgement wins when it has one (an unused ACM certificate's expiry matters less).
    severity = max((f.severity for f in findings), key=lambda s: s.rank, default=None) or (
        Severity.CRITICAL if critical else Severity.WARNING
    )
    expiring = AlertEvent(
        key,
        EventType.EXPIRING,
        severity,
        f"certificate expires {when} ({leaf.not_after:%Y-%m-%d})",
        threshold_days=tightest,
        findings=findings,
    )
    return [expiring], done


def _problems(
    target_id: str, state: AlertState, report: Observation, fingerprint: str, ignored: set[FindingCode]
) -> tuple[AlertState, list[AlertEvent]]:
    present = {
        f.code.value: f
        for f in report.findings
        if f.code not in _NOT_PROBLEMS | ignored
        and (f.severity is Severity.CRITICAL or f.code is FindingCode.RENEWAL_OVERDUE)
    }
    # An ignored finding still there is not "resolved": it is only not news any more.
    still_open = {f.code.value for f in report.findings if f.code in ignored} & state.problems
    new = sorted(set(present) - state.problems)
    events = []
    if new:
        findings = tuple(present[code] for code in new)
        worst = Severity.CRITICAL if any(f.severity is Severity.CRITICAL for f in findings) else Severity.WARNING
        events.append(
            AlertEvent(
                f"{target_id}:{fingerprint}:problem:{state.problem_episode}:{'+'.join(new)}",
                EventType.PROBLEM,
                worst,
                ", ".join(_PROBLEM_NAMES.get(f.code, f.code.value) for f in findings),
                findings=findings,
            )
        )
    if state.problems and not present and not still_open:
        events.append(
            AlertEvent(
                f"{target_id}:problems:{state.problem_episode}:recovered",
                EventType.RECOVERED,
                Severity.INFO,
                f"resolved: {', '.join(sorted(state.problems))}",
            )
        )
        return replace(state, problems=frozenset(), problem_episode=state.problem_episode + 1), events
    return replace(state, problems=frozenset(present) | still_open), events


def incident(key: str, type: EventType) -> str | None:
    """The incident an event opens, updates or closes, read from its key: the same for all of them.

    A certificate's expiry (``<target>:<fingerprint>``: every threshold, the expiry, then the
    renewal that replaces it), an unreachable episode and a problem episode each make one
    incident. A "still critical" repeat belongs to none: it reminds of what is already open.
    """
    if type is EventType.RENEWED:  # <target>:<old fingerprint>:renewed:<new fingerprint>
        return key.rpartition(":renewed:")[0] or None
    if type is EventType.EXPIRING:  # <target>:<fingerprint>:expiring:<days>
        return key.rpartition(":expiring:")[0] or None
    if type is EventType.EXPIRED:  # <target>:<fingerprint>:expired[:still-there]
        return key.removesuffix(f":{STILL_THERE}").removesuffix(":expired")
    if type is EventType.UNREACHABLE:  # <target>:unreachable:<episode>
        return key
    if type is EventType.RENEWED_NOT_DEPLOYED:  # <target>:<fingerprint>:renewed_not_deployed:<severity>
        return key.rpartition(":renewed_not_deployed:")[0] or None  # the served certificate's: its renewal closes it
    if type is EventType.UNEXPECTED_ISSUANCE:  # <domain>:unexpected:<TBS hash>
        return key
    if type is EventType.DOMAIN_EXPIRING:  # <domain>:<its end, YYYYMMDD>:domain_expiring:<days>
        return key.rpartition(":domain_expiring:")[0] or None
    if type is EventType.RECOVERED:  # <target>:unreachable:<episode>:recovered, <target>:problems:<episode>:recovered
        return key.removesuffix(":recovered")
    head, found, rest = key.rpartition(":problem:")  # <target>:<fingerprint>:problem:<episode>:<codes>
    if not found:
        return None  # <target>:<fingerprint>:repeat:<bucket>
    return f"{head.rpartition(':')[0]}:problems:{rest.partition(':')[0]}"


def _codes(report: Observation, code: FindingCode) -> tuple[Finding, ...]:
    return tuple(f for f in report.findings if f.code is code)


@dataclass(frozen=True, slots=True)
class Notification:
    """An event ready to publish: recorded in the outbox first, so nothing is lost if SNS fails.

    Typed facts, not a rendered message: each channel renders it at its edge (the SNS publisher,
    the Slack and webhook relays), from the one declared event document.
    """

    key: str
    team: str
    target_id: str
    event: AlertEvent
    subject: AlertSubject
    observed: Observation
    created_at: datetime
    silenced_by: str | None = None  # the silence or maintenance window that keeps it from being delivered

    @classmethod
    def of(cls, event: AlertEvent, subject: AlertSubject, observed: Observation, now: datetime) -> Notification:
        return cls(event.key, subject.team, subject.id, event, subject, observed, now)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """What the event is about: its own findings, else everything the check found."""
        return self.event.findings or self.observed.findings


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """A notification as the outbox keeps it: delivered (published), waiting, or silenced."""

    notification: Notification
    published: bool

    @property
    def state(self) -> str:
        """``silenced`` (recorded, never delivered), ``published`` or ``pending`` (to be published)."""
        if self.notification.silenced_by is not None:
            return "silenced"
        return "published" if self.published else "pending"
