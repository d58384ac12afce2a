"""One target's trouble, whatever it is, costs that target alone: never the batch it shares with other teams.

A checker batch (one SQS batch) holds targets of any team. What a caller handed in (a CA bundle
that does not read), a bug at any stage of one target's check, or a delete racing its check
must leave every other target of the batch checked and recorded, and the deleted one without a
trace. Real TLS servers on 127.0.0.1 (names pinned, never real DNS), the in-memory store and,
for the race, DynamoDB on moto.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.adapters.dynamo import DynamoStore
from chalicelib.adapters.sqs import check_message
from chalicelib.checks import engine as engine_module
from chalicelib.checks.resolver import SystemResolver
from chalicelib.checks.tlsprobe import Handshake, TlsProbe
from chalicelib.domain.alerts import AlertState, Observation
from chalicelib.domain.analysis import analyze_chain
from chalicelib.domain.cadence import Sighting
from chalicelib.domain.models import Endpoint, FindingCode, Protocol, Severity, Status, TargetReport
from chalicelib.domain.targets import ResultSummary, Target, TargetSpec
from chalicelib.errors import StoreError
from chalicelib.services.checking import TargetChecker
from chalicelib.services.worker import CheckWorker
from lab.certs import Issued, make_cert
from lab.servers import TlsServer
from tests.functional.helpers import Engines, Servers
from tests.support import events, fakes
from tests.support.aws import AwsStack
from tests.support.fakes import Clock, InMemoryStore, RecordingPublisher, alerter_on
from tests.support.pki import UNREADABLE_ANCHORS, Pki, unreadable_anchor

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
DOMAIN = "containment.test"
SOON = f"soon.{DOMAIN}"  # names under it are served a certificate that expires in 5 days
_ids = itertools.count(1)


@dataclass(frozen=True)
class Sites:
    """One loopback server with a wildcard certificate healthy for 80 days, one whose expires in 5."""

    healthy: TlsServer
    expiring: TlsServer
    leaf: Issued


@pytest.fixture(scope="module")
def sites(servers: Servers, pki: Pki) -> Sites:
    leaf = make_cert(f"*.{DOMAIN}", issuer=pki.intermediate, not_before=NOW - 10 * DAY, not_after=NOW + 80 * DAY)
    soon = make_cert(f"*.{SOON}", issuer=pki.intermediate, not_before=NOW - 80 * DAY, not_after=NOW + 5 * DAY)
    return Sites(
        servers.start(TlsServer([leaf, pki.intermediate])), servers.start(TlsServer([soon, pki.intermediate])), leaf
    )


def new_target(team: str, host: str, port: int, *, ca_bundle: str | None = None) -> Target:
    return Target(
        id=f"tg_{next(_ids):012x}0000c0de",
        team=team,
        spec=TargetSpec(Endpoint(host, port, Protocol.TLS), ca_bundle=ca_bundle),
        created_at=NOW - DAY,
        updated_at=NOW - DAY,
        scheduled_at=NOW,
    )


def message(target: Target) -> dict[str, Any]:
    """An SQS record as the Lambda event carries it (only what the worker reads)."""
    body = check_message(target.team, target.id)
    return {"messageId": f"m-{target.id}", "receiptHandle": f"rh-{target.id}", "body": body}


class FaultyStore(InMemoryStore):
    """The in-memory store; ``fail(stage, target_id, exc)`` makes one of its stages raise for one target."""

    def __init__(self) -> None:
        super().__init__()
        self.faults: dict[tuple[str, str], BaseException] = {}

    def _maybe_fail(self, stage: str, target_id: str) -> None:
        fault = self.faults.get((stage, target_id))
        if fault is not None:
            raise fault

    def sightings(self, team: str, target_id: str) -> list[Sighting]:
        self._maybe_fail("history", target_id)
        return super().sightings(team, target_id)

    def save_result(
        self,
        team: str,
        target_id: str,
        summary: ResultSummary,
        report: TargetReport,
        *,
        sightings: Sequence[Sighting] = (),
    ) -> None:
        self._maybe_fail("save", target_id)
        super().save_result(team, target_id, summary, report, sightings=sightings)

    def get_alert_state(self, team: str, target_id: str) -> AlertState:
        self._maybe_fail("alert-state", target_id)
        return super().get_alert_state(team, target_id)

    def get_alert_states(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], AlertState]:
        for _, target_id in refs:  # the batch's read ahead fails with its victim's; each is then read alone
            self._maybe_fail("alert-state", target_id)
        return super().get_alert_states(refs)


class FaultyProbe(TlsProbe):
    """The real TLS probe; for the host named ``victim``, ``fault`` instead of its handshake (as the loop would
    hand back whatever a handshake raised)."""

    def __init__(self) -> None:
        super().__init__()
        self.victim: str | None = None
        self.fault: BaseException | None = None

    def begin(self, endpoint: Endpoint, address: str, *, timeout: float) -> Future[Handshake]:
        if endpoint.host == self.victim and self.fault is not None:
            failed: Future[Handshake] = Future()
            failed.set_exception(self.fault)
            return failed
        return super().begin(endpoint, address, timeout=timeout)


@dataclass
class Worker:
    store: FaultyStore
    probe: FaultyProbe
    checker: TargetChecker
    worker: CheckWorker
    publisher: RecordingPublisher
    lookup_faults: dict[str, BaseException]

    def add(self, target: Target) -> Target:
        self.store.create_target(target)
        return target


@pytest.fixture
def world(engines: Engines, pki: Pki) -> Worker:
    clock = Clock(NOW)
    store = FaultyStore()
    probe = FaultyProbe()
    lookup_faults: dict[str, BaseException] = {}

    def lookup(host: str, port: int, *args: Any) -> list[Any]:
        fault = lookup_faults.get(host)
        if fault is not None:
            raise fault
        if not host.endswith(DOMAIN):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    engine = engines.build(resolver=SystemResolver(lookup=lookup), probe=probe, clock=clock.now, timeout=2.0)
    publisher = RecordingPublisher()
    alerter = alerter_on(store, publisher, clock.now)
    checker = TargetChecker(store, engine, pki.trust, alerts=alerter, history=store)
    return Worker(store, probe, checker, CheckWorker(store, checker), publisher, lookup_faults)


def assert_checked_ok(world: Worker, targets: Sequence[Target]) -> None:
    for target in targets:
        report = world.store.get_result(target.team, target.id)
        assert report is not None, f"{target.id} of {target.team} lost its check"
        assert report.status is Status.OK, report.findings
        assert report.checked_at == NOW


# --- what a caller handed in ------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(UNREADABLE_ANCHORS))
def test_a_stored_bundle_that_does_not_read_is_a_finding_on_its_target_and_the_batch_goes_on(
    world: Worker, sites: Sites, pki: Pki, kind: str
) -> None:
    # Stored as a bundle read lazily was accepted before: team A's target with a broken anchor
    # beside the real one, team B's six targets after it in the same SQS batch.
    bundle = (unreadable_anchor(kind) + pki.root.pem).decode()
    broken = world.add(new_target("team-a", f"a.{DOMAIN}", sites.healthy.port, ca_bundle=bundle))
    others = [world.add(new_target("team-b", f"b{n}.{DOMAIN}", sites.healthy.port)) for n in range(6)]

    outcome = world.worker.handle([message(broken), *map(message, others)])

    assert outcome.failed_message_ids == []
    assert outcome.checked == 7
    assert_checked_ok(world, others)
    report = world.store.get_result("team-a", broken.id)
    assert report is not None
    (finding,) = [f for f in report.findings if f.code is FindingCode.CA_BUNDLE_UNUSABLE]
    assert finding.severity is Severity.CRITICAL
    assert "certificate 1 of 2 cannot be used" in finding.message
    assert UNREADABLE_ANCHORS[kind] in finding.message
    # The chain is still judged, with what of the bundle reads: its expiry is known.
    assert report.days_left == 80
    assert [f.code for f in report.findings] == [FindingCode.CA_BUNDLE_UNUSABLE]
    (document,) = world.publisher.documents
    assert document["type"] == "certificate.problem", document
    assert "CA bundle" in document["summary"]
    assert document["target"]["id"] == broken.id


# --- a bug at any stage of one target's check ---------------------------------------------------

# Where a check of one target can go wrong, from building its request to announcing what it found.
STAGES = (
    "prepare",
    "resolve",
    "handshake",
    "analysis",
    "report",
    "history",
    "save",
    "alert-state",
    "observe",
    "render",
    "whole-run",
)
FAULTS: tuple[Callable[[], BaseException], ...] = (
    lambda: ValueError("a value nobody expected"),
    lambda: KeyError("field"),
    lambda: TypeError("'NoneType' object is not subscriptable"),
    lambda: RuntimeError("dictionary changed size during iteration"),
    lambda: AttributeError("'str' object has no attribute 'fingerprint'"),
    lambda: RecursionError("maximum recursion depth exceeded"),
    lambda: UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    lambda: StoreError("DynamoDB is having a bad day"),
    lambda: OSError(5, "Input/output error"),
)


@contextlib.contextmanager
def fault_at(world: Worker, stage: str, victim: Target, fault: BaseException) -> Iterator[None]:
    """Make ``stage`` of ``victim``'s check raise ``fault``, and only for it."""
    host = victim.endpoint.host

    def only_victim(real: Callable[..., Any], is_victim: Callable[..., bool]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if is_victim(*args, **kwargs):
                raise fault
            return real(*args, **kwargs)

        return wrapper

    with contextlib.ExitStack() as stack:
        if stage == "prepare":
            real_prepare = TargetChecker._prepare
            stack.enter_context(
                mock.patch.object(
                    TargetChecker, "_prepare", only_victim(real_prepare, lambda _self, t: t.id == victim.id)
                )
            )
        elif stage == "resolve":
            world.lookup_faults[host] = fault
            stack.callback(world.lookup_faults.clear)
        elif stage == "handshake":
            world.probe.victim, world.probe.fault = host, fault
            stack.callback(setattr, world.probe, "fault", None)
        elif stage == "analysis":
            real_analysis = analyze_chain
            patched = only_victim(real_analysis, lambda *_, name, **__: name == host)
            stack.enter_context(mock.patch.object(engine_module, "analyze_chain", patched))
        elif stage == "report":
            patched = only_victim(engine_module._report, lambda endpoint, *_: endpoint.host == host)
            stack.enter_context(mock.patch.object(engine_module, "_report", patched))
        elif stage in ("history", "save", "alert-state"):
            world.store.faults[(stage, victim.id)] = fault
            stack.callback(world.store.faults.clear)
        elif stage == "observe":
            patched = only_victim(Observation.of, lambda report: report.endpoint.host == host)
            stack.enter_context(mock.patch.object(Observation, "of", patched))
        elif stage == "render":  # what the publisher does with a notification: the SNS adapter renders it
            patched = only_victim(events.rendered, lambda note, *_: note.target_id == victim.id)
            stack.enter_context(mock.patch.object(fakes, "rendered", patched))
        elif stage == "whole-run":
            real_run = TargetChecker.run
            patched = only_victim(real_run, lambda _self, targets, *_: len(targets) > 1 and victim in targets)
            stack.enter_context(mock.patch.object(TargetChecker, "run", patched))
        else:
            raise AssertionError(stage)
        yield


@pytest.mark.parametrize("stage", STAGES)
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI never meets a new one by chance
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    fault=st.sampled_from(FAULTS),
    position=st.integers(min_value=0, max_value=4),
    expiring=st.booleans(),
)
def test_a_fault_at_any_stage_of_one_targets_check_costs_that_target_alone(
    world: Worker, sites: Sites, stage: str, fault: Callable[[], BaseException], position: int, expiring: bool
) -> None:
    run = next(_ids)
    others = [new_target(f"team-{n}", f"t{run}-{n}.{DOMAIN}", sites.healthy.port) for n in range(4)]
    # An expiring victim is announced: its check reaches the alert stages too.
    if expiring:
        victim = new_target("team-v", f"v{run}.{SOON}", sites.expiring.port)
    else:
        victim = new_target("team-v", f"v{run}.{DOMAIN}", sites.healthy.port)
    batch = [*others[:position], victim, *others[position:]]
    for target in batch:
        world.add(target)

    with fault_at(world, stage, victim, fault()):
        outcome = world.worker.handle([message(t) for t in batch])

    assert_checked_ok(world, others)
    assert f"m-{victim.id}" in outcome.failed_message_ids or world.store.get_result("team-v", victim.id), (
        "the victim's check is neither recorded nor retried"
    )
    assert set(outcome.failed_message_ids) <= {f"m-{victim.id}"}
    assert outcome.checked == len(others) + (f"m-{victim.id}" not in outcome.failed_message_ids)


# --- a delete racing a check ----------------------------------------------------------------------


def test_a_check_racing_a_delete_leaves_nothing_of_the_target(
    aws_stack: AwsStack, engines: Engines, sites: Sites, pki: Pki
) -> None:
    store = DynamoStore(aws_stack.dynamodb, aws_stack.table)
    arrived, release = threading.Event(), threading.Event()

    def slow_lookup(host: str, port: int, *args: Any) -> list[Any]:
        arrived.set()
        release.wait(10)  # the check is under way, its certificate not yet recorded
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    engine = engines.build(resolver=SystemResolver(lookup=slow_lookup), timeout=5.0)
    alerter = alerter_on(store, RecordingPublisher(), lambda: NOW)
    checker = TargetChecker(store, engine, pki.trust, alerts=alerter, history=store)
    team = f"race-{next(_ids)}"
    targets = [store_target(store, team, n, sites) for n in range(4)]

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        runs = [pool.submit(checker.run, [target]) for target in targets]
        assert arrived.wait(10)
        for target in targets:
            store.delete_target(team, target.id)
        release.set()
        outcomes = [run.result(timeout=20) for run in runs]

    assert outcomes == [([], [])] * len(targets), "a target deleted during its check is neither checked nor failed"
    left = aws_stack.dynamodb.query(
        TableName=aws_stack.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"TEAM#{team}"}},
        ConsistentRead=True,
    )["Items"]
    assert left == []


def store_target(store: DynamoStore, team: str, number: int, sites: Sites) -> Target:
    target = new_target(team, f"race{number}.{DOMAIN}", sites.healthy.port)
    store.create_target(target)
    return target
