"""Fakes of the outside systems, for tests and the benchmarks: a store in a dict, a queue and a publisher that remember.

InMemoryStore implements every port of the store (services/ports.py: Store) and keeps each one's
contract (tests/functional/test_store_contract.py runs the same suite against it and DynamoDB); it
keeps reports in the DynamoDB store's storage format, so what a test reads back has made the same
round trip as on DynamoDB.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.webhook import WebhookPoster
from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.alerts import AlertState, Holder, Notification, RecordedEvent
from chalicelib.domain.cadence import Sighting
from chalicelib.domain.domains import Issuance, WatchedDomain
from chalicelib.domain.inventory import Assessment
from chalicelib.domain.models import TargetReport
from chalicelib.domain.schedule import Slot, Sweeps, Window, claim, phase_ranges
from chalicelib.domain.silences import MaintenanceWindow, Silence
from chalicelib.domain.targets import (
    Page,
    ResultSummary,
    Target,
    TargetChanges,
    TargetFilter,
    apply_changes,
    decode_cursor,
    encode_cursor,
)
from chalicelib.domain.teams import TeamSettings
from chalicelib.domain.tokens import TokenRecord
from chalicelib.domain.webhooks import Claim, Destination, WebhookUrl
from chalicelib.errors import (
    DuplicateDomainError,
    DuplicateTargetError,
    InvalidValueError,
    NotFoundError,
    PublishError,
    WebhookError,
)
from chalicelib.presentation.event_shapes import EventDocument
from chalicelib.presentation.events import slack_message
from chalicelib.services.alerting import Alerter, AlertSettings
from chalicelib.services.ports import Publisher, Store
from tests.support.events import rendered


class InMemoryStore:
    """Every port of the store in dicts, safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: dict[tuple[str, str], Target] = {}
        self._keys: dict[tuple[str, str], str] = {}
        self._results: dict[tuple[str, str], str] = {}  # JSON, as the DynamoDB store keeps reports
        self._sweeps: Sweeps | None = None  # the sweeps' claimed windows
        self._tokens: dict[str, TokenRecord] = {}
        self._alert_states: dict[tuple[str, str], AlertState] = {}
        self._outbox: dict[str, tuple[Notification, bool]] = {}  # key -> (notification, published)
        self._managed: dict[str, Assessment] = {}
        self._history: dict[tuple[str, str], dict[str, Sighting]] = {}
        self._holders: dict[tuple[str, str], tuple[set[Holder], set[Holder]]] = {}  # (serving, moved on)
        self._team_settings: dict[str, TeamSettings] = {}
        self._silences: dict[tuple[str, str], Silence] = {}
        self._windows: dict[tuple[str, str], MaintenanceWindow] = {}
        self._domains: dict[tuple[str, str], WatchedDomain] = {}
        self._issuances: dict[tuple[str, str], Issuance] = {}

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

    def get_targets(self, refs: Sequence[tuple[str, str]], *, consistent: bool = True) -> dict[tuple[str, str], Target]:
        with self._lock:
            return {ref: self._targets[ref] for ref in refs if ref in self._targets}

    def list_targets(self, team: str, *, limit: int, cursor: str | None, where: TargetFilter) -> Page:
        after = ""
        if cursor:
            after = decode_cursor(cursor).get("after", "")
            if not isinstance(after, str) or not after.startswith("tg_"):
                raise InvalidValueError("invalid cursor", field="cursor", code="invalid_cursor")
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
            for key in [k for k, (n, _) in self._outbox.items() if n.team == team and k.startswith(f"{target_id}:")]:
                del self._outbox[key]
        holder = Holder("endpoint", target_id, str(target.endpoint))
        for brief in target.latest.certificates if target.latest is not None else ():
            self.leave_certificate(team, brief.fingerprint_sha256, holder)

    def certificate_holders(self, team: str, fingerprint: str) -> frozenset[Holder]:
        with self._lock:
            serving, _ = self._holders.get((team, fingerprint), (set(), set()))
            return frozenset(serving)

    def join_certificate(self, team: str, fingerprint: str, holder: Holder) -> None:
        with self._lock:
            self._holders.setdefault((team, fingerprint), (set(), set()))[0].add(holder)

    def leave_certificate(
        self, team: str, fingerprint: str, holder: Holder
    ) -> tuple[frozenset[Holder], frozenset[Holder]]:
        with self._lock:
            serving, moved = self._holders.setdefault((team, fingerprint), (set(), set()))
            serving.discard(holder)
            moved.add(holder)
            if not serving:
                del self._holders[(team, fingerprint)]
            return frozenset(serving), frozenset(moved)

    def team_settings(self, team: str) -> TeamSettings:
        with self._lock:
            return self._team_settings.get(team, TeamSettings())

    def put_team_settings(self, team: str, settings: TeamSettings) -> None:
        with self._lock:
            self._team_settings[team] = settings

    def save_result(
        self,
        team: str,
        target_id: str,
        summary: ResultSummary,
        report: TargetReport,
        *,
        sightings: Sequence[Sighting] = (),
    ) -> None:
        with self._lock:
            target = self._get(team, target_id)
            self._targets[(team, target_id)] = dataclasses.replace(target, latest=summary)
            self._results[(team, target_id)] = codec.compact_json(codec.report_record(report))
            seen = self._history.setdefault((team, target_id), {})
            for sighting in sightings:
                seen.setdefault(sighting.fingerprint, sighting)

    def save_summary(self, team: str, target_id: str, summary: ResultSummary) -> None:
        with self._lock:
            target = self._get(team, target_id)
            self._targets[(team, target_id)] = dataclasses.replace(target, latest=summary)

    def refresh_result(self, team: str, target_id: str, summary: ResultSummary, report: TargetReport) -> None:
        with self._lock:
            target = self._get(team, target_id)
            self._targets[(team, target_id)] = dataclasses.replace(target, latest=summary)
            self._results[(team, target_id)] = codec.compact_json(codec.report_record(report))

    def get_result(self, team: str, target_id: str) -> TargetReport | None:
        with self._lock:
            stored = self._results.get((team, target_id))
        return None if stored is None else codec.report(json.loads(stored))

    def team_reports(self, team: str) -> dict[str, TargetReport]:
        with self._lock:
            stored = {target_id: text for (owner, target_id), text in self._results.items() if owner == team}
        return {target_id: codec.report(json.loads(text)) for target_id, text in stored.items()}

    def due_targets(self, *windows: tuple[datetime, datetime]) -> Iterator[tuple[str, str, datetime]]:
        with self._lock:
            unpaused = [t for t in self._targets.values() if not t.paused]
        for target in sorted(unpaused, key=lambda t: t.id):
            slot = Slot.of(target.scheduled_at, target.spec.check_interval_minutes)
            for after, until in windows:
                if any(low <= slot.phase <= high for low, high in phase_ranges(slot.period, after, until)):
                    yield target.team, target.id, slot.latest(until)

    def claim_window(self, now: datetime) -> Window | None:
        with self._lock:
            claimed = claim(self._sweeps, now)
            if claimed is None:
                return None
            self._sweeps, window = claimed
            return window

    def get_alert_state(self, team: str, target_id: str) -> AlertState:
        with self._lock:
            return self._alert_states.get((team, target_id), AlertState())

    def get_alert_states(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], AlertState]:
        with self._lock:
            return {ref: self._alert_states.get(ref, AlertState()) for ref in refs}

    def put_alert_state(self, team: str, target_id: str, state: AlertState) -> None:
        with self._lock:
            self._alert_states[(team, target_id)] = state

    def record_notification(self, notification: Notification) -> bool:
        with self._lock:
            if notification.key in self._outbox:
                return False
            self._outbox[notification.key] = (notification, False)
            return True

    def team_events(self, team: str, limit: int = 100) -> list[RecordedEvent]:
        with self._lock:
            found = [RecordedEvent(n, published) for n, published in self._outbox.values() if n.team == team]
        return sorted(found, key=lambda r: (r.notification.created_at, r.notification.key), reverse=True)[:limit]

    def put_silence(self, silence: Silence) -> None:
        with self._lock:
            self._silences[(silence.team, silence.id)] = silence

    def silences(self, team: str) -> list[Silence]:
        with self._lock:
            return [s for (owner, _), s in self._silences.items() if owner == team]

    def end_silence(self, team: str, silence_id: str, now: datetime) -> Silence:
        with self._lock:
            found = self._silences.get((team, silence_id))
            if found is None:
                raise NotFoundError(f"no silence {silence_id}")
            ended = self._silences[(team, silence_id)] = dataclasses.replace(found, ended_at=now)
            return ended

    def put_window(self, window: MaintenanceWindow) -> None:
        with self._lock:
            self._windows[(window.team, window.id)] = window

    def windows(self, team: str) -> list[MaintenanceWindow]:
        with self._lock:
            return [w for (owner, _), w in self._windows.items() if owner == team]

    def end_window(self, team: str, window_id: str, now: datetime) -> MaintenanceWindow:
        with self._lock:
            found = self._windows.get((team, window_id))
            if found is None:
                raise NotFoundError(f"no maintenance window {window_id}")
            ended = self._windows[(team, window_id)] = dataclasses.replace(found, ended_at=now)
            return ended

    def pending_notifications(self, limit: int = 100) -> list[Notification]:
        with self._lock:
            pending = [n for n, published in self._outbox.values() if not published and n.silenced_by is None]
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

    def create_domain(self, domain: WatchedDomain) -> None:
        with self._lock:
            if (domain.team, domain.id) in self._domains:
                raise DuplicateDomainError(domain.id)
            self._domains[(domain.team, domain.id)] = domain

    def get_domain(self, team: str, domain_id: str) -> WatchedDomain:
        try:
            return self._domains[(team, domain_id)]
        except KeyError:
            raise NotFoundError(f"no watched domain {domain_id}") from None

    def list_domains(self, team: str | None = None) -> list[WatchedDomain]:
        found = [d for (t, _), d in list(self._domains.items()) if team is None or t == team]
        return sorted(found, key=lambda d: (d.team, d.domain))

    def save_domain(self, domain: WatchedDomain) -> None:
        with self._lock:
            if (domain.team, domain.id) not in self._domains:
                raise NotFoundError(f"no watched domain {domain.id}")
            self._domains[(domain.team, domain.id)] = codec.watched_domain(codec.watched_domain_record(domain))

    def delete_domain(self, team: str, domain_id: str) -> None:
        with self._lock:
            if self._domains.pop((team, domain_id), None) is None:
                raise NotFoundError(f"no watched domain {domain_id}")

    def record_issuances(self, team: str, issuances: Sequence[Issuance]) -> list[Issuance]:
        new = []
        with self._lock:
            for issuance in issuances:
                if (team, issuance.tbs_sha256) not in self._issuances:
                    new.append(issuance)
                self._issuances[(team, issuance.tbs_sha256)] = issuance
        return new

    def team_issuances(self, team: str) -> list[Issuance]:
        return [i for (t, _), i in sorted(self._issuances.items()) if t == team]

    def _get(self, team: str, target_id: str) -> Target:
        target = self._targets.get((team, target_id))
        if target is None:
            raise NotFoundError(f"no target {target_id}")
        return target


def _oldest_first(sightings: Iterable[Sighting]) -> list[Sighting]:
    return sorted(sightings, key=lambda s: (s.first_seen, s.fingerprint))


class Clock:
    """A clock the test moves by hand (thread-safe: checks read it from worker threads)."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


class RecordingCheckQueue:
    """A queue that remembers what was asked (tests; or a stack with no worker)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def enqueue(self, refs: Sequence[tuple[str, str]]) -> None:
        self.sent.extend(refs)


class RecordingPublisher:
    """A publisher that keeps what it was given (tests), and can be told to fail like SNS down.

    Each notification is rendered as the SNS publisher renders it and checked against the declared
    event document: no test publishes an event a subscriber could not read.
    """

    def __init__(self, base_url: str | None = None) -> None:
        self.published: list[Notification] = []
        self.documents: list[dict[str, Any]] = []
        self.failing = False
        self.base_url = base_url

    def publish(self, notification: Notification) -> str:
        if self.failing:
            raise PublishError("SNS is down (RecordingPublisher.failing)")
        self.documents.append(rendered(notification, self.base_url))
        self.published.append(notification)
        return f"message-{len(self.published)}"


class RecordingSlack:
    """Slack's incoming webhook as the relay sees it: each event rendered as the Slack adapter renders it, kept."""

    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []

    def post_event(self, document: EventDocument) -> bool:
        self.posted.append(slack_message(document))
        return True


class RecordingWebhookPoster(WebhookPoster):
    """The webhook adapter with its HTTP part recorded instead of sent: each event rendered in its
    destination's format and signed as for real; ``failing`` destinations raise instead."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        super().__init__(lambda *_, **__: [], AddressPolicy(), clock=clock)
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []
        self.failing: set[str] = set()
        self._lock = threading.Lock()

    def post(self, url: WebhookUrl, body: bytes, headers: Any, *, who: str) -> None:
        if who in self.failing:
            raise WebhookError(f"webhook {who} ({url.shown}) did not take the event")
        with self._lock:
            self.sent.append((who, body, dict(headers())))


class InMemoryDestinations:
    """A DestinationSource in a list (tests)."""

    def __init__(self, destinations: Iterable[Destination] = ()) -> None:
        self.items = list(destinations)

    def destinations(self) -> list[Destination]:
        return list(self.items)


class InMemoryDeliveryLog:
    """A DeliveryLog in a dict, safe across threads (tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[Claim, datetime]] = {}

    def claim(self, destination_id: str, event_key: str, now: datetime, until: datetime) -> Claim:
        with self._lock:
            held = self._entries.get((destination_id, event_key))
            if held is not None and held[0] is Claim.DELIVERED:
                return Claim.DELIVERED
            if held is not None and held[1] > now:
                return Claim.BUSY
            self._entries[(destination_id, event_key)] = (Claim.CLAIMED, until)
            return Claim.CLAIMED

    def delivered(self, destination_id: str, event_key: str, now: datetime) -> None:
        with self._lock:
            self._entries[(destination_id, event_key)] = (Claim.DELIVERED, now)

    def release(self, destination_id: str, event_key: str, now: datetime) -> None:
        with self._lock:
            held = self._entries.get((destination_id, event_key))
            if held is not None and held[0] is Claim.CLAIMED:
                self._entries[(destination_id, event_key)] = (Claim.CLAIMED, now)


def alerter_on(
    store: Store, publisher: Publisher, clock: Callable[[], datetime], settings: AlertSettings | None = None
) -> Alerter:
    """The Alerter with every store port it asks for in one in-memory store, as the composition root hands them."""
    return Alerter(
        ledger=store,
        outbox=store,
        silences=store,
        holders=store,
        teams=store,
        publisher=publisher,
        clock=clock,
        settings=settings,
    )
