"""The checker's SQS worker: a batch of check messages, each target checked once, one bad message never
costing the others (a partial batch response names the messages to retry)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.models import Status
from chalicelib.domain.targets import Target
from chalicelib.errors import CertwatchError, NotFoundError
from chalicelib.services.ports import CheckedTarget, Checker, Targets, TeamReads

logger = logging.getLogger(__name__)


@dataclass
class BatchOutcome:
    """What a worker made of an SQS batch: ids of messages to retry, and counts for metrics."""

    failed_message_ids: list[str] = field(default_factory=list)
    checked: int = 0
    errors: int = 0
    skipped: int = 0
    published_by_severity: dict[str, int] = field(default_factory=dict)
    soonest_days: dict[str, int] = field(default_factory=dict)  # team -> fewest days left of a certificate checked
    statuses: dict[tuple[str, str], int] = field(default_factory=dict)  # (team, status) -> checks


class CheckWorker:
    """Handles a batch of check messages: one bad message never costs the others."""

    def __init__(self, targets: Targets, checker: Checker) -> None:
        self._targets = targets
        self._checker = checker
        # Reads the batch's teams beside its targets; built once, as the checker's pools are.
        self._ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="certwatch-teams")

    def handle(self, records: Sequence[dict[str, Any]]) -> BatchOutcome:
        outcome = BatchOutcome()
        by_target: dict[tuple[str, str], list[str]] = {}
        targets: list[Target] = []
        messages: list[tuple[str, tuple[str, str]]] = []
        for record in records:
            message_id = str(record.get("messageId", ""))
            try:
                messages.append((message_id, _parse_message(record.get("body"))))
            except ValueError as exc:
                logger.error("poisoned message %s: %s", message_id, exc)
                outcome.failed_message_ids.append(message_id)  # retried, then the dead-letter queue
        # Their teams are read while the targets are, from the messages: a round trip less before the checks.
        reading = self._ahead.submit(self._checker.read_teams, [team for _, (team, _) in messages])
        loaded = self._load([ref for _, ref in messages])
        teams = _read(reading)
        for message_id, ref in messages:
            if ref in by_target:  # the same target twice in one batch: check it once
                by_target[ref].append(message_id)
                continue
            target = loaded.get(ref)
            if isinstance(target, CertwatchError):
                outcome.failed_message_ids.append(message_id)
            elif target is None or target.paused:
                outcome.skipped += 1  # deleted since it was queued, or paused
            else:
                by_target[ref] = [message_id]
                targets.append(target)
        checked, failed = self._run(targets, teams)
        outcome.checked = len(checked)
        outcome.errors = sum(c.report.status is Status.ERROR for c in checked)
        for note in (n for c in checked for n in c.notifications):
            severity = note.event.severity.value
            outcome.published_by_severity[severity] = outcome.published_by_severity.get(severity, 0) + 1
        for done in checked:
            team, days = done.target.team, done.report.days_left
            key = (team, done.report.status.value)
            outcome.statuses[key] = outcome.statuses.get(key, 0) + 1
            if days is not None:
                outcome.soonest_days[team] = min(days, outcome.soonest_days.get(team, days))
        for target in failed:
            outcome.failed_message_ids += by_target[(target.team, target.id)]
        return outcome

    def _load(self, refs: list[tuple[str, str]]) -> dict[tuple[str, str], Target | CertwatchError]:
        """The batch's targets in one read; should that fail, each read alone, so that a failure costs only
        the messages of the target it was for. A target that does not exist is left out."""
        try:
            return dict(self._targets.get_targets(refs))
        except CertwatchError as exc:
            logger.warning("loading %d targets together failed (%s): loading each alone", len(refs), exc)
        loaded: dict[tuple[str, str], Target | CertwatchError] = {}
        for ref in dict.fromkeys(refs):
            try:
                loaded[ref] = self._targets.get_target(*ref)
            except NotFoundError:
                continue
            except CertwatchError as exc:
                logger.error("cannot load %s/%s: %s", *ref, exc)
                loaded[ref] = exc
        return loaded

    def _run(self, targets: Sequence[Target], teams: TeamReads | None) -> tuple[list[CheckedTarget], list[Target]]:
        """The checker's run of the batch; should it raise all the same, each target's run alone.

        The checker contains each target's failures itself; this is the last line, so that a
        bug it did not foresee still fails the one message whose target raises, never the batch.
        """
        try:
            return self._checker.run(targets, teams)
        except Exception:
            logger.exception("checking a batch of %d targets failed: checking each alone", len(targets))
        checked: list[CheckedTarget] = []
        failed: list[Target] = []
        for target in targets:
            try:
                done, undone = self._checker.run([target], teams)
            except Exception:
                logger.exception("checking %s/%s failed", target.team, target.id)
                failed.append(target)
                continue
            checked += done
            failed += undone
        return checked, failed


def _read(reading: Future[TeamReads]) -> TeamReads | None:
    """The teams as read ahead; None when that failed (the checker then reads them itself)."""
    try:
        return reading.result()
    except Exception:  # a bug reading ahead costs the read ahead, never the batch
        logger.exception("reading the batch's teams ahead failed")
        return None


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
