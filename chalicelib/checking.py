"""Running checks for registered targets and recording what they found."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.engine import CheckEngine, CheckRequest
from chalicelib.errors import NotFoundError
from chalicelib.models import TargetReport
from chalicelib.render import report_to_dict
from chalicelib.store import TargetStore
from chalicelib.targets import ResultSummary, Target, next_check
from chalicelib.truststore import TrustStore, parse_pem_bundle


@dataclass(frozen=True, slots=True)
class CheckedTarget:
    """A target, the report of the check just made, and its JSON document as stored."""

    target: Target
    report: TargetReport
    document: dict[str, Any]


class TargetChecker:
    """Checks targets with the engine (their own thresholds and CA bundle) and stores each result."""

    def __init__(
        self, store: TargetStore, engine: CheckEngine, trust: TrustStore, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._engine = engine
        self._trust = trust
        self._clock = clock

    def check_targets(self, targets: Sequence[Target]) -> list[dict[str, Any]]:
        return [checked.document for checked in self.run(targets)]

    def run(self, targets: Sequence[Target]) -> list[CheckedTarget]:
        """Check every target concurrently and store the results; a deleted target is skipped."""
        requests = [CheckRequest(t.endpoint, t.spec.policy, self._trust_for(t.spec.ca_bundle)) for t in targets]
        checked = []
        for target, report in zip(targets, self._engine.check_many(requests), strict=True):
            document = report_to_dict(report)
            upcoming = next_check(report.checked_at, target.spec.check_interval_minutes)
            try:
                self._store.save_result(target.team, target.id, ResultSummary.of(report), document, upcoming)
            except NotFoundError:
                continue  # deleted while it was being checked: nothing to record, nobody to tell
            checked.append(CheckedTarget(target, report, document))
        return checked

    def _trust_for(self, ca_bundle: str | None) -> TrustStore | None:
        return None if ca_bundle is None else _with_bundle(self._trust, ca_bundle)


@functools.lru_cache(maxsize=256)
def _with_bundle(base: TrustStore, ca_bundle: str) -> TrustStore:
    """The public roots plus a target's own CA bundle (built once per distinct bundle)."""
    return base.with_anchors(parse_pem_bundle(ca_bundle.encode(), source="ca_bundle"))
