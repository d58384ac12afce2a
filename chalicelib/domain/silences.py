"""Silences and maintenance windows: events recorded and shown, never delivered, for a while. Pure: takes ``now``.

A silence quiets one thing — a target, a certificate (its fingerprint), a label, a finding code —
for a stated time (never open-ended), with its author and reason; it may end early, when the
certificate it was made for is replaced. A maintenance window quiets a team's targets (all, or
those with its labels) from its start to its end. What either can never hide: a certificate
still in place a day after it expired (``certificate.expired`` with the ``still-there`` key), unless
the silence names that very certificate.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.domain.alerts import STILL_THERE, EventType, Notification
from chalicelib.errors import InvalidValueError

# How long a silence or a window may last at most (CERTWATCH_SILENCE_MAX_DAYS overrides it).
DEFAULT_MAX_DAYS = 30


class Match(enum.StrEnum):
    """What a silence quiets."""

    TARGET = "target"  # the events of one target (by its id)
    CERTIFICATE = "certificate"  # the events about one certificate (by its SHA-256 fingerprint)
    LABEL = "label"  # the events of targets with a label (key=value)
    FINDING = "finding"  # events whose findings include a code


@dataclass(frozen=True, slots=True)
class Silence:
    """One thing quieted until ``ends_at`` (or earlier: ``ended_at``, or the certificate changing)."""

    id: str
    team: str
    match: Match
    value: str
    author: str
    reason: str
    created_at: datetime
    ends_at: datetime
    # The certificate it was made for: the silence ends when the target serves another one.
    until_certificate_changes: str | None = None
    ended_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        end = self.ends_at if self.ended_at is None else min(self.ends_at, self.ended_at)
        return self.created_at <= now < end

    def matches_certificate_of(self, note: Notification) -> bool:
        """False when it was made until a certificate changed and ``note`` is about another one."""
        return self.until_certificate_changes is None or _fingerprint(note) in (None, self.until_certificate_changes)

    def quiets(self, note: Notification) -> bool:
        """Whether this silence, active or not, is about ``note`` (its target, certificate, label or finding)."""
        if self.team != note.team or not self.matches_certificate_of(note):
            return False
        if self.match is Match.TARGET:
            return _targets(note) == {self.value}
        if self.match is Match.CERTIFICATE:
            return self.value in {_fingerprint(note), note.event.previous_fingerprint}
        if self.match is Match.LABEL:
            key, _, wanted = self.value.partition("=")
            return note.subject.labels.get(key) == wanted
        return any(f.code.value == self.value for f in note.findings)


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """Planned work: a team's events (of the targets with all of ``labels``; every target without) quieted
    from ``starts_at`` to ``ends_at``."""

    id: str
    team: str
    starts_at: datetime
    ends_at: datetime
    author: str
    reason: str
    created_at: datetime
    labels: Mapping[str, str] = field(default_factory=dict)
    ended_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        end = self.ends_at if self.ended_at is None else min(self.ends_at, self.ended_at)
        return self.starts_at <= now < end

    def quiets(self, note: Notification) -> bool:
        if self.team != note.team:
            return False
        return all(note.subject.labels.get(key) == value for key, value in self.labels.items())


def silenced_by(
    note: Notification, silences: Iterable[Silence], windows: Iterable[MaintenanceWindow], now: datetime
) -> str | None:
    """The id of the silence or window that keeps ``note`` from being delivered now, or None.

    A target's silence quiets an event about that target alone; an event about a certificate
    several endpoints serve is quiet only when every one of them is. A certificate still in place
    a day after it expired is told whatever quiets its target, its labels or its findings: only a
    silence of that very certificate keeps it quiet.
    """
    still_there = note.event.type is EventType.EXPIRED and note.event.key.endswith(f":{STILL_THERE}")
    active = [s for s in silences if s.active(now) and s.team == note.team and s.matches_certificate_of(note)]
    for silence in active:
        if silence.match is Match.TARGET or (still_there and silence.match is not Match.CERTIFICATE):
            continue
        if silence.quiets(note):
            return silence.id
    if still_there:
        return None
    by_target = {s.value: s.id for s in active if s.match is Match.TARGET}
    targets = _targets(note)
    if targets <= set(by_target):
        return by_target[min(targets)]
    for window in windows:
        if window.active(now) and window.quiets(note):
            return window.id
    return None


def new_silence_id() -> str:
    return f"si_{secrets.token_hex(8)}"


def new_window_id() -> str:
    return f"mw_{secrets.token_hex(8)}"


def _fingerprint(note: Notification) -> str | None:
    leaf = note.observed.leaf
    return None if leaf is None else leaf.fingerprint_sha256


def _targets(note: Notification) -> set[str]:
    """The endpoints an event is about: its holders (a certificate's event may name many), else its target."""
    endpoints = {h.id for h in note.event.holders if h.kind == "endpoint"}
    return endpoints or {note.target_id}


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    """What a caller asks to quiet, for how long, and why (the API's and the CLI's, parsed)."""

    match: Match
    value: str
    reason: str
    ends_at: datetime
    until_certificate_changes: bool = False
    author: str | None = None


@dataclass(frozen=True, slots=True)
class WindowRequest:
    """Planned work to quiet a team's events for (the API's and the CLI's, parsed)."""

    starts_at: datetime
    ends_at: datetime
    reason: str
    labels: Mapping[str, str] = field(default_factory=dict)
    author: str | None = None


def check_span(starts_at: datetime, ends_at: datetime, now: datetime, max_days: int) -> None:
    """Refuse a silence or window that ends before it starts, has ended, or lasts longer than ``max_days``."""
    if ends_at <= now:
        raise InvalidValueError("it would end before now: give a time in the future", field="ends_at")
    if ends_at <= starts_at:
        raise InvalidValueError("ends_at must be after starts_at", field="ends_at")
    if ends_at - max(starts_at, now) > timedelta(days=max_days):
        raise InvalidValueError(
            f"a silence or maintenance window lasts at most {max_days} days (CERTWATCH_SILENCE_MAX_DAYS): "
            "never open-ended; make another when it ends",
            field="ends_at",
        )
