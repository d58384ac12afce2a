"""The registry's storage contract, and an in-memory implementation of it (tests, `certwatch` offline).

``DynamoStore`` (chalicelib/dynamo.py) is the other implementation; one contract test suite
runs against both.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.alerts import AlertState, Notification
from chalicelib.domain.cadence import Sighting
from chalicelib.domain.inventory import Assessment
from chalicelib.domain.targets import (
    SPEC_CHANGES,
    Page,
    ResultSummary,
    Target,
    TargetChanges,
    TargetFilter,
    decode_cursor,
    encode_cursor,
)
from chalicelib.domain.tokens import TokenRecord, TokenStore
from chalicelib.errors import DuplicateTargetError, InvalidRequestError, NotFoundError


class TargetStore(TokenStore, Protocol):
    """Targets, their latest results and API tokens."""

    def create_target(self, target: Target) -> None:
        """Store a new target; DuplicateTargetError when its team already has that endpoint."""

    def get_target(self, team: str, target_id: str) -> Target:
        """The target, or NotFoundError (also for another team's target)."""

    def list_targets(self, team: str, *, limit: int, cursor: str | None, where: TargetFilter) -> Page:
        """A team's targets in creation order, filtered, ``limit`` at a time."""

    def update_target(self, team: str, target_id: str, changes: TargetChanges, now: datetime) -> Target:
        """Change only the fields set in ``changes``; other writers' fields are kept."""

    def delete_target(self, team: str, target_id: str) -> None:
        """Remove the target with its result (NotFoundError if there is none)."""

    def save_result(
        self, team: str, target_id: str, summary: ResultSummary, document: dict[str, Any], next_check_at: datetime
    ) -> None:
        """Record a check's outcome; NotFoundError when the target was deleted meanwhile."""

    def get_result(self, team: str, target_id: str) -> dict[str, Any] | None:
        """The latest full check result document, if the target was ever checked."""

    def due_targets(self, now: datetime) -> Iterator[tuple[str, str]]:
        """(team, id) of unpaused targets whose next check is at or before ``now``, without a full scan."""

    def lease(self, team: str, target_id: str, now: datetime, until: datetime) -> bool:
        """Claim a due target for a sweep: move its next check to ``until`` if it is still due at ``now``."""

    def get_alert_state(self, team: str, target_id: str) -> AlertState:
        """What has been announced for the target (an empty state if nothing yet)."""

    def put_alert_state(self, team: str, target_id: str, state: AlertState) -> None:
        """Replace the target's alert state."""

    def record_notification(self, notification: Notification) -> bool:
        """Add to the outbox as pending; False when its key was recorded before (announce once)."""

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


class CertificateHistory(Protocol):
    """Which certificates each target served, and since when (its renewal cadence is derived from it)."""

    def record_sighting(self, team: str, target_id: str, sighting: Sighting) -> bool:
        """Keep ``sighting`` unless this certificate was seen at the target before; False when it was."""

    def sightings(self, team: str, target_id: str) -> list[Sighting]:
        """Every certificate the target was seen serving, oldest first."""

    def team_sightings(self, team: str) -> dict[str, list[Sighting]]:
        """Every target's sightings in the team, by target id (oldest first)."""


def apply_changes(target: Target, changes: TargetChanges, now: datetime) -> Target:
    """The target as ``changes`` leave it (the in-memory store's update, and the service's preview)."""
    spec = target.spec
    updates: dict[str, Any] = {
        name: getattr(changes, name) for name in SPEC_CHANGES if getattr(changes, name) is not None
    }
    if changes.clear_notes:
        updates["notes"] = None
    paused = target.paused if changes.paused is None else changes.paused
    return dataclasses.replace(target, spec=dataclasses.replace(spec, **updates), paused=paused, updated_at=now)


class InMemoryStore:
    """A TargetStore in a dict, safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: dict[tuple[str, str], Target] = {}
        self._keys: dict[tuple[str, str], str] = {}
        self._results: dict[tuple[str, str], dict[str, Any]] = {}
        self._tokens: dict[str, TokenRecord] = {}
        self._alert_states: dict[tuple[str, str], AlertState] = {}
        self._outbox: dict[str, tuple[Notification, bool]] = {}  # key -> (notification, published)
        self._managed: dict[str, Assessment] = {}
        self._history: dict[tuple[str, str], dict[str, Sighting]] = {}

    def create_target(self, target: Target) -> None:
        with self._lock:
            existing = self._keys.get((target.team, target.key))
            if existing is not None:
                raise DuplicateTargetError(existing)
            self._targets[(target.team, target.id)] = target
            self._keys[(target.team, target.key)] = target.id

    def get_target(self, team: str, target_id: str) -> Target:
        with self._lock:
            return self._get(team, target_id)

    def list_targets(self, team: str, *, limit: int, cursor: str | None, where: TargetFilter) -> Page:
        after = ""
        if cursor:
            after = decode_cursor(cursor).get("after", "")
            if not isinstance(after, str) or not after.startswith("tg_"):
                raise InvalidRequestError("invalid cursor", field="cursor", code="invalid_cursor")
        with self._lock:
            ids = sorted(tid for (owner, tid) in self._targets if owner == team and tid > after)
            matching = [t for t in (self._targets[(team, tid)] for tid in ids) if where.matches(t)]
        page = matching[:limit]
        more = len(matching) > limit
        return Page(tuple(page), encode_cursor({"after": page[-1].id}) if more else None)

    def update_target(self, team: str, target_id: str, changes: TargetChanges, now: datetime) -> Target:
        with self._lock:
            updated = apply_changes(self._get(team, target_id), changes, now)
            self._targets[(team, target_id)] = updated
            return updated

    def delete_target(self, team: str, target_id: str) -> None:
        with self._lock:
            target = self._get(team, target_id)
            del self._targets[(team, target_id)]
            self._keys.pop((team, target.key), None)
            self._results.pop((team, target_id), None)
            self._alert_states.pop((team, target_id), None)
            self._history.pop((team, target_id), None)
            for key in [k for k, (n, _) in self._outbox.items() if (n.team, n.target_id) == (team, target_id)]:
                del self._outbox[key]

    def save_result(
        self, team: str, target_id: str, summary: ResultSummary, document: dict[str, Any], next_check_at: datetime
    ) -> None:
        with self._lock:
            target = self._get(team, target_id)
            self._targets[(team, target_id)] = dataclasses.replace(target, latest=summary, next_check_at=next_check_at)
            self._results[(team, target_id)] = document

    def get_result(self, team: str, target_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._results.get((team, target_id))

    def due_targets(self, now: datetime) -> Iterator[tuple[str, str]]:
        with self._lock:
            due = [t for t in self._targets.values() if not t.paused and t.next_check_at <= now]
        yield from ((t.team, t.id) for t in sorted(due, key=lambda t: t.next_check_at))

    def lease(self, team: str, target_id: str, now: datetime, until: datetime) -> bool:
        with self._lock:
            target = self._targets.get((team, target_id))
            if target is None or target.paused or target.next_check_at > now:
                return False
            self._targets[(team, target_id)] = dataclasses.replace(target, next_check_at=until)
            return True

    def get_alert_state(self, team: str, target_id: str) -> AlertState:
        with self._lock:
            return self._alert_states.get((team, target_id), AlertState())

    def put_alert_state(self, team: str, target_id: str, state: AlertState) -> None:
        with self._lock:
            self._alert_states[(team, target_id)] = state

    def record_notification(self, notification: Notification) -> bool:
        with self._lock:
            if notification.key in self._outbox:
                return False
            self._outbox[notification.key] = (notification, False)
            return True

    def pending_notifications(self, limit: int = 100) -> list[Notification]:
        with self._lock:
            pending = [n for n, published in self._outbox.values() if not published]
        return sorted(pending, key=lambda n: n.created_at)[:limit]

    def mark_published(self, notification: Notification) -> None:
        with self._lock:
            if notification.key in self._outbox:
                self._outbox[notification.key] = (notification, True)

    def put_managed(self, assessment: Assessment) -> None:
        with self._lock:
            self._managed[assessment.certificate.arn] = assessment

    def list_managed(self) -> list[Assessment]:
        with self._lock:
            return sorted(self._managed.values(), key=lambda a: a.certificate.arn)

    def delete_managed(self, arn: str) -> None:
        with self._lock:
            self._managed.pop(arn, None)

    def record_sighting(self, team: str, target_id: str, sighting: Sighting) -> bool:
        with self._lock:
            seen = self._history.setdefault((team, target_id), {})
            if sighting.fingerprint in seen:
                return False
            seen[sighting.fingerprint] = sighting
            return True

    def sightings(self, team: str, target_id: str) -> list[Sighting]:
        with self._lock:
            return _oldest_first(self._history.get((team, target_id), {}).values())

    def team_sightings(self, team: str) -> dict[str, list[Sighting]]:
        with self._lock:
            return {tid: _oldest_first(seen.values()) for (owner, tid), seen in self._history.items() if owner == team}

    def put_token(self, record: TokenRecord) -> None:
        with self._lock:
            self._tokens[record.token_id] = record

    def get_token(self, token_id: str) -> TokenRecord | None:
        with self._lock:
            return self._tokens.get(token_id)

    def list_tokens(self) -> list[TokenRecord]:
        with self._lock:
            return sorted(self._tokens.values(), key=lambda r: (r.team, r.created_at))

    def delete_token(self, token_id: str) -> bool:
        with self._lock:
            return self._tokens.pop(token_id, None) is not None

    def _get(self, team: str, target_id: str) -> Target:
        target = self._targets.get((team, target_id))
        if target is None:
            raise NotFoundError(f"no target {target_id}")
        return target


def _oldest_first(sightings: Iterable[Sighting]) -> list[Sighting]:
    return sorted(sightings, key=lambda s: (s.first_seen, s.fingerprint))


class CheckQueue(Protocol):
    def enqueue(self, refs: Sequence[tuple[str, str]]) -> None:
        """Ask for these (team, target id) to be checked soon, by a worker."""
