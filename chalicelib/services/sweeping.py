"""The sweep: find the targets that are due with index queries, lease them, queue them for the checkers."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.services.alerting import Alerter
from chalicelib.services.ports import CheckQueue, Schedule

# A leased target is queued again after this if its check never landed (message lost to the DLQ).
LEASE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class SweepResult:
    due: int  # the targets the due index lists: those queued before whose checks have not landed yet too
    queued: int  # leased and queued by this sweep
    published: int


class Sweeper:
    """Finds due targets with index queries, leases them and queues them for the workers."""

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
        due = list(self._schedule.due_targets(now))
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
        return self._schedule.lease(ref[0], ref[1], now, until)
