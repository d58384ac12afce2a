"""The sweep: find the targets that come due in its window with index queries, queue them for the checkers."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.services.alerting import Alerter
from chalicelib.services.ports import CheckQueue, Schedule

# A target whose check has not landed this long after it was due (its message lost to the DLQ, or a
# sweep that stopped before queuing it) is queued again, and not again for as long (the lease).
LEASE = timedelta(hours=1)
# A window's targets due at most this long ago are queued with no lease. A sweep finds a target due LEASE ago
# again, so one queued without a lease is queued again LEASE - FRESH after it was at the soonest.
FRESH = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class SweepResult:
    due: int  # the targets due in this sweep's window, and those due LEASE ago or longer (leased ones too)
    queued: int  # queued by this sweep
    published: int


class Sweeper:
    """Finds due targets with index queries and queues them for the workers.

    Each sweep claims a window of next checks: from where the last claimed one ended to now. A target
    whose next check falls in it is queued by that sweep alone, with no write of its own (its check
    landing moves the next check on, into a later window). A target due LEASE ago or longer (its
    check lost, a sweep cut short) is leased first, so that it is queued once an hour at most; so is
    one due longer than FRESH ago in a long window (the first sweep's, or the first after an outage).
    """

    def __init__(
        self,
        schedule: Schedule,
        queue: CheckQueue,
        alerter: Alerter,
        clock: Callable[[], datetime],
        *,
        threads: int = 16,
    ) -> None:
        self._schedule = schedule
        self._queue = queue
        self._alerter = alerter
        self._clock = clock
        self._threads = threads

    def sweep(self) -> SweepResult:
        now = self._clock()
        published = self._alerter.drain()  # first: a queue outage must not hold up pending events
        claimed, since = self._schedule.claim_window(now)
        overdue = list(self._schedule.due_targets(now - LEASE))
        fresh: list[tuple[str, str]] = []
        if claimed:
            begins, settled = now - LEASE if since is None else max(since, now - LEASE), now - FRESH
            if begins < settled:  # a long window (the first, or after an outage): its older part is leased too
                overdue += self._schedule.due_targets(settled, after=begins)
            fresh = list(self._schedule.due_targets(now, after=max(begins, settled)))
        with ThreadPoolExecutor(max_workers=self._threads) as pool:
            claims = list(pool.map(lambda ref: self._schedule.lease(ref[0], ref[1], now, now + LEASE), overdue))
            queued = [ref for ref, ok in zip(overdue, claims, strict=True) if ok] + fresh
            # A few hundred targets per task: each task sends its SendMessageBatch requests in turn.
            chunks = [queued[start : start + 200] for start in range(0, len(queued), 200)]
            list(pool.map(self._queue.enqueue, chunks))
        return SweepResult(due=len(overdue) + len(fresh), queued=len(queued), published=published)
