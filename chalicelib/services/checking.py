"""Running checks for registered targets, recording what they found, and alerting on it."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Protocol

from chalicelib.checks.engine import CheckEngine, CheckRequest, StragglerCut
from chalicelib.domain.alerts import AlertState, Notification
from chalicelib.domain.cadence import CadenceBrief, Sighting, cadence_finding, observed_cadence
from chalicelib.domain.domains import DEFAULT_GRACE, Issuance, renewed_not_deployed
from chalicelib.domain.models import Finding, FindingCode, PosturePolicy, Severity, TargetReport
from chalicelib.domain.targets import ResultSummary, Target
from chalicelib.domain.truststore import TrustStore, read_pem_bundle
from chalicelib.errors import CertwatchError, NotFoundError
from chalicelib.services.ports import CheckedTarget, CheckQueue, History, Issuances, Results, TeamReads, Teams

logger = logging.getLogger(__name__)

# Reports a batch records at once (as many as the engine checks at once): their store requests overlap.
RECORDERS = 32
# Reads a batch makes while its checks run (each target's certificate history; the alert states, in one).
READERS = 8

Ref = tuple[str, str]  # (team, target id)


class Alerts(Protocol):
    """What alerts on checked targets (services.alerting.Alerter)."""

    def read_ahead(self, targets: Sequence[Target]) -> Mapping[Ref, AlertState]:
        """The targets' alert states, read before they are checked (those it could not read left out)."""

    def after_target_check(
        self, target: Target, report: TargetReport, state: AlertState | None = None
    ) -> list[Notification]:
        """Decide, record and publish what the check calls for, from ``state`` if read ahead."""


class TargetChecker:
    """Checks targets with the engine (their own thresholds and CA bundle), stores and alerts on each."""

    def __init__(
        self,
        results: Results,
        engine: CheckEngine,
        trust: TrustStore,
        *,
        alerts: Alerts | None = None,
        history: History | None = None,
        teams: Teams | None = None,
        alone: Callable[[], CheckQueue] | None = None,
        issuances: Issuances | None = None,
        ct_grace: timedelta = DEFAULT_GRACE,
    ) -> None:
        """``alone``: where a batch's stragglers go to be checked one by one; with it, a batch stops
        waiting for its last few (``StragglerCut``), so a host that never answers holds only itself."""
        self._results = results
        self._teams = teams  # whose posture policy a target without its own is judged by
        self._alone = alone
        self._engine = engine
        self._trust = trust
        self._alerts = alerts
        self._history = history
        self._issuances = issuances
        self._ct_grace = ct_grace
        # Built once and kept, as the engine's pool is (warm Lambdas too): a pool a run would cost a run its
        # threads' start, about 2 ms of CPU each. Their threads start when first needed.
        self._readers = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="certwatch-read")
        self._recorders = ThreadPoolExecutor(max_workers=RECORDERS, thread_name_prefix="certwatch-record")

    def run(
        self, targets: Sequence[Target], teams: TeamReads | None = None, *, whole_reports: bool = False
    ) -> tuple[list[CheckedTarget], list[Target]]:
        """Check every target concurrently, store each result and alert on it.

        Returns what was checked, and the targets whose result could not be stored or alerted
        on (to be retried); a target deleted meanwhile is in neither. Whatever goes wrong with
        one target (its CA bundle, the engine, its history, the store, the alerts) costs that
        target alone. ``teams``: the targets' teams as ``read_teams`` read them beforehand; read
        now when not given (or not for every team of the targets). ``whole_reports``: every report with
        its whole renewal cadence, read from the history, as the API returns a check; else a check that finds
        the verdict its target's summary holds, while its full result is fresh, is judged from that summary
        alone (``_judged``) and its report holds no cadence (the stored full result has it).
        """
        checked: list[CheckedTarget] = []
        failed: list[Target] = []
        ready: list[tuple[Target, _Prepared]] = []
        if teams is None or not teams.teams >= {t.team for t in targets}:
            teams = self.read_teams([t.team for t in targets])
        postures, issued = teams.postures, teams.issuances
        for target in targets:
            try:
                if target.team not in postures:
                    failed.append(target)  # its team's posture policy could not be read (logged once)
                    continue
                setup = self._prepare(target)
                policy = target.spec.policy_within(postures[target.team])
                ready.append((target, replace(setup, request=replace(setup.request, policy=policy))))
            except Exception:  # a bug on one target costs that target's message, never the batch
                logger.exception("preparing the check of %s/%s failed", target.team, target.id)
                failed.append(target)
        stragglers: list[Target] = []
        order: dict[str, int] = {}
        cut = StragglerCut() if self._alone is not None else None
        reports: list[tuple[Target, _Prepared, TargetReport]] = []
        # What recording a check reads whatever its result, read while the checks run: a report then waits for
        # its writes alone. Reads, not the recording itself: a recorder's CPU would delay a live check, and the
        # straggler cut's clock with it.
        ahead = self._read_ahead([target for target, _ in ready], whole_reports)
        # Recorded several at a time: a store's requests are round trips, which a batch would otherwise wait for
        # one after another. And only once the batch's last few checks are out (the tail the straggler cut waits
        # for): until then a recorder's CPU would delay live checks, while the tail's wait can hide the recording.
        tail = (cut or StragglerCut()).allowed(len(ready))
        recording: list[Future[CheckedTarget | Target | None]] = []
        checking = self._engine.check_as_done([setup.request for _, setup in ready], cut=cut)
        for seen, (index, report) in enumerate(checking, start=1):
            target, setup = ready[index]
            order[target.id] = index
            if report is None:  # the batch stopped waiting for it: checked alone, with the whole timeout
                stragglers.append(target)
            else:
                reports.append((target, setup, report))
            if len(ready) - seen <= tail:
                recording += [
                    self._recorders.submit(self._finish, target, setup, report, issued.get(target.team), ahead)
                    for target, setup, report in reports
                ]
                reports.clear()
        unhanded = self._check_alone(stragglers)  # while the reports are recorded
        for future in recording:
            done = future.result()  # _finish contains every failure of its own
            if isinstance(done, CheckedTarget):
                checked.append(done)
            elif done is not None:
                failed.append(done)
        checked.sort(key=lambda done: order[done.target.id])  # as asked, whichever finished first
        return checked, failed + unhanded

    def _read_ahead(self, targets: Sequence[Target], whole_reports: bool) -> _Ahead:
        """Start reading, on the readers, the targets' alert states, and the certificate history of each target
        whose check is to be recorded with it: all of them for ``whole_reports``; else those whose summary
        holds no cadence brief or a full result due again (``_judged`` reads any other history it needs)."""
        readers = self._readers
        states = None  # asked first: one request for the batch, not queued behind the histories
        if self._alerts is not None and targets:
            states = readers.submit(self._alerts.read_ahead, targets)
        history = self._history
        if history is None:
            return _Ahead({}, states)
        now = self._engine.now()
        return _Ahead(
            {
                (t.team, t.id): readers.submit(history.sightings, t.team, t.id)
                for t in targets
                if whole_reports or t.latest is None or t.latest.cadence is None or not t.latest.result_fresh(now)
            },
            states,
        )

    def _finish(
        self,
        target: Target,
        setup: _Prepared,
        report: TargetReport,
        issuances: list[Issuance] | None,
        ahead: _Ahead,
    ) -> CheckedTarget | Target | None:
        """Judge what the check adds up to, store it and alert on it: the checked target; the target itself when
        that failed (to be retried); None when it was deleted meanwhile (nothing to record, nobody to tell)."""
        try:
            report = _with_findings(report, setup.findings)
            report, summary, sightings = self._judged(
                target, report, issuances, ahead.history.get((target.team, target.id))
            )
            self._record(target, summary, report, sightings)
            notes = self._alerts.after_target_check(target, report, ahead.state(target)) if self._alerts else []
        except NotFoundError:
            return None
        except CertwatchError as exc:
            logger.error("recording the check of %s/%s failed: %s", target.team, target.id, exc)
            return target
        except Exception:  # a bug on one target costs that target's message, never the batch
            logger.exception("recording the check of %s/%s failed", target.team, target.id)
            return target
        return CheckedTarget(target, report, tuple(notes))

    def _record(
        self,
        target: Target,
        summary: ResultSummary,
        report: TargetReport,
        sightings: tuple[Sighting, ...],
    ) -> None:
        """Write what changed: the summary alone for the stored verdict while its full result is fresh, the full
        result again (two plain writes) once it is not, everything in one transaction for a new verdict."""
        previous = target.latest
        if previous is None or sightings or not summary.same_verdict(previous):
            self._results.save_result(target.team, target.id, summary, report, sightings=sightings)
        elif summary.unchanged_since(previous):
            summary = replace(summary, result_at=previous.result_at)
            self._results.save_summary(target.team, target.id, summary)
        else:
            self._results.refresh_result(target.team, target.id, summary, report)

    def _check_alone(self, stragglers: list[Target]) -> list[Target]:
        """Hand the stragglers to the queue that checks each alone; those it cannot take, to be retried."""
        if not stragglers or self._alone is None:
            return stragglers
        try:
            self._alone().enqueue([(t.team, t.id) for t in stragglers])
        except CertwatchError as exc:
            logger.error("handing %d stragglers to be checked alone failed: %s", len(stragglers), exc)
            return stragglers
        logger.info("%d checks left to be checked alone: %s", len(stragglers), ", ".join(t.id for t in stragglers))
        return []

    def _prepare(self, target: Target) -> _Prepared:
        """What the engine is asked for this target, and what its CA bundle adds to the verdict."""
        trust: TrustStore | None = None
        findings: tuple[Finding, ...] = ()
        if target.spec.ca_bundle is not None:
            trust, findings = _with_bundle(self._trust, target.spec.ca_bundle)
        spec = target.spec
        request = CheckRequest(spec.endpoint, spec.policy, trust, revocation=spec.revocation, renewal_info=spec.ari)
        return _Prepared(request, findings)

    def _judged(
        self,
        target: Target,
        report: TargetReport,
        issuances: list[Issuance] | None,
        read: Future[list[Sighting]] | None,
    ) -> tuple[TargetReport, ResultSummary, tuple[Sighting, ...]]:
        """The report with its renewal cadence and CT findings, its summary, and the certificates first seen now.

        ``read``: the target's history being read ahead. Without it, a target whose summary holds a cadence
        brief and which serves only certificates that summary names has the history that summary was judged
        with: its cadence is judged from the brief, and when that finds the summary's verdict with a fresh full
        result, only the summary is written (``_record``), with no read of the history. Anything else reads
        the history now, for the full result's whole cadence and the certificates first seen.
        """
        latest = target.latest
        if read is None and self._history is not None and latest is not None and latest.cadence is not None:
            served = {r.leaf.fingerprint_sha256 for r in report.results if r.leaf is not None}
            if served <= {c.fingerprint_sha256 for c in latest.certificates}:
                judged = self._with_ct(target, _with_cadence_finding(report, latest.cadence), issuances)
                summary = replace(ResultSummary.of(judged), cadence=latest.cadence)
                if summary.unchanged_since(latest):
                    return judged, summary, ()
        report, sightings = self._with_cadence(target, report, read)
        report = self._with_ct(target, report, issuances)
        return report, ResultSummary.of(report), sightings

    def _with_cadence(
        self, target: Target, report: TargetReport, read: Future[list[Sighting]] | None = None
    ) -> tuple[TargetReport, tuple[Sighting, ...]]:
        """The report with the renewal cadence (and its finding if any), and the certificates first seen now.

        ``read``: the target's history being read ahead, else it is read now. The new sightings
        are written with the result, in the same conditional write, so a target deleted meanwhile
        keeps no history. History is secondary: when it cannot be read, the check is recorded
        without it.
        """
        if self._history is None:
            return report, ()
        try:
            seen = read.result() if read is not None else self._history.sightings(target.team, target.id)
        except Exception as exc:  # a store outage or a bug costs the cadence, never the check
            logger.warning("the certificate history of %s/%s is not available: %r", target.team, target.id, exc)
            return report, ()
        known = {s.fingerprint for s in seen}
        new: dict[str, Sighting] = {}
        for result in report.results:
            leaf = result.leaf
            if leaf is None or leaf.fingerprint_sha256 in known or leaf.fingerprint_sha256 in new:
                continue
            new[leaf.fingerprint_sha256] = Sighting(
                leaf.fingerprint_sha256, report.checked_at, leaf.not_before, leaf.not_after, result.publicly_trusted
            )
        cadence = observed_cadence([*seen, *new.values()])
        return replace(_with_cadence_finding(report, cadence.brief), cadence=cadence), tuple(new.values())

    def read_teams(self, teams: Sequence[str]) -> TeamReads:
        """Each team's posture policy (a team whose settings could not be read is left out) and CT issuances, read
        once per run, all at once: a batch of many teams would otherwise wait for their round trips in turn before
        any check starts."""
        teams = list(dict.fromkeys(teams))
        settings = {team: self._recorders.submit(self._team_posture, team) for team in teams}
        issuances = {team: self._recorders.submit(self._team_issuances, team) for team in teams}
        postures: dict[str, PosturePolicy] = {}
        for team, future in settings.items():
            try:
                postures[team] = future.result()
            except Exception:  # a store outage or a bug costs that team's checks in this run, never the batch
                logger.exception("reading the settings of team %s failed", team)
        return TeamReads(postures, {team: future.result() for team, future in issuances.items()})

    def _team_posture(self, team: str) -> PosturePolicy:
        chosen = self._teams.team_settings(team) if self._teams is not None else None
        return chosen.posture if chosen is not None else PosturePolicy()

    def _team_issuances(self, team: str) -> list[Issuance] | None:
        """The CT issuances of the team's watched domains, read once per team per run; None when they could not
        be. CT is secondary: when they cannot be read, the checks are recorded without it."""
        if self._issuances is None:
            return None
        try:
            return self._issuances.team_issuances(team)
        except Exception as exc:  # a store outage or a bug costs the CT judgement, never the check
            logger.warning("the CT issuances of %s are not available: %r", team, exc)
            return None

    def _with_ct(self, target: Target, report: TargetReport, issuances: list[Issuance] | None) -> TargetReport:
        """The report with RENEWED_NOT_DEPLOYED when CT shows a newer certificate for the name than an address
        serves (the team's watched domains' issuances, ``_team_issuances``)."""
        if not issuances:
            return report
        finding = renewed_not_deployed(
            report, issuances, report.checked_at, grace=self._ct_grace, critical_days=target.spec.critical_days
        )
        return report if finding is None else replace(report, target_findings=(*report.target_findings, finding))


@dataclass(frozen=True, slots=True)
class _Ahead:
    """What a run reads while its checks run: each target's history, and the targets' alert states."""

    history: Mapping[Ref, Future[list[Sighting]]]
    states: Future[Mapping[Ref, AlertState]] | None

    def state(self, target: Target) -> AlertState | None:
        """The target's alert state as read ahead; None when it was not (to be read after its check)."""
        return None if self.states is None else self.states.result().get((target.team, target.id))


@dataclass(frozen=True, slots=True)
class _Prepared:
    request: CheckRequest
    findings: tuple[Finding, ...]  # the target's own, known before any check (an unusable CA bundle)


def _with_findings(report: TargetReport, findings: tuple[Finding, ...]) -> TargetReport:
    return replace(report, target_findings=(*findings, *report.target_findings)) if findings else report


def _with_cadence_finding(report: TargetReport, cadence: CadenceBrief) -> TargetReport:
    """The report with RENEWAL_CADENCE_AT_RISK when its renewal cadence calls for it."""
    finding = cadence_finding(cadence, report.checked_at)
    return report if finding is None else replace(report, target_findings=(*report.target_findings, finding))


@functools.lru_cache(maxsize=256)
def _with_bundle(base: TrustStore, ca_bundle: str) -> tuple[TrustStore, tuple[Finding, ...]]:
    """The public roots plus a target's own CA bundle, built once per distinct bundle.

    Bundles are read whole at registration; one stored before that (or that a newer
    cryptography no longer reads) is used for what still reads, and named as a finding on the
    target, never raised into the batch it shares.
    """
    certs, problems = read_pem_bundle(ca_bundle.encode(), source="the target's ca_bundle")
    if not problems:
        return base.with_anchors(certs), ()
    rest = "its other certificates and the public roots" if certs else "the public roots alone"
    message = (
        f"{'; '.join(problems)}. The chain was judged with {rest}: "
        "register the target again with a bundle that reads (POST /targets)"
    )
    return base.with_anchors(certs), (Finding(FindingCode.CA_BUNDLE_UNUSABLE, Severity.CRITICAL, message),)
