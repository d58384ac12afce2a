"""Running checks for registered targets, recording what they found, and alerting on it."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from chalicelib.checks.engine import CheckEngine, CheckRequest
from chalicelib.domain.alerts import Notification
from chalicelib.domain.cadence import Sighting, cadence_finding, observed_cadence
from chalicelib.domain.models import TargetReport
from chalicelib.domain.targets import ResultSummary, Target, next_check
from chalicelib.domain.truststore import TrustStore, parse_pem_bundle
from chalicelib.errors import CertwatchError, NotFoundError, StoreError
from chalicelib.services.store import CertificateHistory, TargetStore

logger = logging.getLogger(__name__)

AfterCheck = Callable[[Target, TargetReport], list[Notification]]


@dataclass(frozen=True, slots=True)
class CheckedTarget:
    """A target, the report of the check just made, and the notifications published."""

    target: Target
    report: TargetReport
    notifications: tuple[Notification, ...] = ()


class TargetChecker:
    """Checks targets with the engine (their own thresholds and CA bundle), stores and alerts on each."""

    def __init__(
        self,
        store: TargetStore,
        engine: CheckEngine,
        trust: TrustStore,
        *,
        after_check: AfterCheck | None = None,
        history: CertificateHistory | None = None,
    ) -> None:
        self._store = store
        self._engine = engine
        self._trust = trust
        self._after_check = after_check
        self._history = history

    def check_targets(self, targets: Sequence[Target]) -> list[TargetReport]:
        checked, failed = self.run(targets)
        if failed:
            raise StoreError(f"could not record the check of {failed[0].id}")
        return [c.report for c in checked]

    def run(self, targets: Sequence[Target]) -> tuple[list[CheckedTarget], list[Target]]:
        """Check every target concurrently, store each result and alert on it.

        Returns what was checked, and the targets whose result could not be stored or alerted
        on (to be retried); a target deleted meanwhile is in neither.
        """
        requests = [
            CheckRequest(
                t.endpoint,
                t.spec.policy,
                self._trust_for(t.spec.ca_bundle),
                revocation=t.spec.revocation,
                renewal_info=t.spec.ari,
            )
            for t in targets
        ]
        checked: list[CheckedTarget] = []
        failed: list[Target] = []
        for target, report in zip(targets, self._engine.check_many(requests), strict=True):
            try:
                report = self._with_cadence(target, report)
                upcoming = next_check(report.checked_at, target.spec.check_interval_minutes)
                self._store.save_result(target.team, target.id, ResultSummary.of(report), report, upcoming)
                notes = self._after_check(target, report) if self._after_check else []
            except NotFoundError:
                continue  # deleted while it was being checked: nothing to record, nobody to tell
            except CertwatchError as exc:
                logger.error("recording the check of %s/%s failed: %s", target.team, target.id, exc)
                failed.append(target)
                continue
            except Exception:  # a bug on one target costs that target's message, never the batch
                logger.exception("recording the check of %s/%s failed", target.team, target.id)
                failed.append(target)
                continue
            checked.append(CheckedTarget(target, report, tuple(notes)))
        return checked, failed

    def _with_cadence(self, target: Target, report: TargetReport) -> TargetReport:
        """Record the certificates first seen now; the report with the cadence, and its finding if any.

        History is secondary: when it cannot be read or written, the check is recorded without it.
        """
        if self._history is None:
            return report
        try:
            seen = self._history.sightings(target.team, target.id)
            known = {s.fingerprint for s in seen}
            for result in report.results:
                leaf = result.leaf
                if leaf is None or leaf.fingerprint_sha256 in known:
                    continue
                sighting = Sighting(
                    leaf.fingerprint_sha256, report.checked_at, leaf.not_before, leaf.not_after, result.publicly_trusted
                )
                self._history.record_sighting(target.team, target.id, sighting)
                seen.append(sighting)
                known.add(sighting.fingerprint)
        except Exception as exc:  # a store outage or a bug costs the cadence, never the check
            logger.warning("the certificate history of %s/%s is not available: %r", target.team, target.id, exc)
            return report
        cadence = observed_cadence(seen)
        finding = cadence_finding(cadence, report.checked_at)
        findings = report.target_findings if finding is None else (*report.target_findings, finding)
        return replace(report, target_findings=findings, cadence=cadence)

    def _trust_for(self, ca_bundle: str | None) -> TrustStore | None:
        if ca_bundle is None:
            return None
        try:
            return _with_bundle(self._trust, ca_bundle)
        except CertwatchError as exc:  # validated at registration; if it ever fails, public roots only
            logger.warning("a stored CA bundle cannot be used: %s", exc)
            return None


@functools.lru_cache(maxsize=256)
def _with_bundle(base: TrustStore, ca_bundle: str) -> TrustStore:
    """The public roots plus a target's own CA bundle (built once per distinct bundle)."""
    return base.with_anchors(parse_pem_bundle(ca_bundle.encode(), source="ca_bundle"))
