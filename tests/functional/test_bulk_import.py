"""A bulk import row by row: each row's outcome whatever befalls the others, bounded by the time left.

The registry runs against the in-memory store (with failures to order), a recording queue and a
resolver whose lookups are stand-ins: no network, and no timed assertion.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.checks.resolver import SystemResolver
from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.schedule import FIRST_GRACE
from chalicelib.domain.targets import RejectedRow, Target, TargetSpec
from chalicelib.domain.tokens import Principal
from chalicelib.errors import StoreError, ThrottledError
from chalicelib.services.registry import BULK_RESERVE_SECONDS, TargetRegistry
from tests.support.fakes import InMemoryStore, RecordingCheckQueue
from tests.support.net import no_dns

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ALICE = Principal(team="web", admin=False, token_id="t1")


class FailingStore(InMemoryStore):
    """The in-memory store; creating a target whose host is in ``failing`` fails as DynamoDB would."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: dict[str, Exception] = {}

    def create_target(self, target: Target) -> None:
        failure = self.failing.get(target.endpoint.host)
        if failure is not None:
            raise failure
        super().create_target(target)


class FailingQueue(RecordingCheckQueue):
    def enqueue(self, refs: Any) -> None:
        raise StoreError("cannot queue checks: SQS is down")


def registry(
    store: InMemoryStore, queue: RecordingCheckQueue | None = None, lookup: Callable[..., list[Any]] = no_dns
) -> TargetRegistry:
    return TargetRegistry(
        targets=store,
        results=store,
        teams=store,
        queue=queue or RecordingCheckQueue(),
        checker=lambda: pytest.fail("a bulk import checks nothing itself"),
        resolver=SystemResolver(lookup=lookup, threads=32),
        address_policy=AddressPolicy(),
        clock=lambda: NOW,
    )


def rows(*hosts: str) -> list[TargetSpec | RejectedRow]:
    return [TargetSpec(parse_target(f"https://{host}")) for host in hosts]


def test_a_store_failure_on_one_row_is_that_rows_outcome_and_the_others_are_created_and_queued() -> None:
    store = FailingStore()
    store.failing = {
        "b.example.com": StoreError("DynamoDB failed: InternalServerError"),
        "d.example.com": ThrottledError("the data store is throttling requests; retry shortly"),
    }
    queue = RecordingCheckQueue()

    outcomes = registry(store, queue).register_bulk(ALICE, rows(*(f"{c}.example.com" for c in "abcde")))

    assert [o.outcome for o in outcomes] == ["created", "retry", "created", "retry", "created"]
    assert [o.row for o in outcomes] == [1, 2, 3, 4, 5]
    assert (outcomes[1].error_code, outcomes[3].error_code) == ("unavailable", "throttled")
    assert "InternalServerError" in (outcomes[1].reason or "")
    created = [o.target for o in outcomes if o.target is not None]
    assert queue.sent == [("web", t.id) for t in created]  # in row order
    assert all(t.next_check_at == NOW + FIRST_GRACE for t in created)


def test_an_unexpected_failure_on_one_row_is_still_only_that_rows_outcome() -> None:
    store = FailingStore()
    store.failing = {"b.example.com": RuntimeError("a bug")}

    outcomes = registry(store).register_bulk(ALICE, rows("a.example.com", "b.example.com", "c.example.com"))

    assert [(o.outcome, o.error_code) for o in outcomes] == [
        ("created", None),
        ("retry", "unavailable"),
        ("created", None),
    ]


def test_rows_not_reached_before_the_time_runs_out_are_reported_not_processed() -> None:
    allowed = 4
    asked = 0
    lock = threading.Lock()

    def time_left() -> float:
        nonlocal asked
        with lock:
            asked += 1
            return 60.0 if asked <= allowed else BULK_RESERVE_SECONDS - 0.5

    queue = RecordingCheckQueue()
    hosts = [f"host-{n}.example.com" for n in range(30)]

    outcomes = registry(InMemoryStore(), queue).register_bulk(ALICE, rows(*hosts), time_left=time_left)

    assert [o.row for o in outcomes] == list(range(1, 31))
    assert sorted(o.outcome for o in outcomes) == ["created"] * allowed + ["not_processed"] * (30 - allowed)
    assert {o.error_code for o in outcomes if o.outcome == "not_processed"} == {"not_processed"}
    assert len(queue.sent) == allowed


def test_with_no_time_left_nothing_is_written_or_queued() -> None:
    store, queue = InMemoryStore(), RecordingCheckQueue()

    outcomes = registry(store, queue).register_bulk(ALICE, rows("a.example.com", "b.example.com"), time_left=lambda: 0)

    assert [o.outcome for o in outcomes] == ["not_processed", "not_processed"]
    assert queue.sent == []


def test_names_are_resolved_concurrently() -> None:
    together = threading.Barrier(8, timeout=30)  # broken unless eight lookups are waiting at once

    def lookup(host: str, port: int, *args: Any) -> list[Any]:
        together.wait()
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    outcomes = registry(InMemoryStore(), lookup=lookup).register_bulk(
        ALICE, rows(*(f"slow-{n}.example.com" for n in range(8)))
    )

    assert not together.broken
    assert [o.outcome for o in outcomes] == ["created"] * 8


def test_rows_naming_the_same_endpoint_meet_the_first_as_a_duplicate_not_a_race() -> None:
    queue = RecordingCheckQueue()

    outcomes = registry(InMemoryStore(), queue).register_bulk(
        ALICE, rows("same.example.com", "other.example.com", "same.example.com:443", "same.example.com")
    )

    assert [o.outcome for o in outcomes] == ["created", "created", "duplicate", "duplicate"]
    first = outcomes[0].target
    assert first is not None
    assert outcomes[2].existing_id == outcomes[3].existing_id == first.id
    assert len(queue.sent) == 2


def test_created_rows_are_kept_when_their_first_checks_cannot_be_queued() -> None:
    store = InMemoryStore()

    outcomes = registry(store, FailingQueue()).register_bulk(ALICE, rows("a.example.com", "b.example.com"))

    assert [o.outcome for o in outcomes] == ["created", "created"]
    # Their slots' first moments FIRST_GRACE later: the sweep checks them then.
    due = sorted(store.due_targets((NOW, NOW + FIRST_GRACE)))
    assert due == sorted(("web", o.target.id, NOW + FIRST_GRACE) for o in outcomes if o.target is not None)
    assert list(store.due_targets((NOW - FIRST_GRACE, NOW))) == []
