"""The sweep: find the targets whose slot comes in its window with index queries, queue those not checked since."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.domain.schedule import is_due
from chalicelib.services.alerting import Alerter
from chalicelib.services.ports import CheckQueue, Schedule

if TYPE_CHECKING:
    from chalicelib.domain.targets import Target

READ_CHUNK = 100  # the targets a task reads at once (one BatchGetItem)
QUEUE_CHUNK = 200  # the targets a task queues (SendMessageBatch requests in turn)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweepResult:
    due: int  # the targets with a moment in this sweep's window or in the claims it went over again
    queued: int  # those of them not checked since, queued by this sweep
    published: int


class Sweeper:
    """Finds due targets with index queries and queues them for the workers.

    Each sweep claims a window, from where the last claimed one ended to now (chalicelib/domain/schedule.py):
    the targets with a moment of their slot in it are read (a read unit each, half of one for most) and those
    not checked since that moment are queued. Once the claims of an hour are an hour old a sweep goes over
    them again the same way, so a check lost (its message in the DLQ, a sweep cut short) is queued once more.
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
        window = self._schedule.claim_window(now)
        if window is None:  # a sweep at this moment or later has the window
            return SweepResult(due=0, queued=0, published=published)
        windows = [(window.since, now)] + ([window.recheck] if window.recheck else [])
        moments: dict[tuple[str, str], datetime] = {}
        for team, target_id, moment in self._schedule.due_targets(*windows):
            moments[(team, target_id)] = max(moment, moments.get((team, target_id), moment))
        refs = list(moments)
        with ThreadPoolExecutor(max_workers=self._threads) as pool:
            reads = [refs[start : start + READ_CHUNK] for start in range(0, len(refs), READ_CHUNK)]
            found = {ref: t for part in pool.map(self._read, reads) for ref, t in part.items()}
            queued = [ref for ref in refs if ref in found and self._due(found[ref], moments[ref])]
            chunks = [queued[start : start + QUEUE_CHUNK] for start in range(0, len(queued), QUEUE_CHUNK)]
            list(pool.map(self._queue.enqueue, chunks))
        return SweepResult(due=len(refs), queued=len(queued), published=published)

    @staticmethod
    def _due(target: Target | None, moment: datetime) -> bool:
        if target is None:  # not read: queued, its check the judge
            return True
        last = target.latest.checked_at if target.latest is not None else None
        return not target.paused and is_due(moment, target.scheduled_at, last)

    def _read(self, refs: list[tuple[str, str]]) -> dict[tuple[str, str], Target | None]:
        """The targets of ``refs`` as stored, to see whether each was checked since its moment; each is None (due)
        when they cannot be read, so that the sweep goes on and their checks meet what is wrong, each its own."""
        try:
            # Eventually consistent: a check that landed a moment ago and is missed is one check more, no harm.
            return dict(self._schedule.get_targets(refs, consistent=False))
        except Exception:  # an outage or an item that does not read: a check each too many, never a sweep lost
            logger.exception("reading %d due targets failed: queued unread", len(refs))
            return dict.fromkeys(refs)
