"""The ports of the services: the storage contract, and the queue that asks for checks.

``DynamoStore`` (chalicelib/adapters/dynamo/) implements the store; ``InMemoryStore``
(tests/support/fakes.py) is its fake, and one contract test suite runs against both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.alerts import AlertState, Holder, Notification, RecordedEvent
from chalicelib.domain.cadence import Sighting
from chalicelib.domain.inventory import Assessment
from chalicelib.domain.models import TargetReport
from chalicelib.domain.silences import MaintenanceWindow, Silence
from chalicelib.domain.targets import (
    CLEARABLE,
    SPEC_CHANGES,
    Page,
    ResultSummary,
    Target,
    TargetChanges,
    TargetFilter,
)
from chalicelib.domain.teams import TeamSettings
from chalicelib.domain.tokens import TokenStore


class CertificateHistory(Protocol):
    """Which certificates each target served, and since when (its renewal cadence is derived from it)."""

    def record_sighting(self, team: str, target_id: str, sighting: Sighting) -> bool:
        """Keep ``sighting`` unless this certificate was seen at the target before; False when it was."""

    def sightings(self, team: str, target_id: str) -> list[Sighting]:
        """Every certificate the target was seen serving, oldest first."""

    def team_sightings(self, team: str) -> dict[str, list[Sighting]]:
        """Every target's sightings in the team, by target id (oldest first)."""


class CertificateHolders(Protocol):
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


class TeamSettingsStore(Protocol):
    def team_settings(self, team: str) -> TeamSettings:
        """What the team chose (the defaults when it chose nothing)."""

    def put_team_settings(self, team: str, settings: TeamSettings) -> None:
        """Replace the team's settings."""


class Quiet(Protocol):
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


class TargetStore(TokenStore, CertificateHistory, CertificateHolders, TeamSettingsStore, Quiet, Protocol):
    """Targets, their latest results, what was announced, the certificates they served, and API tokens."""

    def create_target(self, target: Target) -> None:
        """Store a new target; DuplicateTargetError when its team already has that endpoint."""

    def get_target(self, team: str, target_id: str) -> Target:
        """The target, or NotFoundError (also for another team's target)."""

    def list_targets(self, team: str, *, limit: int, cursor: str | None, where: TargetFilter) -> Page:
        """A team's targets in creation order, filtered, ``limit`` at a time."""

    def update_target(self, team: str, target_id: str, changes: TargetChanges, now: datetime) -> Target:
        """Change only the fields set in ``changes``; other writers' fields are kept."""

    def delete_target(self, team: str, target_id: str) -> None:
        """Remove the target with everything of it: its result, alert state, notifications, history,
        and its place among the holders of the certificates it served (NotFoundError if there is none)."""

    def save_result(
        self,
        team: str,
        target_id: str,
        summary: ResultSummary,
        report: TargetReport,
        next_check_at: datetime,
        *,
        sightings: Sequence[Sighting] = (),
    ) -> None:
        """Record a check's outcome and the certificates it saw first, all or nothing.

        NotFoundError when the target was deleted meanwhile: then nothing is written, history
        included. A sighting of a certificate seen before keeps what was first recorded.
        """

    def get_result(self, team: str, target_id: str) -> TargetReport | None:
        """The latest check's full report, if the target was ever checked."""

    def team_reports(self, team: str) -> dict[str, TargetReport]:
        """The latest full report of every target of the team that was checked, by target id."""

    def due_targets(self, now: datetime) -> Iterator[tuple[str, str]]:
        """(team, id) of unpaused targets whose next check is at or before ``now``, without a full scan."""

    def lease(self, team: str, target_id: str, now: datetime, until: datetime) -> bool:
        """Claim a due target for a sweep: move its next check to ``until`` if it is still due at ``now``."""

    def get_alert_state(self, team: str, target_id: str) -> AlertState:
        """What has been announced for the target (an empty state if nothing yet)."""

    def put_alert_state(self, team: str, target_id: str, state: AlertState) -> None:
        """Replace the target's alert state."""

    def record_notification(self, notification: Notification) -> bool:
        """Add to the outbox as pending (a silenced one only to be shown); False when its key was recorded
        before (announce once)."""

    def team_events(self, team: str, limit: int = 100) -> list[RecordedEvent]:
        """The team's recorded events, newest first: published, pending or silenced."""

    def pending_notifications(self, limit: int = 100) -> list[Notification]:
        """Recorded but not yet published notifications, oldest first."""

    def mark_published(self, notification: Notification) -> None:
        """Take a published notification out of the pending ones."""

    def put_managed(self, assessment: Assessment) -> None:
        """Record the latest assessment of a certificate held in ACM/IAM (by its ARN)."""

    def list_managed(self) -> list[Assessment]:
        """Every certificate held in ACM/IAM that the last scans saw."""

    def delete_managed(self, arn: str) -> None:
        """Forget a certificate that is gone from ACM/IAM."""


def apply_changes(target: Target, changes: TargetChanges, now: datetime) -> Target:
    """The target as ``changes`` leave it (the in-memory store's update, and the service's preview)."""
    spec = target.spec
    updates: dict[str, Any] = {
        name: getattr(changes, name) for name in SPEC_CHANGES if getattr(changes, name) is not None
    }
    updates |= dict.fromkeys(set(CLEARABLE) & changes.cleared)
    paused = target.paused if changes.paused is None else changes.paused
    return dataclasses.replace(target, spec=dataclasses.replace(spec, **updates), paused=paused, updated_at=now)


class CheckQueue(Protocol):
    def enqueue(self, refs: Sequence[tuple[str, str]]) -> None:
        """Ask for these (team, target id) to be checked soon, by a worker."""
