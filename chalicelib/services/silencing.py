"""Silences and maintenance windows of a team: made, listed and ended; and the events they kept quiet.

The alerter reads them when an event is about to be told (``services/alerting.py``); this service
is what the API and the operator's commands call to make and end them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from chalicelib.domain.alerts import RecordedEvent
from chalicelib.domain.silences import (
    MaintenanceWindow,
    Match,
    Silence,
    SilenceRequest,
    WindowRequest,
    check_span,
    new_silence_id,
    new_window_id,
)
from chalicelib.domain.tokens import Principal
from chalicelib.errors import InvalidValueError, NotFoundError
from chalicelib.services.ports import Outbox, Silences, Targets

_SILENCE_ID = re.compile(r"si_[0-9a-f]{16}")
_WINDOW_ID = re.compile(r"mw_[0-9a-f]{16}")


class Silencing:
    """Makes and ends a team's silences and maintenance windows, within the longest allowed."""

    def __init__(
        self,
        *,
        targets: Targets,
        silences: Silences,
        outbox: Outbox,
        clock: Callable[[], datetime],
        max_days: int = 30,
    ) -> None:
        self._targets = targets
        self._silences = silences
        self._outbox = outbox
        self._clock = clock
        self._max_days = max_days

    def silence(self, principal: Principal, team: str, request: SilenceRequest) -> Silence:
        """A new silence of ``team``; a target's must exist, and be checked to end when its certificate changes."""
        now = self._clock()
        check_span(now, request.ends_at, now, self._max_days)
        until: str | None = None
        if request.match is Match.TARGET:
            target = self._targets.get_target(team, request.value)  # NotFoundError: 404
            if request.until_certificate_changes:
                latest = target.latest
                if latest is None or not latest.certificates:
                    raise InvalidValueError(
                        f"{target.id} has served no certificate yet: silence it for a time instead",
                        field="until_certificate_changes",
                    )
                until = min(latest.certificates, key=lambda c: c.not_after).fingerprint_sha256
        elif request.match is Match.CERTIFICATE:
            until = request.value if request.until_certificate_changes else None
        elif request.until_certificate_changes:
            raise InvalidValueError(
                "until_certificate_changes is for a target's or a certificate's silence",
                field="until_certificate_changes",
            )
        silence = Silence(
            id=new_silence_id(),
            team=team,
            match=request.match,
            value=request.value,
            author=request.author or f"token {principal.token_id}",
            reason=request.reason,
            created_at=now,
            ends_at=request.ends_at,
            until_certificate_changes=until,
        )
        self._silences.put_silence(silence)
        return silence

    def silences(self, team: str) -> list[Silence]:
        """The team's silences, newest first (ended ones too)."""
        return sorted(self._silences.silences(team), key=lambda s: s.created_at, reverse=True)

    def end_silence(self, team: str, silence_id: str) -> Silence:
        if not _SILENCE_ID.fullmatch(silence_id):
            raise NotFoundError("no silence with that id (silences' ids are si_ and 16 hex digits)")
        return self._silences.end_silence(team, silence_id, self._clock())

    def window(self, principal: Principal, team: str, request: WindowRequest) -> MaintenanceWindow:
        now = self._clock()
        check_span(request.starts_at, request.ends_at, now, self._max_days)
        window = MaintenanceWindow(
            id=new_window_id(),
            team=team,
            starts_at=request.starts_at,
            ends_at=request.ends_at,
            author=request.author or f"token {principal.token_id}",
            reason=request.reason,
            created_at=now,
            labels=dict(request.labels),
        )
        self._silences.put_window(window)
        return window

    def windows(self, team: str) -> list[MaintenanceWindow]:
        """The team's maintenance windows, soonest start first (past ones too)."""
        return sorted(self._silences.windows(team), key=lambda w: w.starts_at)

    def end_window(self, team: str, window_id: str) -> MaintenanceWindow:
        if not _WINDOW_ID.fullmatch(window_id):
            raise NotFoundError("no maintenance window with that id (their ids are mw_ and 16 hex digits)")
        return self._silences.end_window(team, window_id, self._clock())

    def events(self, team: str, *, limit: int = 100) -> list[RecordedEvent]:
        """The team's recent events, newest first: delivered, waiting to be, or kept quiet."""
        return self._outbox.team_events(team, limit)

    @property
    def max_days(self) -> int:
        return self._max_days
