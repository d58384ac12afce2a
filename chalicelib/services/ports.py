"""The services' ports: what each service asks of the systems around it, one small Protocol per need.

The store's ports are cut by the records they keep (``Targets``, ``Results``, ``Schedule``,
``AlertLedger``, ``Outbox``, ``History``, ``Holders``, ``Teams``, ``Silences``, ``Inventory``,
``Tokens``, ``WatchedDomains``, ``Issuances``); a service's constructor names the ones it uses,
and nothing else. One object implements them all (``Store``): ``DynamoStore``
(chalicelib/adapters/dynamo/) on one table, and ``InMemoryStore`` (tests/support/fakes.py), its
fake. The composition root hands that one object to each service as the ports the service asks
for, and the contract suite (tests/functional/test_store_contract.py) holds both to each port's
promises.

The other ports are the queue, the checker, DNS, discovery, the ACM/IAM sources, the CT and
RDAP sources, the alerter as a watched domain's sweep announces through it, the publisher and
the relays' destinations; each is implemented by one adapter (or service) and one fake.
"""

from __future__ import annotations

from collections.abc import Iterator, KeysView, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

# Annotations only: a service that imports its ports loads none of the domain it does not use.
if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.domain.alerts import (
        AlertEvent,
        AlertState,
        AlertSubject,
        Holder,
        Notification,
        Observation,
        RecordedEvent,
    )
    from chalicelib.domain.cadence import Sighting
    from chalicelib.domain.domains import Issuance, IssuancePage, WatchedDomain
    from chalicelib.domain.inventory import Assessment, CertificateScan, Discovered, ManagedCertificate
    from chalicelib.domain.models import PosturePolicy, TargetReport
    from chalicelib.domain.schedule import Window
    from chalicelib.domain.silences import MaintenanceWindow, Silence
    from chalicelib.domain.targets import Page, ResultSummary, Target, TargetChanges, TargetFilter
    from chalicelib.domain.teams import TeamSettings
    from chalicelib.domain.tokens import TokenRecord
    from chalicelib.domain.webhooks import Claim, Destination
    from chalicelib.presentation.event_shapes import EventDocument


# --- the store -------------------------------------------------------------------------------


class Targets(Protocol):
    """The registered targets of each team."""

    def create_target(self, target: Target) -> None:
        """Store a new target; DuplicateTargetError when its team already has that endpoint."""

    def get_target(self, team: str, target_id: str) -> Target:
        """The target, or NotFoundError (also for another team's target)."""

    def get_targets(self, refs: Sequence[tuple[str, str]], *, consistent: bool = True) -> dict[tuple[str, str], Target]:
        """The targets of ``(team, target_id)`` references, read together (as ``get_target`` reads one), by
        reference; one that does not exist is left out."""

    def list_targets(self, team: str, *, limit: int, cursor: str | None, where: TargetFilter) -> Page:
        """A team's targets in creation order, filtered, ``limit`` at a time."""

    def update_target(self, team: str, target_id: str, changes: TargetChanges, now: datetime) -> Target:
        """Change only the fields set in ``changes``; other writers' fields are kept."""

    def delete_target(self, team: str, target_id: str) -> None:
        """Remove the target with everything of it: its result, alert state, notifications, history,
        and its place among the holders of the certificates it served (NotFoundError if there is none)."""


class Results(Protocol):
    """Each target's latest check: its summary on the target, and the full report."""

    def save_result(
        self,
        team: str,
        target_id: str,
        summary: ResultSummary,
        report: TargetReport,
        *,
        sightings: Sequence[Sighting] = (),
    ) -> None:
        """Record a check's outcome and the certificates it saw first, all or nothing.

        NotFoundError when the target was deleted meanwhile: then nothing is written, history
        included. A sighting of a certificate seen before keeps what was first recorded.
        """

    def save_summary(self, team: str, target_id: str, summary: ResultSummary) -> None:
        """Record a check that found what the stored result says: the summary only,
        the full report as it was (NotFoundError when the target was deleted meanwhile)."""

    def refresh_result(self, team: str, target_id: str, summary: ResultSummary, report: TargetReport) -> None:
        """Record a check that found what the stored result says once that result is old (``unchanged_since``):
        the full report written again, then the summary, as two plain writes rather than
        one transaction, since either way they tell the same verdict. NotFoundError when the target was
        deleted meanwhile: then the report written is removed again."""

    def get_result(self, team: str, target_id: str) -> TargetReport | None:
        """The latest check's full report, if the target was ever checked."""

    def team_reports(self, team: str) -> dict[str, TargetReport]:
        """The latest full report of every target of the team that was checked, by target id."""


class Schedule(Protocol):
    """Each target's slot, and the sweeps' claims on windows of time (chalicelib/domain/schedule.py)."""

    def due_targets(self, *windows: tuple[datetime, datetime]) -> Iterator[tuple[str, str, datetime]]:
        """(team, id, moment) of each unpaused target with a moment of its slot in a window (after, until], the
        latest such moment, without a full scan (a target in two windows comes once from each)."""

    def claim_window(self, now: datetime) -> Window | None:
        """Claim the sweep's window, from the last claimed window's end to ``now``, and the claims an hour old
        or more that no sweep went over again yet; None when a sweep has claimed as far already."""

    def get_targets(self, refs: Sequence[tuple[str, str]], *, consistent: bool = True) -> dict[tuple[str, str], Target]:
        """As Targets.get_targets; ``consistent=False`` may miss the latest writes, for half the cost."""


class AlertLedger(Protocol):
    """What has been announced for each subject of alerts (a target, or a certificate held in ACM/IAM)."""

    def get_alert_state(self, team: str, target_id: str) -> AlertState:
        """What has been announced for the subject (an empty state if nothing yet)."""

    def get_alert_states(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], AlertState]:
        """``get_alert_state`` of each (team, id) at once: every one given is in the answer."""

    def put_alert_state(self, team: str, target_id: str, state: AlertState) -> None:
        """Replace the subject's alert state."""


class Outbox(Protocol):
    """The notifications recorded before they are published, once per event key, and kept to be shown."""

    def record_notification(self, notification: Notification) -> bool:
        """Add to the outbox as pending (a silenced one only to be shown); False when its key was recorded
        before (announce once)."""

    def pending_notifications(self, limit: int = 100) -> list[Notification]:
        """Recorded but not yet published notifications, oldest first."""

    def mark_published(self, notification: Notification) -> None:
        """Take a published notification out of the pending ones."""

    def team_events(self, team: str, limit: int = 100) -> list[RecordedEvent]:
        """The team's recorded events, newest first: published, pending or silenced."""


class History(Protocol):
    """Which certificates each target served, and since when (its renewal cadence is derived from it)."""

    def record_sighting(self, team: str, target_id: str, sighting: Sighting) -> bool:
        """Keep ``sighting`` unless this certificate was seen at the target before; False when it was."""

    def sightings(self, team: str, target_id: str) -> list[Sighting]:
        """Every certificate the target was seen serving, oldest first."""

    def team_sightings(self, team: str) -> dict[str, list[Sighting]]:
        """Every target's sightings in the team, by target id (oldest first)."""


class Holders(Protocol):
    """Which endpoints (and ACM/IAM certificates) of a team serve each certificate, by its fingerprint."""

    def certificate_holders(self, team: str, fingerprint: str) -> frozenset[Holder]:
        """Every holder of the certificate now."""

    def join_certificate(self, team: str, fingerprint: str, holder: Holder) -> None:
        """``holder`` serves the certificate now."""

    def leave_certificate(
        self, team: str, fingerprint: str, holder: Holder
    ) -> tuple[frozenset[Holder], frozenset[Holder]]:
        """``holder`` serves it no more: who still does, and who moved on from it (``holder`` too).

        A certificate nobody serves any more is forgotten with that answer.
        """


class Teams(Protocol):
    """What each team chose."""

    def team_settings(self, team: str) -> TeamSettings:
        """What the team chose (the defaults when it chose nothing)."""

    def put_team_settings(self, team: str, settings: TeamSettings) -> None:
        """Replace the team's settings."""


class Silences(Protocol):
    """A team's silences and maintenance windows."""

    def put_silence(self, silence: Silence) -> None:
        """Keep a silence (a new one, or one changed)."""

    def silences(self, team: str) -> list[Silence]:
        """Every silence of the team, ended ones too."""

    def end_silence(self, team: str, silence_id: str, now: datetime) -> Silence:
        """End a silence now; NotFoundError when the team has none of that id."""

    def put_window(self, window: MaintenanceWindow) -> None:
        """Keep a maintenance window."""

    def windows(self, team: str) -> list[MaintenanceWindow]:
        """Every maintenance window of the team, past ones too."""

    def end_window(self, team: str, window_id: str, now: datetime) -> MaintenanceWindow:
        """End a window now; NotFoundError when the team has none of that id."""


class Inventory(Protocol):
    """The latest assessment of each certificate held in ACM/IAM, by its ARN."""

    def put_managed(self, assessment: Assessment) -> None:
        """Record the latest assessment of a certificate held in ACM/IAM."""

    def list_managed(self) -> list[Assessment]:
        """Every certificate held in ACM/IAM that the last scans saw."""

    def delete_managed(self, arn: str) -> None:
        """Forget a certificate that is gone from ACM/IAM."""


class Tokens(Protocol):
    """The API tokens' records (a hash of each secret, never the token)."""

    def put_token(self, record: TokenRecord) -> None:
        """Keep a new token's record."""

    def get_token(self, token_id: str) -> TokenRecord | None:
        """The record of a token id, or None when there is none."""

    def list_tokens(self) -> list[TokenRecord]:
        """Every token's record."""

    def delete_token(self, token_id: str) -> bool:
        """Revoke a token; False when there was none of that id."""


class WatchedDomains(Protocol):
    """Each team's watched domains, with what their sweeps learnt."""

    def create_domain(self, domain: WatchedDomain) -> None:
        """Keep a new watched domain; DuplicateDomainError when the team watches it already."""

    def get_domain(self, team: str, domain_id: str) -> WatchedDomain:
        """One watched domain; NotFoundError when the team has none of that id."""

    def list_domains(self, team: str | None = None) -> list[WatchedDomain]:
        """A team's watched domains (every team's with None), by name."""

    def save_domain(self, domain: WatchedDomain) -> None:
        """Replace what a sweep learnt of a domain; NotFoundError when it was removed meanwhile."""

    def delete_domain(self, team: str, domain_id: str) -> None:
        """Stop watching; NotFoundError when the team has none of that id."""


class Issuances(Protocol):
    """The CT issuances seen for each team's watched domains, by TBS hash (a precertificate and its
    certificate are one)."""

    def record_issuances(self, team: str, issuances: Sequence[Issuance]) -> list[Issuance]:
        """Keep issuances seen for the team's domains; returns those not kept before."""

    def team_issuances(self, team: str) -> list[Issuance]:
        """Every issuance kept for the team."""


class Store(
    Targets,
    Results,
    Schedule,
    AlertLedger,
    Outbox,
    History,
    Holders,
    Teams,
    Silences,
    Inventory,
    Tokens,
    WatchedDomains,
    Issuances,
    Protocol,
):
    """Every port of the store: what a storage backend implements (the composition root holds one)."""


# --- the other ports -------------------------------------------------------------------------


class CheckQueue(Protocol):
    def enqueue(self, refs: Sequence[tuple[str, str]]) -> None:
        """Ask for these (team, target id) to be checked soon, by a worker."""


@dataclass(frozen=True, slots=True)
class CheckedTarget:
    """A target, the report of the check just made, and the notifications published."""

    target: Target
    report: TargetReport
    notifications: tuple[Notification, ...] = ()


@dataclass(frozen=True, slots=True)
class TeamReads:
    """What a run of checks reads once per team: each team's posture policy (a team whose settings could not be
    read is left out, its targets retried) and its CT issuances (None where they could not be read)."""

    postures: Mapping[str, PosturePolicy]
    issuances: Mapping[str, list[Issuance] | None]  # every team read

    @property
    def teams(self) -> KeysView[str]:
        """The teams read."""
        return self.issuances.keys()


class Checker(Protocol):
    def read_teams(self, teams: Sequence[str]) -> TeamReads:
        """What ``run`` reads of these teams, read now (at once), for a run to come."""

    def run(
        self, targets: Sequence[Target], teams: TeamReads | None = None, *, whole_reports: bool = False
    ) -> tuple[list[CheckedTarget], list[Target]]:
        """Check now, store each result and alert on it: what was checked, and the targets to retry
        (whose result could not be stored); a target deleted meanwhile is in neither. ``teams``: their teams
        read beforehand (``read_teams``), else they are read first. ``whole_reports``: every report whole (its
        renewal cadence too), as the API returns a check; else an unchanged verdict's report may leave it out."""


class Resolver(Protocol):
    def resolve(self, host: str, port: int, *, timeout: float) -> list[str]:
        """The addresses of ``host``; ProbeError when it has none (or DNS fails)."""


class EndpointFinder(Protocol):
    def discover(self) -> Discovered:
        """The account's public TLS endpoints, and what could not be read."""


class CertificateSource(Protocol):
    @property
    def places(self) -> tuple[str, ...]:
        """Where a scan looks (regions, or ``iam``): what it does not see there is gone."""

    def scan(self) -> CertificateScan:
        """Every certificate the source holds, and what could not be read."""


class AcmLookup(Protocol):
    def describe(self, arn: str) -> ManagedCertificate:
        """One ACM certificate by ARN; NotFoundError when there is none."""


class IssuanceSource(Protocol):
    """A Certificate Transparency source: the issuances for a domain discovered after a cursor."""

    def issuances(self, domain: str, *, include_subdomains: bool, after: str | None) -> IssuancePage:
        """Every issuance after ``after`` (all pages); FetchError (RateLimitedError) when it cannot be had."""


class RegistrationSource(Protocol):
    """The registry's record of a domain (RDAP)."""

    def expiration(self, domain: str) -> datetime | None:
        """When the registration ends (None: the registry does not say); FetchError when it cannot be had."""


class Announcer(Protocol):
    """The alerting path for events decided elsewhere (a watched domain's sweep): the outbox, silences,
    every channel."""

    def announce(
        self, subject: AlertSubject, observed: Observation, events: Sequence[AlertEvent]
    ) -> list[Notification]:
        """Record each event once in the outbox and publish those no silence keeps quiet."""


class Publisher(Protocol):
    def publish(self, notification: Notification) -> str:
        """Publish one notification (rendered by the publisher); PublishError when it is not taken."""


class SlackPoster(Protocol):
    def post_event(self, document: EventDocument) -> bool:
        """Post one event (rendered by the poster); False when there is nowhere to post (not configured)."""


class DestinationSource(Protocol):
    def destinations(self) -> list[Destination]:
        """Every registered destination."""


class DeliveryLog(Protocol):
    def claim(self, destination_id: str, event_key: str, now: datetime, until: datetime) -> Claim:
        """Take the delivery of ``event_key`` to the destination until ``until``, unless delivered or held."""

    def delivered(self, destination_id: str, event_key: str, now: datetime) -> None:
        """Record that the destination took the event: no invocation sends it there again."""

    def release(self, destination_id: str, event_key: str, now: datetime) -> None:
        """Give a claim up (the POST failed): the next invocation may claim it at once."""


class Poster(Protocol):
    def deliver(self, destination: Destination, document: EventDocument) -> bool:
        """POST the event in the destination's format (rendered by the poster), with retries.

        False when the format has nothing to send for it (PagerDuty and a "still critical"
        reminder); a CertwatchError when the destination did not take it.
        """
