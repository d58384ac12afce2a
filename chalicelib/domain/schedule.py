"""When a target is checked: a slot in its interval that checks do not move, and the sweeps' windows.

A target's checks fall on its *slot*: the moments, whole seconds since the Unix epoch, that are
``phase`` seconds past a multiple of its interval (``period``). The phase comes from the target's
anchor (when it was registered, resumed or given a new interval): its first moment is the anchor
rounded up to the second, the next ones an interval apart. A check landing moves nothing, so it
writes its target's item and no index key; the store lists targets by slot.

A sweep claims the window from where the last claimed one ended to now, and queues each target
with a moment in it that was not checked since (a check up to SLACK before the moment counts; for
the first moment, up to FIRST_GRACE before it: a new target's first check is queued at
registration, its first moment that much later, so that the sweep takes it up only when that check
did not happen: the queue was down, the message lost). Once an hour's claims are
LEASE old, a sweep goes over their windows again and queues once more each target still not
checked since its moment there: a lost message, a sweep cut short. Pure: takes ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# How long after a window was claimed its targets are looked at again (those whose check did not land).
LEASE = timedelta(hours=1)
# A check this long before a moment of the target's slot counts as that moment's.
SLACK = timedelta(minutes=1)
# For the slot's first moment, a check this long before it counts (a new target's, queued at registration).
FIRST_GRACE = timedelta(minutes=15)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Slot:
    """The moments a target is checked at: ``phase`` seconds past each multiple of ``period`` seconds."""

    period: int
    phase: int

    @classmethod
    def of(cls, anchor: datetime, interval_minutes: int) -> Slot:
        period = interval_minutes * 60
        return cls(period, _seconds_up(anchor) % period)

    def latest(self, until: datetime) -> datetime:
        """The slot's last moment at or before ``until``."""
        end = _seconds_down(until)
        return EPOCH + (end - (end - self.phase) % self.period) * _SECOND

    def first_after(self, moment: datetime) -> datetime:
        """The slot's first moment later than ``moment``."""
        start = _seconds_down(moment) + 1
        return EPOCH + (start + (self.phase - start) % self.period) * _SECOND


def phase_ranges(period: int, after: datetime, until: datetime) -> list[tuple[int, int]]:
    """The phases (inclusive ranges) of the slots of ``period`` seconds with a moment in (after, until]."""
    first, last = _seconds_down(after) + 1, _seconds_down(until)
    if last < first:
        return []
    if last - first + 1 >= period:
        return [(0, period - 1)]
    low, high = first % period, last % period
    return [(low, high)] if low <= high else [(low, period - 1), (0, high)]


def first_moment(anchor: datetime) -> datetime:
    """The first moment of a slot: its anchor, rounded up to the second."""
    return EPOCH + _seconds_up(anchor) * _SECOND


def is_due(moment: datetime, anchor: datetime, last_checked: datetime | None) -> bool:
    """Whether a target anchored at ``anchor`` and last checked at ``last_checked`` needs a check for its slot's
    ``moment``."""
    first = first_moment(anchor)
    if moment < first:
        return False
    counts_from = anchor - FIRST_GRACE if moment == first else moment - SLACK
    return last_checked is None or last_checked < counts_from


def next_check(anchor: datetime, interval_minutes: int, last_checked: datetime | None) -> datetime:
    """The first moment of the target's slot that its last check leaves due (``is_due``)."""
    first = first_moment(anchor)
    if last_checked is None or last_checked < anchor - FIRST_GRACE:
        return first
    return Slot.of(anchor, interval_minutes).first_after(max(last_checked + SLACK, first))


@dataclass(frozen=True, slots=True)
class Sweeps:
    """Where the claimed windows end (``until``); claims up to ``marked`` are gone over again once ``marked`` is
    LEASE old, and those up to ``rechecked`` have been."""

    until: datetime
    marked: datetime
    rechecked: datetime


@dataclass(frozen=True, slots=True)
class Window:
    """A sweep's window, (since, now], and the claims it goes over again, (after, until], if it is their time."""

    since: datetime
    recheck: tuple[datetime, datetime] | None = None


def claim(before: Sweeps | None, now: datetime) -> tuple[Sweeps, Window] | None:
    """The sweeps' state after a sweep at ``now`` claims its window, and what it claimed; None when a sweep has
    claimed as far already. Windows end at their sweep's now, so one claimed by ``marked`` is as old as that."""
    if before is None:  # the first sweep: the hour before it (targets registered before it, queue down)
        since = now - LEASE
        return Sweeps(now, now, since), Window(since)
    if before.until >= now:
        return None
    if before.marked > now - LEASE:
        return replace(before, until=now), Window(before.until)
    recheck = (before.rechecked, before.marked) if before.rechecked < before.marked else None
    return Sweeps(now, now, before.marked), Window(before.until, recheck)


def _seconds_down(moment: datetime) -> int:
    return (moment - EPOCH) // _SECOND


def _seconds_up(moment: datetime) -> int:
    whole, part = divmod(moment - EPOCH, _SECOND)
    return whole + (1 if part else 0)
