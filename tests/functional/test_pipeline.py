"""The scheduled pipeline end to end on loopback: sweep, worker, checks of real TLS servers, alerts, outbox.

The store is the in-memory one, SNS a RecordingPublisher, SQS a RecordingCheckQueue; the checks are real
handshakes with TlsServers on 127.0.0.1, names pinned (never real DNS), judged by a controllable clock.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.sqs import check_message
from chalicelib.checks.tlsprobe import Handshake, TlsProbe
from chalicelib.domain.alerts import AlertState
from chalicelib.domain.cadence import Sighting
from chalicelib.domain.clock import utc_now
from chalicelib.domain.models import Endpoint, PosturePolicy, Protocol, Status, TargetReport
from chalicelib.domain.schedule import FIRST_GRACE, LEASE
from chalicelib.domain.targets import DEFAULT_INTERVAL_MINUTES, ResultSummary, Target, TargetChanges, TargetSpec
from chalicelib.domain.teams import TeamSettings
from chalicelib.errors import StoreError
from chalicelib.services.alerting import OUTBOX_GRACE, Alerter
from chalicelib.services.checking import TargetChecker
from chalicelib.services.sweeping import Sweeper, SweepResult
from chalicelib.services.worker import CheckWorker
from lab.certs import Issued, make_cert
from lab.servers import SilentServer, TlsServer, server_context
from tests.functional.helpers import Engines, Servers
from tests.support.events import rendered, subject_line
from tests.support.fakes import Clock, InMemoryStore, RecordingCheckQueue, RecordingPublisher, alerter_on
from tests.support.net import closed_port
from tests.support.pki import Pki

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # the ``now`` of tests/conftest.py
DAY = timedelta(days=1)
EXPIRING = "expiring.pipeline.test"
HEALTHY = "healthy.pipeline.test"
DOWN = "down.pipeline.test"
RENEWING = "renewing.pipeline.test"
TEAM = "payments"

_ids = itertools.count(1)


class RiggedStore(InMemoryStore):
    """The in-memory store, with failures to order and a barrier that makes racing workers really race."""

    def __init__(self) -> None:
        super().__init__()
        self.broken_loads: set[str] = set()
        self.broken_saves: set[str] = set()
        self.vanishing: set[str] = set()
        self.gate: threading.Barrier | None = None
        self.settings_gate: threading.Barrier | None = None  # every team's settings read before any is answered
        self.broken_teams: set[str] = set()
        self.writes: list[str] = []  # what each check wrote: "result" (in full), "summary" (only) or "refresh"

    def team_settings(self, team: str) -> TeamSettings:
        gate = self.settings_gate
        if gate is not None:  # once: the alerter reads the settings again, after the checks
            gate.wait(timeout=5)  # broken (BrokenBarrierError) unless the reads are made at once
            self.settings_gate = None
        if team in self.broken_teams:
            raise StoreError(f"DynamoDB is having a bad day reading the settings of {team}")
        return super().team_settings(team)

    def get_target(self, team: str, target_id: str) -> Target:
        if target_id in self.broken_loads:
            raise StoreError(f"DynamoDB is having a bad day reading {target_id}")
        return super().get_target(team, target_id)

    def get_targets(self, refs: Sequence[tuple[str, str]], *, consistent: bool = True) -> dict[tuple[str, str], Target]:
        broken = [target_id for _, target_id in refs if target_id in self.broken_loads]
        if broken:  # one read for the batch: it fails as a whole
            raise StoreError(f"DynamoDB is having a bad day reading {broken[0]}")
        return super().get_targets(refs, consistent=consistent)

    def save_result(
        self,
        team: str,
        target_id: str,
        summary: ResultSummary,
        report: TargetReport,
        *,
        sightings: Sequence[Sighting] = (),
    ) -> None:
        if target_id in self.broken_saves:
            raise StoreError(f"DynamoDB is having a bad day writing {target_id}")
        if target_id in self.vanishing:
            self.delete_target(team, target_id)  # deleted by its team while it was being checked
        self.writes.append("result")
        super().save_result(team, target_id, summary, report, sightings=sightings)

    def save_summary(self, team: str, target_id: str, summary: ResultSummary) -> None:
        if target_id in self.broken_saves:
            raise StoreError(f"DynamoDB is having a bad day writing {target_id}")
        if target_id in self.vanishing:
            self.delete_target(team, target_id)
        self.writes.append("summary")
        super().save_summary(team, target_id, summary)

    def refresh_result(self, team: str, target_id: str, summary: ResultSummary, report: TargetReport) -> None:
        if target_id in self.broken_saves:
            raise StoreError(f"DynamoDB is having a bad day writing {target_id}")
        self.writes.append("refresh")
        super().refresh_result(team, target_id, summary, report)

    def get_alert_state(self, team: str, target_id: str) -> AlertState:
        gate = self.gate
        if gate is not None:
            gate.wait(timeout=10)  # every racer has read the state before any writes it
        return super().get_alert_state(team, target_id)


@dataclass(frozen=True)
class Site:
    """A loopback TLS server standing for one host name."""

    name: str
    server: TlsServer
    leaf: Issued

    @property
    def port(self) -> int:
        return self.server.port


@pytest.fixture(scope="module")
def sites(servers: Servers, pki: Pki) -> dict[str, Site]:
    def serve(name: str, not_after: datetime) -> Site:
        leaf = make_cert(name, issuer=pki.intermediate, not_before=not_after - 90 * DAY, not_after=not_after)
        return Site(name, servers.start(TlsServer([leaf, pki.intermediate])), leaf)

    return {"expiring": serve(EXPIRING, NOW + 5 * DAY), "healthy": serve(HEALTHY, NOW + 80 * DAY)}


@dataclass
class Pipeline:
    store: RiggedStore
    publisher: RecordingPublisher
    clock: Clock
    alerter: Alerter
    checker: TargetChecker
    worker: CheckWorker
    queue: RecordingCheckQueue = field(default_factory=RecordingCheckQueue)

    def register(
        self,
        name: str,
        port: int,
        *,
        team: str = TEAM,
        paused: bool = False,
        scheduled_at: datetime | None = None,
    ) -> Target:
        target = Target(
            id=f"tg_{next(_ids):012x}0000beef",
            team=team,
            spec=TargetSpec(Endpoint(name, port, Protocol.TLS)),
            created_at=NOW - DAY,
            updated_at=NOW - DAY,
            scheduled_at=NOW if scheduled_at is None else scheduled_at,
            paused=paused,
        )
        self.store.create_target(target)
        return target

    def sweeper(self) -> Sweeper:
        return Sweeper(self.store, self.queue, self.alerter, self.clock.now, threads=4)

    def published_keys(self) -> list[str]:
        return [n.key for n in self.publisher.published]


@pytest.fixture
def pipeline(engines: Engines, pki: Pki) -> Pipeline:
    clock = Clock(NOW)
    store = RiggedStore()
    publisher = RecordingPublisher()
    engine = engines.build(
        {EXPIRING: ["127.0.0.1"], HEALTHY: ["127.0.0.1"], DOWN: ["127.0.0.1"]}, clock=clock.now, timeout=2.0
    )
    alerter = alerter_on(store, publisher, clock.now)
    checker = TargetChecker(store, engine, pki.trust, alerts=alerter, teams=store)
    return Pipeline(store, publisher, clock, alerter, checker, CheckWorker(store, checker))


def expiring_key(target: Target, site: Site) -> str:
    """A certificate's event is the team's (teams group events by certificate by default)."""
    return f"{target.team}:{site.leaf.fingerprint}:expiring:7"


def record(message_id: str, body: str | None) -> dict[str, Any]:
    """An SQS record as the Lambda event carries it (only what the worker reads)."""
    message: dict[str, Any] = {"messageId": message_id, "receiptHandle": f"rh-{message_id}", "attributes": {}}
    if body is not None:
        message["body"] = body
    return message


def message_for(target: Target, message_id: str) -> dict[str, Any]:
    return record(message_id, check_message(target.team, target.id))


# --- checking and alerting ---------------------------------------------------------------------


def test_a_check_stores_its_result_and_announces_an_expiring_certificate_once(
    pipeline: Pipeline, sites: dict[str, Site]
) -> None:
    site = sites["expiring"]
    target = pipeline.register(site.name, site.port)

    checked, failed = pipeline.checker.run([target])
    assert failed == []
    (first,) = checked
    assert first.report.status is Status.CRITICAL
    assert first.report.days_left == 5
    (note,) = first.notifications
    assert note.key == expiring_key(target, site)
    assert subject_line(note) == (
        f"[certwatch] CRITICAL {EXPIRING}:{site.port} certificate expires in 5 days "
        f"({site.leaf.cert.not_valid_after_utc:%Y-%m-%d})"
    )
    assert rendered(note)["certificate"]["fingerprint_sha256"] == site.leaf.fingerprint
    assert note.observed.days_left == 5

    stored = pipeline.store.get_target(TEAM, target.id)
    assert stored.latest is not None
    assert stored.latest.status is Status.CRITICAL
    assert stored.next_check_at == NOW + timedelta(minutes=DEFAULT_INTERVAL_MINUTES)
    result = pipeline.store.get_result(TEAM, target.id)
    assert result is not None
    assert result.days_left == 5

    # The message delivered again (SQS is at least once), later: stored again, announced no more.
    pipeline.clock.advance(timedelta(minutes=5))
    (second,), failed = pipeline.checker.run([target])
    assert failed == []
    assert second.notifications == ()
    assert pipeline.published_keys() == [expiring_key(target, site)]
    assert pipeline.store.pending_notifications() == []
    # Its slot does not move: the next check is where it was.
    assert pipeline.store.get_target(TEAM, target.id).next_check_at == NOW + timedelta(minutes=DEFAULT_INTERVAL_MINUTES)


def test_a_batch_reads_its_teams_settings_at_once_and_a_team_that_does_not_read_fails_alone(
    pipeline: Pipeline, sites: dict[str, Site]
) -> None:
    site = sites["healthy"]
    teams = [f"team-{n}" for n in range(6)]
    targets = [pipeline.register(site.name, site.port, team=team) for team in teams]
    pipeline.store.settings_gate = threading.Barrier(len(teams))  # read in turn, the first read would wait 5 s
    pipeline.store.broken_teams = {"team-3"}

    checked, failed = pipeline.checker.run(targets)

    assert sorted(t.id for t in failed) == sorted(t.id for t in targets if t.team == "team-3")
    assert sorted(done.target.id for done in checked) == sorted(t.id for t in targets if t.team != "team-3")
    assert all(done.report.status is Status.OK for done in checked)


def test_an_unchanged_verdict_writes_the_summary_alone_and_the_full_result_once_a_day(
    pipeline: Pipeline, sites: dict[str, Site]
) -> None:
    site = sites["healthy"]
    target = pipeline.register(site.name, site.port)

    def check() -> Target:
        (_done,), failed = pipeline.checker.run([pipeline.store.get_target(TEAM, target.id)])  # as the worker reads it
        assert failed == []
        return pipeline.store.get_target(TEAM, target.id)

    first = check()
    pipeline.clock.advance(timedelta(hours=6))
    second = check()
    pipeline.clock.advance(timedelta(hours=18))
    third = check()  # the stored full result is a day old: written again, outside a transaction
    pipeline.clock.advance(timedelta(hours=6))
    check()

    assert pipeline.store.writes == ["result", "summary", "refresh", "summary"]
    assert first.latest is not None
    assert second.latest is not None
    assert third.latest is not None
    # The target says when it was last checked, and the next check follows from that one.
    assert second.latest.checked_at - first.latest.checked_at == timedelta(hours=6)
    assert second.next_check_at == second.latest.checked_at + timedelta(minutes=DEFAULT_INTERVAL_MINUTES)
    assert second.latest.result_at == first.latest.checked_at
    assert third.latest.result_at == third.latest.checked_at
    result = pipeline.store.get_result(TEAM, target.id)
    assert result is not None
    assert result.checked_at == third.latest.checked_at
    assert pipeline.publisher.published == []


def test_a_healthy_certificate_announces_nothing(pipeline: Pipeline, sites: dict[str, Site]) -> None:
    site = sites["healthy"]
    target = pipeline.register(site.name, site.port)
    (checked,), failed = pipeline.checker.run([target])
    assert failed == []
    assert checked.report.status is Status.OK
    assert checked.notifications == ()
    assert pipeline.publisher.published == []
    assert pipeline.store.get_alert_state(TEAM, target.id).fingerprint == site.leaf.fingerprint


def test_a_teams_posture_policy_judges_its_targets_and_a_targets_own_replaces_it(
    pipeline: Pipeline, sites: dict[str, Site]
) -> None:
    site = sites["healthy"]
    pipeline.store.put_team_settings(TEAM, TeamSettings(posture=PosturePolicy(require_post_quantum=True)))
    teams = pipeline.register(site.name, site.port)
    own = pipeline.register(site.name, site.port, team="other")
    pipeline.store.put_team_settings("other", TeamSettings(posture=PosturePolicy(require_post_quantum=True)))
    own = pipeline.store.update_target("other", own.id, TargetChanges(posture=PosturePolicy(note_classical=True)), NOW)

    checked, failed = pipeline.checker.run([teams, own])

    assert failed == []
    by_team = {c.target.team: c for c in checked}
    warned, noted = by_team[TEAM].report, by_team["other"].report
    assert [(f.code.value, f.severity.value) for f in warned.findings] == [("NO_POST_QUANTUM_KEY_EXCHANGE", "warning")]
    assert warned.status is Status.WARNING
    assert [(f.code.value, f.severity.value) for f in noted.findings] == [("NO_POST_QUANTUM_KEY_EXCHANGE", "info")]
    assert noted.status is Status.OK
    assert [r.group for r in warned.results] == ["x25519"]
    assert pipeline.store.get_result(TEAM, teams.id) == warned
    assert pipeline.publisher.published == [], "a posture warning pages nobody"


def test_two_workers_racing_on_one_target_publish_once(pipeline: Pipeline, sites: dict[str, Site]) -> None:
    site = sites["expiring"]
    target = pipeline.register(site.name, site.port)
    pipeline.store.gate = threading.Barrier(2)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(pipeline.checker.run, [target]) for _ in range(2)]
        outcomes = [run.result(timeout=20) for run in runs]
    pipeline.store.gate = None

    assert [failed for _, failed in outcomes] == [[], []]
    assert sum(len(c.notifications) for checked, _ in outcomes for c in checked) == 1
    assert pipeline.published_keys() == [expiring_key(target, site)]
    assert pipeline.store.pending_notifications() == []


def test_many_racing_runs_publish_one_notification_per_key(pipeline: Pipeline, sites: dict[str, Site]) -> None:
    site = sites["expiring"]
    targets = [pipeline.register(site.name, site.port, team=f"team-{n}") for n in range(4)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        runs = [pool.submit(pipeline.checker.run, [t]) for t in targets for _ in range(6)]
        for run in runs:
            assert run.result(timeout=20)[1] == []
    assert Counter(pipeline.published_keys()) == {expiring_key(t, site): 1 for t in targets}


def test_an_sns_outage_delays_a_notification_and_loses_nothing(pipeline: Pipeline, sites: dict[str, Site]) -> None:
    site = sites["expiring"]
    target = pipeline.register(site.name, site.port)
    key = expiring_key(target, site)

    pipeline.publisher.failing = True
    (checked,), failed = pipeline.checker.run([target])
    assert failed == [], "an SNS outage is no reason to check again"
    assert checked.notifications == ()
    assert [n.key for n in pipeline.store.pending_notifications()] == [key]
    # The target's own state has moved on: the event is safe in the outbox (the team's key).
    assert (
        f"{target.id}:{site.leaf.fingerprint}:expiring:7" in pipeline.store.get_alert_state(TEAM, target.id).announced
    )

    pipeline.clock.advance(timedelta(minutes=30))
    pipeline.checker.run([target])
    assert [n.key for n in pipeline.store.pending_notifications()] == [key], "no duplicate recorded"
    assert pipeline.alerter.drain() == 0, "still down"

    pipeline.publisher.failing = False
    assert pipeline.alerter.drain() == 1
    assert pipeline.published_keys() == [key]
    assert pipeline.store.pending_notifications() == []
    assert pipeline.alerter.drain() == 0
    pipeline.checker.run([target])
    assert pipeline.published_keys() == [key]


def test_drain_leaves_young_notifications_to_the_worker_that_recorded_them(
    pipeline: Pipeline, sites: dict[str, Site]
) -> None:
    site = sites["expiring"]
    target = pipeline.register(site.name, site.port)
    pipeline.publisher.failing = True
    pipeline.checker.run([target])
    pipeline.publisher.failing = False

    pipeline.clock.advance(OUTBOX_GRACE - timedelta(seconds=1))
    assert pipeline.alerter.drain() == 0
    assert len(pipeline.store.pending_notifications()) == 1
    pipeline.clock.advance(timedelta(seconds=1))
    assert pipeline.alerter.drain() == 1
    assert pipeline.published_keys() == [expiring_key(target, site)]
    assert pipeline.store.pending_notifications() == []


# --- the worker --------------------------------------------------------------------------------


def test_a_poisoned_message_fails_alone(pipeline: Pipeline, sites: dict[str, Site]) -> None:
    expiring = pipeline.register(sites["expiring"].name, sites["expiring"].port)
    healthy = pipeline.register(sites["healthy"].name, sites["healthy"].port)
    outcome = pipeline.worker.handle(
        [
            message_for(expiring, "m-expiring"),
            record("m-text", "check everything please"),
            record("m-no-id", json.dumps({"team": TEAM})),
            record("m-number-id", json.dumps({"team": TEAM, "id": 42})),
            record("m-list", "[1, 2]"),
            record("m-no-body", None),
            message_for(healthy, "m-healthy"),
        ]
    )
    assert outcome.failed_message_ids == ["m-text", "m-no-id", "m-number-id", "m-list", "m-no-body"]
    assert outcome.checked == 2
    assert outcome.errors == 0
    assert outcome.skipped == 0
    assert outcome.published_by_severity == {"critical": 1}
    assert pipeline.store.get_result(TEAM, expiring.id) is not None
    assert pipeline.store.get_result(TEAM, healthy.id) is not None


def test_a_deleted_target_is_skipped_not_failed(pipeline: Pipeline, sites: dict[str, Site]) -> None:
    gone = pipeline.register(sites["expiring"].name, sites["expiring"].port)
    healthy = pipeline.register(sites["healthy"].name, sites["healthy"].port)
    pipeline.store.delete_target(TEAM, gone.id)
    outcome = pipeline.worker.handle(
        [
            message_for(gone, "m-gone"),
            record("m-never", check_message(TEAM, "tg_00000000000000000000")),
            message_for(healthy, "m-healthy"),
        ]
    )
    assert outcome.failed_message_ids == []
    assert outcome.skipped == 2
    assert outcome.checked == 1
    assert pipeline.publisher.published == []


def test_a_target_deleted_during_its_check_is_neither_checked_nor_failed(
    pipeline: Pipeline, sites: dict[str, Site]
) -> None:
    target = pipeline.register(sites["expiring"].name, sites["expiring"].port)
    pipeline.store.vanishing.add(target.id)
    outcome = pipeline.worker.handle([message_for(target, "m-1")])
    assert outcome.failed_message_ids == []
    assert outcome.checked == 0
    assert pipeline.publisher.published == []
    assert pipeline.store.pending_notifications() == []


def test_a_paused_target_is_skipped(pipeline: Pipeline, sites: dict[str, Site]) -> None:
    site = sites["expiring"]
    paused = pipeline.register(site.name, site.port, paused=True)
    before = site.server.connections
    outcome = pipeline.worker.handle([message_for(paused, "m-paused")])
    assert outcome.skipped == 1
    assert outcome.checked == 0
    assert outcome.failed_message_ids == []
    assert pipeline.store.get_result(TEAM, paused.id) is None
    assert site.server.connections == before
    assert pipeline.publisher.published == []


def test_duplicate_messages_check_a_target_once(pipeline: Pipeline, sites: dict[str, Site]) -> None:
    site = sites["expiring"]
    target = pipeline.register(site.name, site.port)
    before = site.server.connections
    outcome = pipeline.worker.handle([message_for(target, f"m-{n}") for n in range(3)])
    assert outcome.checked == 1
    assert outcome.failed_message_ids == []
    assert site.server.connections - before == 1
    assert pipeline.published_keys() == [expiring_key(target, site)]


def test_a_store_failure_loading_a_target_fails_only_its_message(pipeline: Pipeline, sites: dict[str, Site]) -> None:
    unlucky = pipeline.register(sites["expiring"].name, sites["expiring"].port)
    healthy = pipeline.register(sites["healthy"].name, sites["healthy"].port)
    pipeline.store.broken_loads.add(unlucky.id)
    outcome = pipeline.worker.handle([message_for(unlucky, "m-unlucky"), message_for(healthy, "m-healthy")])
    assert outcome.failed_message_ids == ["m-unlucky"]
    assert outcome.checked == 1
    assert pipeline.store.get_result(TEAM, healthy.id) is not None
    assert pipeline.store.get_result(TEAM, unlucky.id) is None


def test_a_store_failure_saving_a_result_fails_every_message_of_that_target(
    pipeline: Pipeline, sites: dict[str, Site]
) -> None:
    unlucky = pipeline.register(sites["expiring"].name, sites["expiring"].port)
    healthy = pipeline.register(sites["healthy"].name, sites["healthy"].port)
    pipeline.store.broken_saves.add(unlucky.id)
    outcome = pipeline.worker.handle(
        [message_for(unlucky, "m-1"), message_for(healthy, "m-healthy"), message_for(unlucky, "m-2")]
    )
    assert sorted(outcome.failed_message_ids) == ["m-1", "m-2"]
    assert outcome.checked == 1
    assert pipeline.publisher.published == [], "nothing is announced about a check that was not recorded"
    assert pipeline.store.get_alert_state(TEAM, unlucky.id) == AlertState()


def test_an_unreachable_target_is_announced_after_two_checks(pipeline: Pipeline) -> None:
    with closed_port() as port:
        target = pipeline.register(DOWN, port)
        first = pipeline.worker.handle([message_for(target, "m-1")])
        assert (first.checked, first.errors, first.failed_message_ids) == (1, 1, [])
        assert pipeline.publisher.published == []

        pipeline.clock.advance(timedelta(hours=6))
        second = pipeline.worker.handle([message_for(target, "m-2")])
        assert second.published_by_severity == {"critical": 1}
        (note,) = pipeline.publisher.published
        assert rendered(note)["type"] == "endpoint.unreachable"
        assert rendered(note)["findings"][0]["reason"] == "refused"

        pipeline.clock.advance(timedelta(hours=6))
        pipeline.worker.handle([message_for(target, "m-3")])
        assert len(pipeline.publisher.published) == 1


# --- the sweep ---------------------------------------------------------------------------------


def test_the_sweep_queues_the_targets_whose_slot_comes_in_its_window_once(
    pipeline: Pipeline, sites: dict[str, Site]
) -> None:
    site = sites["healthy"]
    # The first sweep's window is the hour before it; a target's first moment is its anchor.
    earlier = pipeline.register(site.name, site.port, team="a", scheduled_at=NOW - timedelta(minutes=30))
    due = pipeline.register(site.name, site.port, team="b", scheduled_at=NOW)
    later = pipeline.register(site.name, site.port, team="c", scheduled_at=NOW + timedelta(minutes=1))
    pipeline.register(site.name, site.port, team="d", scheduled_at=NOW - timedelta(minutes=5), paused=True)
    sweeper = pipeline.sweeper()

    assert sweeper.sweep() == SweepResult(due=2, queued=2, published=0)
    assert pipeline.queue.sent == [("a", earlier.id), ("b", due.id)]

    # The window is the sweep's: an immediate second sweep has none.
    assert sweeper.sweep() == SweepResult(due=0, queued=0, published=0)

    # The next sweep's window holds the one due a minute after the first sweep.
    pipeline.clock.advance(timedelta(minutes=15))
    assert sweeper.sweep() == SweepResult(due=1, queued=1, published=0)

    # Checks that never landed (messages lost): the first sweep's window is gone over an hour after it was claimed.
    pipeline.clock.advance(LEASE - timedelta(minutes=15))
    assert sweeper.sweep() == SweepResult(due=2, queued=2, published=0)
    pipeline.clock.advance(timedelta(minutes=15))
    assert sweeper.sweep().queued == 0  # c's window is in the claims of the hour after
    pipeline.clock.advance(LEASE - timedelta(minutes=15))
    assert sweeper.sweep().queued == 1  # c's, once those claims are an hour old
    assert Counter(pipeline.queue.sent) == {("a", earlier.id): 2, ("b", due.id): 2, ("c", later.id): 2}


def test_a_long_window_queues_each_target_once_and_goes_over_them_an_hour_after_it_was_claimed(
    pipeline: Pipeline, sites: dict[str, Site]
) -> None:
    site = sites["healthy"]
    old = pipeline.register(site.name, site.port, team="a", scheduled_at=NOW - timedelta(minutes=59))
    recent = pipeline.register(site.name, site.port, team="b", scheduled_at=NOW - timedelta(minutes=1))
    sweeper = pipeline.sweeper()
    assert sweeper.sweep().queued == 2
    pipeline.clock.advance(timedelta(minutes=2))
    assert sweeper.sweep().queued == 0  # an hour overdue by their moments, but queued two minutes ago
    pipeline.clock.advance(LEASE - timedelta(minutes=3))
    assert sweeper.sweep().queued == 0
    pipeline.clock.advance(timedelta(minutes=1))
    assert sweeper.sweep().queued == 2  # an hour after the claim, their checks never landed: both again, once
    assert Counter(pipeline.queue.sent) == {("a", old.id): 2, ("b", recent.id): 2}

    # Sweeps stopped for ten hours (an outage): the next window holds every moment since, each target once.
    pipeline.clock.advance(timedelta(hours=10))
    assert sweeper.sweep() == SweepResult(due=2, queued=2, published=0)


def test_a_checked_target_is_not_due_until_its_interval_has_passed(pipeline: Pipeline, sites: dict[str, Site]) -> None:
    site = sites["healthy"]
    target = pipeline.register(site.name, site.port)
    sweeper = pipeline.sweeper()
    assert sweeper.sweep().queued == 1
    pipeline.worker.handle([message_for(target, "m-1")])
    pipeline.clock.advance(LEASE)
    assert sweeper.sweep() == SweepResult(due=1, queued=0, published=0)  # gone over again: its check landed
    pipeline.clock.advance(timedelta(minutes=DEFAULT_INTERVAL_MINUTES) - LEASE)
    assert sweeper.sweep().queued == 1


@pytest.mark.parametrize("first_check", ["landed", "was lost"])
def test_a_new_targets_first_moment_is_the_sweeps_fallback_for_the_check_queued_at_registration(
    pipeline: Pipeline, sites: dict[str, Site], first_check: str
) -> None:
    site = sites["healthy"]
    target = pipeline.register(site.name, site.port, scheduled_at=NOW + FIRST_GRACE)  # as the registry anchors it
    sweeper = pipeline.sweeper()
    assert sweeper.sweep().queued == 0
    if first_check == "landed":
        pipeline.worker.handle([message_for(target, "m-1")])
    pipeline.clock.advance(FIRST_GRACE)
    assert sweeper.sweep() == SweepResult(due=1, queued=0 if first_check == "landed" else 1, published=0)
    pipeline.clock.advance(timedelta(minutes=DEFAULT_INTERVAL_MINUTES))
    assert sweeper.sweep().queued == 1


def test_targets_the_sweep_cannot_read_are_queued_unread_and_the_sweep_goes_on(
    pipeline: Pipeline, sites: dict[str, Site]
) -> None:
    site = sites["healthy"]
    readable = pipeline.register(site.name, site.port, team="a")
    unreadable = pipeline.register(site.name, site.port, team="b")
    pipeline.worker.handle([message_for(readable, "m-1")])  # checked: not due at its moment
    pipeline.worker.handle([message_for(unreadable, "m-2")])
    pipeline.store.broken_loads.add(unreadable.id)  # its batch read fails whole: the sweep cannot tell either

    assert pipeline.sweeper().sweep() == SweepResult(due=2, queued=2, published=0)
    assert sorted(pipeline.queue.sent) == sorted([("a", readable.id), ("b", unreadable.id)])


def test_concurrent_sweeps_queue_each_target_once(pipeline: Pipeline, sites: dict[str, Site]) -> None:
    site = sites["healthy"]
    targets = [pipeline.register(site.name, site.port, team=f"team-{n}") for n in range(40)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [r.result(timeout=20) for r in [pool.submit(pipeline.sweeper().sweep) for _ in range(4)]]
    assert sum(r.queued for r in results) == 40
    assert sorted(pipeline.queue.sent) == sorted((t.team, t.id) for t in targets)


def test_the_sweep_drains_the_outbox(pipeline: Pipeline, sites: dict[str, Site]) -> None:
    site = sites["expiring"]
    target = pipeline.register(site.name, site.port, scheduled_at=NOW + DAY)
    pipeline.publisher.failing = True
    pipeline.checker.run([target])
    pipeline.publisher.failing = False
    assert pipeline.publisher.published == []

    pipeline.clock.advance(timedelta(minutes=5))
    result = pipeline.sweeper().sweep()
    assert (result.queued, result.published) == (0, 1)
    assert pipeline.published_keys() == [expiring_key(target, site)]
    assert pipeline.store.pending_notifications() == []
    assert pipeline.sweeper().sweep().published == 0


class _RefusingQueue:
    def enqueue(self, refs: Sequence[tuple[str, str]]) -> None:
        raise StoreError("SQS is unreachable")


@pytest.mark.parametrize("lane", ["takes them", "is unreachable"])
def test_a_batch_hands_a_host_that_never_answers_to_be_checked_alone(
    engines: Engines, pki: Pki, sites: dict[str, Site], servers: Servers, lane: str
) -> None:
    store = RiggedStore()
    publisher = RecordingPublisher()
    silent = servers.start(SilentServer())
    # Far beyond the cut: the silent host can only be left to the lane, never time out in the batch.
    engine = engines.build({HEALTHY: ["127.0.0.1"], "silent.pipeline.test": ["127.0.0.1"]}, timeout=30.0)
    alone = RecordingCheckQueue() if lane == "takes them" else _RefusingQueue()
    alerter = alerter_on(store, publisher, Clock(NOW).now)
    checker = TargetChecker(store, engine, pki.trust, alerts=alerter, alone=lambda: alone)
    pipeline = Pipeline(store, publisher, Clock(NOW), alerter, checker, CheckWorker(store, checker))
    live = [pipeline.register(HEALTHY, sites["healthy"].port, team=f"team-{i}") for i in range(4)]
    tarpit = pipeline.register("silent.pipeline.test", silent.port)

    checked, failed = checker.run([live[0], tarpit, *live[1:]])

    assert [done.target.id for done in checked] == [t.id for t in live]  # in the order asked
    assert all(done.report.status is Status.OK for done in checked)
    assert store.get_result(TEAM, tarpit.id) is None  # not judged on a wait it was not given
    if isinstance(alone, RecordingCheckQueue):
        assert (failed, alone.sent) == ([], [(TEAM, tarpit.id)])
    else:
        assert failed == [tarpit]  # its message goes back to the batch's queue, as any failure's


def test_a_checker_without_a_lane_for_stragglers_waits_for_every_check(
    engines: Engines, pki: Pki, sites: dict[str, Site], servers: Servers
) -> None:
    store = RiggedStore()
    silent = servers.start(SilentServer())
    engine = engines.build({HEALTHY: ["127.0.0.1"], "silent.pipeline.test": ["127.0.0.1"]}, timeout=1.0)
    checker = TargetChecker(store, engine, pki.trust)
    pipeline = Pipeline(
        store,
        RecordingPublisher(),
        Clock(NOW),
        alerter_on(store, RecordingPublisher(), Clock(NOW).now),
        checker,
        CheckWorker(store, checker),
    )
    live = pipeline.register(HEALTHY, sites["healthy"].port)
    tarpit = pipeline.register("silent.pipeline.test", silent.port)

    checked, failed = checker.run([tarpit, live])

    assert failed == []
    assert [done.target.id for done in checked] == [tarpit.id, live.id]
    report = store.get_result(TEAM, tarpit.id)
    assert report is not None
    assert report.status is Status.ERROR


def test_a_batch_reads_each_teams_ct_issuances_once(engines: Engines, pki: Pki, sites: dict[str, Site]) -> None:
    store = RiggedStore()
    asked: list[str] = []

    class CountingIssuances:
        def team_issuances(self, team: str) -> list[Any]:
            asked.append(team)
            return []

    engine = engines.build({HEALTHY: ["127.0.0.1"], EXPIRING: ["127.0.0.1"]}, timeout=2.0)
    checker = TargetChecker(store, engine, pki.trust, issuances=CountingIssuances())  # type: ignore[arg-type]
    pipeline = Pipeline(
        store,
        RecordingPublisher(),
        Clock(NOW),
        alerter_on(store, RecordingPublisher(), Clock(NOW).now),
        checker,
        CheckWorker(store, checker),
    )
    targets = [
        pipeline.register(HEALTHY, sites["healthy"].port, team="one"),
        pipeline.register(EXPIRING, sites["expiring"].port, team="one"),
        pipeline.register(HEALTHY, sites["healthy"].port, team="two"),
    ]

    checked, failed = checker.run(targets)

    assert (len(checked), failed) == (3, [])
    assert sorted(asked) == ["one", "two"]


def _probed(
    engines: Engines, pki: Pki, store: RiggedStore, probe: TlsProbe | None = None, clock: Clock | None = None
) -> tuple[TargetChecker, Pipeline]:
    """A checker (alerting, keeping history, no lane for stragglers) whose handshakes go through ``probe``, its
    reports stamped by ``clock`` (else the time it is)."""
    pins = {HEALTHY: ["127.0.0.1"], EXPIRING: ["127.0.0.1"], RENEWING: ["127.0.0.1"]}
    engine = engines.build(pins, probe=probe, timeout=10.0, clock=utc_now if clock is None else clock.now)
    clock = clock or Clock(NOW)
    alerter = alerter_on(store, RecordingPublisher(), clock.now)
    checker = TargetChecker(store, engine, pki.trust, alerts=alerter, history=store)
    return checker, Pipeline(store, RecordingPublisher(), clock, alerter, checker, CheckWorker(store, checker))


class HeldProbe(TlsProbe):
    """The real TLS probe, each handshake (with ``only``, if named) held until ``ready``, or 5 s."""

    def __init__(self, only: str | None = None) -> None:
        super().__init__()
        self.only = only
        self.ready = threading.Event()
        self.held_out: list[str] = []  # the handshakes that waited the 5 s out
        self._holding = ThreadPoolExecutor(max_workers=8)

    def begin(self, endpoint: Endpoint, address: str, *, timeout: float) -> Future[Handshake]:
        return self._holding.submit(self._held, endpoint, address, timeout)  # never a wait where the engine asks

    def _held(self, endpoint: Endpoint, address: str, timeout: float) -> Handshake:
        if self.only in (None, endpoint.host) and not self.ready.wait(timeout=5):
            self.held_out.append(endpoint.host)
        return super().begin(endpoint, address, timeout=timeout).result()


def test_a_batch_reads_its_histories_and_alert_states_while_its_checks_run(
    engines: Engines, pki: Pki, sites: dict[str, Site]
) -> None:
    probe = HeldProbe()  # until the batch's reads are all made
    read: list[str] = []
    wanted = 3  # two histories and the alert states

    class Reading(RiggedStore):
        def _read(self, what: str) -> None:
            read.append(what)
            if len(read) >= wanted:
                probe.ready.set()  # every read made: the handshakes may go on

        def sightings(self, team: str, target_id: str) -> list[Sighting]:
            self._read(f"history {target_id}")
            return super().sightings(team, target_id)

        def get_alert_states(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], AlertState]:
            self._read("alert states")
            return super().get_alert_states(refs)

        def get_alert_state(self, team: str, target_id: str) -> AlertState:
            self._read(f"alert state {target_id}")
            return super().get_alert_state(team, target_id)

    store = Reading()
    checker, pipeline = _probed(engines, pki, store, probe)
    targets = [pipeline.register(HEALTHY, sites["healthy"].port), pipeline.register(EXPIRING, sites["expiring"].port)]

    checked, failed = checker.run(targets)

    assert (len(checked), failed) == (2, [])
    assert probe.held_out == [], "the reads waited for the checks: each handshake waited 5 s for them"
    assert sorted(read) == ["alert states", *sorted(f"history {t.id}" for t in targets)], "each read once, ahead"
    assert {c.report.status for c in checked} == {Status.OK, Status.CRITICAL}
    assert [n.event.type.value for c in checked for n in c.notifications] == ["certificate.expiring"], "decided as ever"


def test_a_worker_reads_the_batchs_teams_while_it_reads_its_targets(pipeline: Pipeline, sites: dict[str, Site]) -> None:
    site = sites["healthy"]
    targets = [pipeline.register(site.name, site.port, team=team) for team in ("one", "two")]
    met = threading.Event()
    together = threading.Barrier(3, action=met.set, timeout=5)  # the targets' read and both teams' settings at once
    store = pipeline.store
    real_targets, real_settings = store.get_targets, store.team_settings
    waited: list[str] = []

    def meet(what: str) -> None:
        if met.is_set():  # once: the alerter reads the settings again, after the checks
            return
        try:
            together.wait()
        except threading.BrokenBarrierError:
            waited.append(what)

    def get_targets(refs: Sequence[tuple[str, str]], *, consistent: bool = True) -> dict[tuple[str, str], Target]:
        meet("targets")
        return real_targets(refs, consistent=consistent)

    def team_settings(team: str) -> TeamSettings:
        meet(f"settings of {team}")
        return real_settings(team)

    store.get_targets = get_targets  # type: ignore[method-assign]
    store.team_settings = team_settings  # type: ignore[method-assign]

    outcome = pipeline.worker.handle([message_for(t, f"m{n}") for n, t in enumerate(targets)])

    assert waited == [], "the teams were read after the targets, not beside them"
    assert (outcome.checked, outcome.failed_message_ids) == (2, [])


def test_a_batch_records_its_reports_while_its_last_checks_are_out(
    engines: Engines, pki: Pki, sites: dict[str, Site]
) -> None:
    probe = HeldProbe(only=EXPIRING)  # until the other check is recorded

    class Recording(RiggedStore):
        def save_result(
            self, team: str, target_id: str, summary: ResultSummary, report: TargetReport, **kw: Any
        ) -> None:
            super().save_result(team, target_id, summary, report, **kw)
            if report.endpoint.host == HEALTHY:
                probe.ready.set()  # the first check is recorded: the last may finish

    store = Recording()
    checker, pipeline = _probed(engines, pki, store, probe)
    targets = [pipeline.register(EXPIRING, sites["expiring"].port), pipeline.register(HEALTHY, sites["healthy"].port)]

    checked, failed = checker.run(targets)

    assert probe.held_out == [], "the first report was recorded only once the last check was done (5 s later)"
    assert ([c.target.id for c in checked], failed) == ([t.id for t in targets], [])  # in the order asked
    assert [c.report.status for c in checked] == [Status.CRITICAL, Status.OK]
    assert [n.event.type.value for c in checked for n in c.notifications] == ["certificate.expiring"]


def test_a_check_of_a_certificate_seen_before_judges_its_cadence_from_the_summary_without_reading_the_history(
    engines: Engines, servers: Servers, pki: Pki
) -> None:
    """Reading a target's history costs a Query a check; its cadence changes only with a certificate first seen."""
    old = make_cert(RENEWING, issuer=pki.intermediate, not_before=NOW - timedelta(hours=1), not_after=NOW + 100 * DAY)
    server = servers.start(TlsServer([old, pki.intermediate]))
    clock = Clock(NOW)

    class Counting(RiggedStore):
        def sightings(self, team: str, target_id: str) -> list[Sighting]:
            self.writes.append("history read")
            return super().sightings(team, target_id)

    store = Counting()
    checker, pipeline = _probed(engines, pki, store, clock=clock)
    target = pipeline.register(RENEWING, server.port)

    def check(*, whole_reports: bool = False) -> TargetReport:
        store.writes.clear()
        (done,), failed = checker.run([store.get_target(TEAM, target.id)], whole_reports=whole_reports)
        assert failed == []
        return done.report

    check()
    clock.advance(90 * DAY)  # renewed when 90 days old: not ready for the 47-day certificates of 2029
    new = make_cert(
        RENEWING,
        issuer=pki.intermediate,
        not_before=clock.now() - timedelta(hours=1),
        not_after=clock.now() + 100 * DAY,
    )
    server.context = server_context([new, pki.intermediate], new.key)
    renewed = check()
    assert store.writes == ["history read", "result"]  # a certificate first seen: the history read, and written
    assert renewed.cadence is not None
    assert renewed.cadence.renewed_at_age_days == 90
    at_risk = [f for f in renewed.findings if f.code.value == "RENEWAL_CADENCE_AT_RISK"]
    assert len(at_risk) == 1

    clock.advance(timedelta(hours=6))
    again = check()
    assert store.writes == ["summary"]  # the same certificate: judged from the summary, no history read
    assert [f for f in again.findings if f.code.value == "RENEWAL_CADENCE_AT_RISK"] == at_risk
    assert again.cadence is None  # the stored full result holds it
    latest = store.get_target(TEAM, target.id).latest
    assert latest is not None
    assert latest.cadence == renewed.cadence.brief
    assert latest.result_at == renewed.checked_at  # the full result kept: the verdict is the same

    clock.advance(timedelta(hours=6))
    whole = check(whole_reports=True)  # as POST /targets/{id}/check returns it
    assert store.writes == ["history read", "summary"]
    assert whole.cadence == renewed.cadence
    assert whole.findings == again.findings

    clock.advance(timedelta(hours=13))  # the full result a day old: written again whole, with the history read
    refreshed = check()
    assert store.writes == ["history read", "refresh"]
    assert refreshed.cadence == renewed.cadence
    assert store.get_result(TEAM, target.id) == refreshed
