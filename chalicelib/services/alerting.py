"""Alerting after each check: decide what to announce, record it in the outbox, publish it.

A notification is recorded before it is published, and the alert state moves on only once every
event it announces is safe in the outbox: an SNS outage delays an event to the next sweep's
drain and loses nothing, and two workers deciding from the same state announce each key once.
Notifications are typed facts; the publisher renders them at its wire.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chalicelib.domain.alerts import (
    CERTIFICATE_EVENTS,
    AlertEvent,
    AlertPolicy,
    AlertState,
    AlertSubject,
    EventType,
    Holder,
    Notification,
    Observation,
    decide,
    grouped,
    thresholds_for,
)
from chalicelib.domain.models import TargetReport
from chalicelib.domain.silences import Match, silenced_by
from chalicelib.domain.targets import Target
from chalicelib.domain.teams import TeamSettings
from chalicelib.errors import CertwatchError
from chalicelib.services.ports import AlertLedger, Holders, Outbox, Publisher, Silences, Teams

logger = logging.getLogger(__name__)

# The sweep publishes pending notifications older than this: younger ones are still being
# published by the worker that recorded them.
OUTBOX_GRACE = timedelta(minutes=2)
# How long a team's settings are taken as read: a change reaches the checkers within a minute.
TEAM_SETTINGS_MAX_AGE = 60.0


@dataclass(frozen=True, slots=True)
class AlertSettings:
    unreachable_after: int = 2
    repeat_critical_hours: int | None = None


class Alerter:
    """After each check: decide, record in the outbox, publish."""

    def __init__(
        self,
        *,
        ledger: AlertLedger,
        outbox: Outbox,
        silences: Silences,
        holders: Holders,
        teams: Teams,
        publisher: Publisher,
        clock: Callable[[], datetime],
        settings: AlertSettings | None = None,
    ) -> None:
        self._ledger = ledger
        self._outbox = outbox
        self._silences = silences
        self._holders = holders
        self._teams = teams
        self._publisher = publisher
        self._clock = clock
        self._settings = settings or AlertSettings()
        self._team_settings: dict[str, tuple[float, TeamSettings]] = {}

    def read_ahead(self, targets: Sequence[Target]) -> dict[tuple[str, str], AlertState]:
        """The alert states of targets about to be checked, in one read, for ``after_target_check`` to decide
        from; empty when that read fails (each is then read after its check, as it would be without)."""
        try:
            return self._ledger.get_alert_states([(t.team, t.id) for t in targets])
        except Exception as exc:  # a store outage or a bug costs the read ahead, never the checks
            logger.warning("reading the alert states of %d targets ahead failed: %r", len(targets), exc)
            return {}

    def after_check(
        self, subject: AlertSubject, observed: Observation, state: AlertState | None = None
    ) -> list[Notification]:
        """Announce what this check calls for; returns the notifications published now.

        ``state``: the subject's alert state as read before its check (``read_ahead``), else read now. Only a
        check of the subject moves its state on, so one read a check's length earlier decides as one read now;
        two checks of one subject at once announce each key once either way (the outbox's keys).
        """
        now = self._clock()
        if state is None:
            state = self._ledger.get_alert_state(subject.team, subject.id)
        new_state, events = decide(subject.id, state, observed, self.policy_for(subject), now)
        if not events and new_state == state:
            return []
        events = self._as_the_team_tells_it(subject, state.fingerprint, new_state.fingerprint, events)
        renewed = {e.previous_fingerprint for e in events if e.type is EventType.RENEWED}
        if state.fingerprint is not None and state.fingerprint != new_state.fingerprint:
            self._end_silences_of_the_replaced(subject, state.fingerprint, renewed, now)
        notes = self._quieted([Notification.of(e, subject, observed, now) for e in events], now)
        fresh = [n for n in notes if self._outbox.record_notification(n)]
        # Only now, with every event it announces safe in the outbox, does the state move on.
        self._ledger.put_alert_state(subject.team, subject.id, new_state)
        return self.publish([n for n in fresh if n.silenced_by is None])

    def _quieted(self, notes: list[Notification], now: datetime) -> list[Notification]:
        """Each notification with the silence or maintenance window that keeps it from being delivered."""
        if not notes:
            return notes
        team = notes[0].team
        silences, windows = self._silences.silences(team), self._silences.windows(team)
        if not (silences or windows):
            return notes
        return [replace(n, silenced_by=silenced_by(n, silences, windows, now)) for n in notes]

    def _end_silences_of_the_replaced(
        self, subject: AlertSubject, replaced: str, renewed: set[str | None], now: datetime
    ) -> None:
        """Silences made "until the certificate changes" end when it does: a target's when the target
        serves another certificate, a certificate's when it is replaced everywhere (certificate.renewed)."""
        for silence in self._silences.silences(subject.team):
            if not silence.active(now) or silence.until_certificate_changes != replaced:
                continue
            mine = silence.match is Match.TARGET and silence.value == subject.id
            gone = silence.match is Match.CERTIFICATE and replaced in renewed
            if mine or gone:
                self._silences.end_silence(subject.team, silence.id, now)

    def announce(
        self, subject: AlertSubject, observed: Observation, events: Sequence[AlertEvent]
    ) -> list[Notification]:
        """Events decided elsewhere (a watched domain's sweep), each keyed once: recorded in the outbox,
        quieted by the team's silences and windows, then published; returns those published now."""
        now = self._clock()
        told = [grouped(e, subject.id, subject.id, [Holder.of(subject)]) for e in events]
        notes = self._quieted([Notification.of(e, subject, observed, now) for e in told], now)
        fresh = [n for n in notes if self._outbox.record_notification(n)]
        return self.publish([n for n in fresh if n.silenced_by is None])

    def after_target_check(
        self, target: Target, report: TargetReport, state: AlertState | None = None
    ) -> list[Notification]:
        """``after_check`` for a registered endpoint."""
        return self.after_check(AlertSubject.of_target(target), Observation.of(report), state)

    def _as_the_team_tells_it(
        self, subject: AlertSubject, before: str | None, after: str | None, events: Sequence[AlertEvent]
    ) -> list[AlertEvent]:
        """The subject's events as its team announces them: a certificate's once for every endpoint
        that serves it (naming them all), unless the team chose one event per endpoint.

        The holders of a certificate change only when an endpoint starts or stops serving it, so
        a check of an unchanged endpoint reads them only to name them in an event.
        """
        holder = Holder.of(subject)
        if not self._settings_of(subject.team).group_by_certificate:
            return [grouped(e, subject.id, subject.id, [holder]) for e in events]
        remaining: frozenset[Holder] = frozenset()
        moved: frozenset[Holder] = frozenset()
        if before != after:
            if after is not None:
                self._holders.join_certificate(subject.team, after, holder)
            if before is not None:
                remaining, moved = self._holders.leave_certificate(subject.team, before, holder)
        told: list[AlertEvent] = []
        serving: frozenset[Holder] | None = None
        for event in events:
            if event.type is EventType.RENEWED:
                if remaining:  # other endpoints still serve the old certificate: it is not replaced yet
                    continue
                told.append(grouped(event, subject.id, subject.team, moved | {holder}))
            elif event.type in CERTIFICATE_EVENTS and after is not None:
                if serving is None:
                    serving = self._holders.certificate_holders(subject.team, after)
                    if holder not in serving:  # it served this certificate before holders were kept
                        self._holders.join_certificate(subject.team, after, holder)
                told.append(grouped(event, subject.id, subject.team, serving | {holder}))
            else:
                told.append(grouped(event, subject.id, subject.team, [holder]))
        return told

    def _settings_of(self, team: str) -> TeamSettings:
        """A team's settings, read at most once a minute per team (a batch checks many of its targets)."""
        now = time.monotonic()
        cached = self._team_settings.get(team)
        if cached is None or cached[0] <= now:
            cached = (now + TEAM_SETTINGS_MAX_AGE, self._teams.team_settings(team))
            self._team_settings[team] = cached
        return cached[1]

    def policy_for(self, subject: AlertSubject) -> AlertPolicy:
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
            except Exception:  # a bug rendering one notification must not hold up the others (or the sweep)
                logger.exception("notification %s stays in the outbox", note.key)
                continue
            self._outbox.mark_published(note)
            published.append(note)
        return published

    def drain(self) -> int:
        """Publish what earlier runs recorded but could not publish; returns how many went out."""
        cutoff = self._clock() - OUTBOX_GRACE
        return len(self.publish([n for n in self._outbox.pending_notifications() if n.created_at <= cutoff]))
