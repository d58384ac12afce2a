"""The scheduled pipeline: the sweep that queues due targets, the worker that checks them, and alerting.

sweep (EventBridge) -> SQS -> worker (checks a batch concurrently, stores results) -> alerter
(decides, records notifications in the outbox, publishes to SNS). A notification is recorded
before it is published, so an SNS outage delays it to the next sweep and loses nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.alerts import AlertPolicy, AlertSubject, Notification, Observation, decide, thresholds_for
from chalicelib.domain.models import Status, TargetReport
from chalicelib.domain.targets import Target
from chalicelib.errors import CertwatchError, NotFoundError
from chalicelib.presentation.events import DOCUMENT_VERSION, notification, slack_message, target_subject
from chalicelib.presentation.reports import report_to_dict
from chalicelib.services.checking import CheckedTarget
from chalicelib.services.store import CheckQueue, TargetStore

logger = logging.getLogger(__name__)

# A leased target is due again after this if its check never happened (message lost to the DLQ).
LEASE = timedelta(hours=1)
# The sweep publishes pending notifications older than this: younger ones are still being
# published by the worker that recorded them.
OUTBOX_GRACE = timedelta(minutes=2)


class Publisher(Protocol):
    def publish(self, notification: Notification) -> str: ...


class Webhook(Protocol):
    def post(self, payload: dict[str, Any]) -> bool:
        """Post one message; False when there is nowhere to post (not configured)."""


@dataclass(frozen=True, slots=True)
class AlertSettings:
    unreachable_after: int = 2
    repeat_critical_hours: int | None = None
    base_url: str | None = None


class Alerter:
    """After each check: decide, record in the outbox, publish."""

    def __init__(
        self,
        store: TargetStore,
        publisher: Publisher,
        clock: Callable[[], datetime],
        settings: AlertSettings | None = None,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._clock = clock
        self._settings = settings or AlertSettings()

    def after_check(
        self, subject: Target | AlertSubject, observed: TargetReport | Observation, document: dict[str, Any]
    ) -> list[Notification]:
        """Announce what this check calls for; returns the notifications published now."""
        if isinstance(subject, Target):
            subject = target_subject(subject, self._settings.base_url)
        now = self._clock()
        state = self._store.get_alert_state(subject.team, subject.id)
        new_state, events = decide(subject.id, state, observed, self.policy_for(subject), now)
        if not events and new_state == state:
            return []
        notes = [notification(e, subject, document, now) for e in events]
        fresh = [n for n in notes if self._store.record_notification(n)]
        # Only now, with every event it announces safe in the outbox, does the state move on.
        self._store.put_alert_state(subject.team, subject.id, new_state)
        return self.publish(fresh)

    def after_target_check(self, target: Target, report: TargetReport) -> list[Notification]:
        """``after_check`` for a registered endpoint: its events carry the report's JSON document."""
        return self.after_check(target, report, report_to_dict(report))

    def policy_for(self, subject: Target | AlertSubject) -> AlertPolicy:
        if isinstance(subject, Target):
            subject = target_subject(subject)
        return AlertPolicy(
            thresholds=thresholds_for(subject.warn_days, subject.critical_days, subject.alert_days),
            critical_days=subject.critical_days,
            unreachable_after=self._settings.unreachable_after,
            repeat_critical_hours=self._settings.repeat_critical_hours,
        )

    def publish(self, notes: Sequence[Notification]) -> list[Notification]:
        """Publish each; a failure leaves it pending for the next drain. Returns those that went out."""
        published = []
        for note in notes:
            try:
                self._publisher.publish(note)
            except CertwatchError as exc:
                logger.warning("notification %s stays in the outbox: %s", note.key, exc)
                continue
            self._store.mark_published(note)
            published.append(note)
        return published

    def drain(self) -> int:
        """Publish what earlier runs recorded but could not publish; returns how many went out."""
        cutoff = self._clock() - OUTBOX_GRACE
        return len(self.publish([n for n in self._store.pending_notifications() if n.created_at <= cutoff]))


@dataclass(frozen=True, slots=True)
class SweepResult:
    due: int
    queued: int
    published: int


class Sweeper:
    """Finds due targets with index queries, leases them and queues them for the workers."""

    def __init__(
        self,
        store: TargetStore,
        queue: CheckQueue,
        alerter: Alerter,
        clock: Callable[[], datetime],
        *,
        threads: int = 16,
    ) -> None:
        self._store = store
        self._queue = queue
        self._alerter = alerter
        self._clock = clock
        self._threads = threads

    def sweep(self) -> SweepResult:
        now = self._clock()
        due = list(self._store.due_targets(now))
        until = now + LEASE
        published = self._alerter.drain()  # first: a queue outage must not hold up pending events
        with ThreadPoolExecutor(max_workers=self._threads) as pool:
            claimed = list(pool.map(lambda ref: self._lease(ref, now, until), due))
            leased = [ref for ref, ok in zip(due, claimed, strict=True) if ok]
            # A few hundred targets per task: each task sends its SendMessageBatch requests in turn.
            chunks = [leased[start : start + 200] for start in range(0, len(leased), 200)]
            list(pool.map(self._queue.enqueue, chunks))
        return SweepResult(due=len(due), queued=len(leased), published=published)

    def _lease(self, ref: tuple[str, str], now: datetime, until: datetime) -> bool:
        return self._store.lease(ref[0], ref[1], now, until)


@dataclass
class BatchOutcome:
    """What a worker made of an SQS batch: ids of messages to retry, and counts for metrics."""

    failed_message_ids: list[str] = field(default_factory=list)
    checked: int = 0
    errors: int = 0
    skipped: int = 0
    published_by_severity: dict[str, int] = field(default_factory=dict)


class Checker(Protocol):
    def run(self, targets: Sequence[Target]) -> tuple[list[CheckedTarget], list[Target]]: ...


class CheckWorker:
    """Handles a batch of check messages: one bad message never costs the others."""

    def __init__(self, store: TargetStore, checker: Checker) -> None:
        self._store = store
        self._checker = checker

    def handle(self, records: Sequence[dict[str, Any]]) -> BatchOutcome:
        outcome = BatchOutcome()
        by_target: dict[tuple[str, str], list[str]] = {}
        targets: list[Target] = []
        for record in records:
            message_id = str(record.get("messageId", ""))
            try:
                ref = _parse_message(record.get("body"))
            except ValueError as exc:
                logger.error("poisoned message %s: %s", message_id, exc)
                outcome.failed_message_ids.append(message_id)  # retried, then the dead-letter queue
                continue
            if ref in by_target:  # the same target twice in one batch: check it once
                by_target[ref].append(message_id)
                continue
            try:
                target = self._store.get_target(*ref)
            except NotFoundError:
                outcome.skipped += 1  # deleted since it was queued
                continue
            except CertwatchError as exc:
                logger.error("cannot load %s/%s: %s", *ref, exc)
                outcome.failed_message_ids.append(message_id)
                continue
            if target.paused:
                outcome.skipped += 1
                continue
            by_target[ref] = [message_id]
            targets.append(target)
        checked, failed = self._run(targets)
        outcome.checked = len(checked)
        outcome.errors = sum(c.report.status is Status.ERROR for c in checked)
        for note in (n for c in checked for n in c.notifications):
            severity = str(note.document.get("severity", "unknown"))
            outcome.published_by_severity[severity] = outcome.published_by_severity.get(severity, 0) + 1
        for target in failed:
            outcome.failed_message_ids += by_target[(target.team, target.id)]
        return outcome

    def _run(self, targets: Sequence[Target]) -> tuple[list[CheckedTarget], list[Target]]:
        """The checker's run of the batch; should it raise all the same, each target's run alone.

        The checker contains each target's failures itself; this is the last line, so that a
        bug it did not foresee still fails the one message whose target raises, never the batch.
        """
        try:
            return self._checker.run(targets)
        except Exception:
            logger.exception("checking a batch of %d targets failed: checking each alone", len(targets))
        checked: list[CheckedTarget] = []
        failed: list[Target] = []
        for target in targets:
            try:
                done, undone = self._checker.run([target])
            except Exception:
                logger.exception("checking %s/%s failed", target.team, target.id)
                failed.append(target)
                continue
            checked += done
            failed += undone
        return checked, failed


class SlackRelay:
    """Posts each event the topic delivers to Slack."""

    def __init__(self, webhook: Webhook) -> None:
        self._webhook = webhook

    def deliver(self, message: str) -> bool:
        """Post the event document ``message``; SlackError when Slack refuses it for good."""
        document = event_document(message)
        if document is None:
            return False
        return self._webhook.post(slack_message(document))


def event_document(message: str) -> dict[str, Any] | None:
    """The v1 event document an alerts-topic message carries; None (logged) for anything else."""
    try:
        document = json.loads(message)
    except ValueError:
        logger.error("not a certwatch event document; not posted: %r", message[:200])
        return None
    if not isinstance(document, dict) or document.get("version") != DOCUMENT_VERSION:
        logger.error("unknown event document version; not posted")
        return None
    return document


def _parse_message(body: object) -> tuple[str, str]:
    if not isinstance(body, str):
        raise ValueError("no message body")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"not JSON: {body[:80]!r}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("team"), str) or not isinstance(data.get("id"), str):
        raise ValueError(f"expected {{'team': ..., 'id': ...}}, got {body[:80]!r}")
    return data["team"], data["id"]
