"""The store's contract, port by port (services/ports.py): one suite, run against the in-memory store and
against DynamoDB on moto.

The DynamoDB table is the one ``infra/template.yaml`` declares, deployed once for the module; each
test works in a team of its own, so the tests share the table without seeing each other's targets.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import itertools
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from chalicelib.adapters.dynamo import DynamoStore
from chalicelib.domain.alerts import AlertEvent, AlertState, AlertSubject, EventType, Holder, Notification, Observation
from chalicelib.domain.cadence import Sighting
from chalicelib.domain.domains import Issuance, WatchedDomain
from chalicelib.domain.endpoints import endpoint_from_parts
from chalicelib.domain.inventory import Assessment, ManagedCertificate, Source, assess
from chalicelib.domain.models import PosturePolicy, Severity, Status, TargetReport
from chalicelib.domain.schedule import Slot, Window
from chalicelib.domain.silences import MaintenanceWindow, Match, Silence
from chalicelib.domain.targets import (
    CertificateBrief,
    Page,
    ResultSummary,
    Target,
    TargetChanges,
    TargetFilter,
    TargetSpec,
    encode_cursor,
    reschedules,
)
from chalicelib.domain.teams import TeamSettings
from chalicelib.domain.tokens import TokenRecord
from chalicelib.errors import DuplicateDomainError, DuplicateTargetError, InvalidValueError, NotFoundError
from chalicelib.services.domains import domain_id
from chalicelib.services.ports import (
    AlertLedger,
    Holders,
    Inventory,
    Issuances,
    Outbox,
    Schedule,
    Silences,
    Store,
    Targets,
    Teams,
    Tokens,
    WatchedDomains,
)
from tests.support import reports
from tests.support.aws import AwsStack
from tests.support.fakes import InMemoryStore

_numbers = itertools.count(1)


def new_target(
    team: str,
    now: datetime,
    *,
    host: str | None = None,
    port: int = 443,
    protocol: str = "https",
    sni: str | None = None,
    labels: dict[str, str] | None = None,
    scheduled_at: datetime | None = None,
    interval: int = 360,
    paused: bool = False,
    latest: ResultSummary | None = None,
    notes: str | None = None,
) -> Target:
    """A target whose id sorts after every id made before it, like ``new_target_id``'s."""
    number = next(_numbers)
    return Target(
        id=f"tg_{number:012x}{secrets.token_hex(4)}",
        team=team,
        spec=TargetSpec(
            endpoint=endpoint_from_parts(host or f"host{number}.example.com", port, protocol, sni),
            labels=labels if labels is not None else {},
            notes=notes,
            check_interval_minutes=interval,
        ),
        created_at=now,
        updated_at=now,
        scheduled_at=now if scheduled_at is None else scheduled_at,
        paused=paused,
        latest=latest,
    )


def summary(status: Status, now: datetime, days_left: int | None) -> ResultSummary:
    """A result summary; ``days_left=None`` means no certificate was seen (no not_after either)."""
    return ResultSummary(
        status=status,
        days_left=days_left,
        not_after=None if days_left is None else now + timedelta(days=days_left, hours=3),
        codes=("expires_soon",) if status is Status.WARNING else (),
        checked_at=now,
    )


def all_pages(store: Targets, team: str, *, limit: int, where: TargetFilter | None = None) -> list[Page]:
    """Every page of a listing, following cursors until there is none."""
    pages: list[Page] = []
    cursor: str | None = None
    while True:
        page = store.list_targets(team, limit=limit, cursor=cursor, where=where or TargetFilter())
        pages.append(page)
        cursor = page.cursor
        if cursor is None:
            return pages
        assert len(pages) < 1000, "the cursors never end"


def due_ids(store: Schedule, team: str, *windows: tuple[datetime, datetime]) -> list[str]:
    """The ids ``due_targets`` yields for one team (the DynamoDB table is shared by every test)."""
    return [target_id for owner, target_id, _ in store.due_targets(*windows) if owner == team]


def due_moments(store: Schedule, team: str, *windows: tuple[datetime, datetime]) -> Counter[tuple[str, datetime]]:
    return Counter((target_id, moment) for owner, target_id, moment in store.due_targets(*windows) if owner == team)


class ScheduleContract:
    """The ``Schedule`` port: each target's slot, and the sweeps' claims on windows."""

    # --- due targets first: on DynamoDB this test creates the most, and moto's transactions copy
    # the whole table, so it is cheapest while the shared table is still small.

    def test_due_targets_are_exactly_the_unpaused_ones_with_a_moment_of_their_slot_in_a_window(
        self, store: Store, team: str, now: datetime
    ) -> None:
        intervals = (5, 60, 90, 360, 1440, 43200)
        targets = [
            new_target(
                team,
                now,
                scheduled_at=now + timedelta(seconds=(number * 7919) % 172800 - 86400, microseconds=number),
                interval=intervals[number % len(intervals)],
                paused=number % 7 == 0,
            )
            for number in range(200)
        ]
        edges = [
            new_target(team, now, scheduled_at=now),  # its first moment: the window's end
            new_target(team, now, scheduled_at=now + timedelta(microseconds=1)),  # the second after it
            new_target(team, now, scheduled_at=now - timedelta(minutes=15)),  # the window's start: not in it
            new_target(team, now, scheduled_at=now - timedelta(minutes=15) + timedelta(microseconds=1)),
            new_target(team, now, scheduled_at=now - timedelta(hours=6)),  # an interval before: a moment at now
            new_target(team, now, scheduled_at=now, paused=True),
        ]
        for target in targets + edges:
            store.create_target(target)
        windows = ((now - timedelta(minutes=15), now), (now - timedelta(hours=3), now - timedelta(hours=1)))

        def expected() -> Counter[tuple[str, datetime]]:
            found: Counter[tuple[str, datetime]] = Counter()
            for target in targets + edges:
                slot = Slot.of(target.scheduled_at, target.spec.check_interval_minutes)
                for after, until in windows:
                    if not target.paused and slot.latest(until) > after:
                        found[(target.id, slot.latest(until))] += 1
            return found

        due = due_moments(store, team, *windows)
        assert due == expected()
        assert {t.id for t in edges if t.id in {i for i, _ in due}} == {edges[0].id, edges[3].id, edges[4].id}
        assert 40 < len(due) < 160  # the spread really puts targets both in and out of the windows
        # The same moments in another time zone are the same moments.
        west = timezone(timedelta(hours=-7))
        assert due_moments(store, team, *((a.astimezone(west), b.astimezone(west)) for a, b in windows)) == due

        # A check landing moves no target's slot.
        for target in (targets + edges)[:12]:
            store.save_result(team, target.id, summary(Status.OK, now, 80), reports.report(now))
        assert due_moments(store, team, *windows) == due

    def test_each_sweep_claims_its_window_once_and_goes_over_the_claims_of_an_hour_an_hour_later(
        self, store: Store, now: datetime
    ) -> None:
        # The schedule's windows are the table's, not a team's: this test moves them on from wherever they are.
        later = now + timedelta(days=3650)
        minutes = functools.partial(timedelta, minutes=1)
        assert store.claim_window(later) is not None  # from wherever the windows ended before
        assert store.claim_window(later + 15 * minutes()) == Window(later)
        assert store.claim_window(later) is None  # behind the last window's end: nothing is left to it
        assert store.claim_window(later + 15 * minutes()) is None
        assert store.claim_window(later + 30 * minutes()) == Window(later + 15 * minutes())
        going_over = store.claim_window(later + 60 * minutes())  # the claims up to ``later`` are an hour old
        assert going_over is not None
        assert going_over.since == later + 30 * minutes()
        assert going_over.recheck is not None
        assert going_over.recheck[1] == later
        assert store.claim_window(later + 75 * minutes()) == Window(later + 60 * minutes())
        assert store.claim_window(later + 120 * minutes()) == Window(
            later + 75 * minutes(), (later, later + 60 * minutes())
        )

    def test_pausing_takes_a_target_off_the_schedule_and_unpausing_starts_its_slot_anew(
        self, store: Store, team: str, now: datetime
    ) -> None:
        hour = timedelta(hours=1)
        window = (now - hour, now)
        target = new_target(team, now, scheduled_at=now - timedelta(minutes=30))
        born_paused = new_target(team, now, scheduled_at=now - 5 * hour, paused=True)
        store.create_target(target)
        store.create_target(born_paused)
        assert due_ids(store, team, window) == [target.id]

        store.update_target(team, target.id, TargetChanges(paused=True), now - hour)
        assert due_ids(store, team, window) == []
        store.update_target(team, target.id, TargetChanges(paused=True), now - hour)  # pausing twice is harmless
        store.update_target(team, target.id, TargetChanges(notes="still paused"), now - hour)
        store.save_result(team, target.id, summary(Status.OK, now, 90), reports.report(now))
        assert due_ids(store, team, window) == []  # a check landing does not unpause either

        resumed = store.update_target(team, target.id, TargetChanges(paused=False), now - timedelta(minutes=10))
        store.update_target(team, born_paused.id, TargetChanges(paused=False), now - timedelta(minutes=10))
        assert resumed.scheduled_at == now - timedelta(minutes=10)
        assert sorted(due_ids(store, team, window)) == sorted([target.id, born_paused.id])
        assert due_ids(store, team, (now - timedelta(minutes=10), now)) == []  # its slot's moment is the resume
        store.update_target(team, target.id, TargetChanges(paused=False), now)  # unpausing twice anchors it anew
        assert due_ids(store, team, (now - timedelta(seconds=1), now)) == [target.id]

    def test_a_new_interval_starts_the_slot_anew_and_other_edits_leave_it(
        self, store: Store, team: str, now: datetime
    ) -> None:
        target = new_target(team, now, scheduled_at=now - timedelta(hours=2))
        store.create_target(target)
        edited = store.update_target(team, target.id, TargetChanges(notes="n"), now)
        assert edited.scheduled_at == target.scheduled_at
        changed = store.update_target(team, target.id, TargetChanges(check_interval_minutes=60), now)
        assert (changed.scheduled_at, changed.next_check_at) == (now, now)
        hourly = [(now + timedelta(hours=n) - timedelta(minutes=1), now + timedelta(hours=n)) for n in (1, 2)]
        assert due_moments(store, team, *hourly) == {(target.id, at): 1 for _, at in hourly}
        paused = store.update_target(team, target.id, TargetChanges(paused=True, check_interval_minutes=30), now)
        assert paused.scheduled_at == now  # paused with a new interval: anchored when resumed
        assert due_ids(store, team, (now - timedelta(days=1), now + timedelta(days=1))) == []


class TargetsContract:
    """The ``Targets`` port: created once per endpoint, read, listed, changed field by field, deleted whole."""

    # --- create and get ---------------------------------------------------------------------------

    def test_a_target_reads_back_with_every_field(self, store: Store, team: str, now: datetime) -> None:
        stamp = now + timedelta(microseconds=123456)
        full = Target(
            id="tg_00000000000aabcdef01",
            team=team,
            spec=TargetSpec(
                endpoint=endpoint_from_parts("mail.example.com", 587, "submission", "smtp.example.org"),
                labels={"env": "prod", "owner": "payments", "tier": "1"},
                warn_days=45,
                critical_days=10,
                check_interval_minutes=60,
                ca_bundle="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                notes="the outgoing relay; ask #mail before pausing",
                owner="mail-oncall@example.com",
                runbook_url="https://wiki.example.com/runbooks/mail?step=renew",
            ),
            created_at=stamp,
            updated_at=stamp + timedelta(seconds=5),
            scheduled_at=stamp + timedelta(hours=1),
            paused=True,
            source="bulk",
            latest=ResultSummary(
                status=Status.ERROR,
                days_left=None,
                not_after=None,
                codes=("connection_failed", "dns"),
                checked_at=stamp - timedelta(minutes=3),
            ),
        )
        bare = Target(
            id="tg_00000000000b12345678",
            team=team,
            spec=TargetSpec(endpoint=endpoint_from_parts("2001:db8::1", 8443, "tls")),
            created_at=now,
            updated_at=now,
            scheduled_at=now,
        )
        checked = dataclasses.replace(
            new_target(team, now, labels={"env": "dev"}),
            latest=ResultSummary(Status.WARNING, 12, now + timedelta(days=12, minutes=7), ("expires_soon",), now),
        )
        for target in (full, bare, checked):
            store.create_target(target)

        for target in (full, bare, checked):
            assert store.get_target(team, target.id) == target
        assert store.get_result(team, full.id) is None

    def test_the_same_endpoint_twice_in_one_team_is_a_duplicate(self, store: Targets, team: str, now: datetime) -> None:
        first = new_target(team, now, host="api.example.com", port=443, sni="api.example.com")
        store.create_target(first)

        again = new_target(team, now, host="api.example.com", port=443, sni="api.example.com")
        with pytest.raises(DuplicateTargetError) as caught:
            store.create_target(again)

        assert caught.value.existing_id == first.id
        with pytest.raises(NotFoundError):
            store.get_target(team, again.id)
        assert [t.id for t in all_pages(store, team, limit=10)[0].items] == [first.id]

    def test_endpoints_differing_in_team_sni_port_or_how_tls_starts_are_not_duplicates(
        self, store: Targets, team: str, now: datetime
    ) -> None:
        store.create_target(new_target(team, now, host="api.example.com", port=443, sni="edge.example.com"))
        others = [
            new_target(f"{team}-other", now, host="api.example.com", port=443, sni="edge.example.com"),
            new_target(team, now, host="api.example.com", port=443),
            new_target(team, now, host="api.example.com", port=443, sni="www.example.com"),
            new_target(team, now, host="api.example.com", port=8443, sni="edge.example.com"),
            new_target(team, now, host="api.example.com", port=443, protocol="smtp", sni="edge.example.com"),
        ]
        for target in others:
            store.create_target(target)

        for target in others:
            assert store.get_target(target.team, target.id) == target

    @pytest.mark.parametrize(
        ("first", "second"),
        [
            (("https", 443, None), ("tls", 443, None)),
            (("tls", 8443, None), ("https", 8443, None)),
            (("smtps", 465, None), ("tls", 465, None)),
            (("submission", 587, None), ("smtp", 587, None)),
            (("https", 443, "api.example.com"), ("https", 443, None)),
        ],
        ids=["tls-is-https", "https-is-tls", "smtps-is-tls", "submission-is-smtp-on-587", "sni-equal-to-the-host"],
    )
    def test_two_spellings_of_one_handshake_are_one_target(
        self,
        store: Targets,
        team: str,
        now: datetime,
        first: tuple[str, int, str | None],
        second: tuple[str, int, str | None],
    ) -> None:
        (protocol, port, sni), (again_protocol, again_port, again_sni) = first, second
        original = new_target(team, now, host="api.example.com", port=port, protocol=protocol, sni=sni)
        store.create_target(original)

        spelling = new_target(
            team, now, host="api.example.com", port=again_port, protocol=again_protocol, sni=again_sni
        )
        with pytest.raises(DuplicateTargetError) as caught:
            store.create_target(spelling)
        assert caught.value.existing_id == original.id

        store.delete_target(team, original.id)
        store.create_target(spelling)  # the endpoint is free again once its target is gone

    def test_another_teams_target_is_not_found(self, store: Store, team: str, now: datetime) -> None:
        target = new_target(team, now)
        store.create_target(target)

        with pytest.raises(NotFoundError):
            store.get_target(f"{team}-other", target.id)
        with pytest.raises(NotFoundError):
            store.get_target(team, "tg_0000000000000000000")
        with pytest.raises(NotFoundError):
            store.update_target(f"{team}-other", target.id, TargetChanges(notes="mine now"), now)
        with pytest.raises(NotFoundError):
            store.delete_target(f"{team}-other", target.id)
        with pytest.raises(NotFoundError):
            store.get_target(f"{team}-other", target.id)  # the failed update created nothing
        assert store.get_target(team, target.id) == target
        assert store.get_result(f"{team}-other", target.id) is None

    # --- listing ----------------------------------------------------------------------------------

    def test_listing_pages_through_a_team_in_creation_order(self, store: Targets, team: str, now: datetime) -> None:
        created = []
        for number in range(23):
            target = new_target(team, now)
            store.create_target(target)
            created.append(target.id)
            if number % 7 == 0:
                store.create_target(new_target(f"{team}-other", now))

        pages = all_pages(store, team, limit=5)

        assert [len(p.items) for p in pages] == [5, 5, 5, 5, 3]
        assert [t.id for p in pages for t in p.items] == created
        assert all(p.cursor is not None for p in pages[:-1])
        assert all(t.team == team for p in pages for t in p.items)
        assert [len(p.items) for p in all_pages(store, team, limit=23)] == [23]
        assert [len(p.items) for p in all_pages(store, team, limit=22)] == [22, 1]
        assert [len(p.items) for p in all_pages(store, team, limit=1000)] == [23]
        assert all_pages(store, f"{team}-nobody", limit=5) == [Page((), None)]

    def test_filters_with_pagination_return_every_match_exactly_once(
        self, store: Store, team: str, now: datetime
    ) -> None:
        prod, dev = {"env": "prod"}, {"env": "dev"}
        spec: dict[str, tuple[Status | None, dict[str, str], int | None]] = {
            "ok-prod": (Status.OK, prod, 200),
            "ok-dev": (Status.OK, dev, 90),
            "warn-prod": (Status.WARNING, prod, 20),
            "warn-unlabelled": (Status.WARNING, {}, 25),
            "crit-prod": (Status.CRITICAL, prod, 3),
            "crit-dev": (Status.CRITICAL, dev, -2),
            "error-prod": (Status.ERROR, prod, None),
            "unchecked-prod": (None, prod, None),
            "ok-prod-owned": (Status.OK, {"env": "prod", "owner": "web"}, 60),
            "checked-later-prod": (None, prod, None),
        }
        ids: dict[str, str] = {}
        for name, (status, labels, days_left) in spec.items():
            latest = None if status is None else summary(status, now, days_left)
            target = new_target(team, now, labels=labels, latest=latest)
            store.create_target(target)
            ids[name] = target.id
        # A summary written by a check (not at creation) is what the filters see too.
        store.save_result(team, ids["checked-later-prod"], summary(Status.CRITICAL, now, 1), reports.report(now))
        for _ in range(3):
            store.create_target(new_target(f"{team}-other", now, labels=prod, latest=summary(Status.OK, now, 3)))

        soon = now + timedelta(days=30)
        cases: list[tuple[TargetFilter, list[str]]] = [
            (TargetFilter(), list(spec)),
            (TargetFilter(status=Status.WARNING), ["warn-prod", "warn-unlabelled"]),
            (TargetFilter(status=Status.CRITICAL), ["crit-prod", "crit-dev", "checked-later-prod"]),
            (
                TargetFilter(label=("env", "prod")),
                [
                    "ok-prod",
                    "warn-prod",
                    "crit-prod",
                    "error-prod",
                    "unchecked-prod",
                    "ok-prod-owned",
                    "checked-later-prod",
                ],
            ),
            (TargetFilter(label=("env", "dev")), ["ok-dev", "crit-dev"]),
            (TargetFilter(label=("env", "PROD")), []),
            (TargetFilter(label=("owner", "web")), ["ok-prod-owned"]),
            (TargetFilter(label=("nope", "prod")), []),
            (
                TargetFilter(expiring_before=soon),
                ["warn-prod", "warn-unlabelled", "crit-prod", "crit-dev", "checked-later-prod"],
            ),
            # Inclusive: a certificate ending exactly at the bound is expiring before it.
            (
                TargetFilter(expiring_before=now + timedelta(days=20, hours=3)),
                ["warn-prod", "crit-prod", "crit-dev", "checked-later-prod"],
            ),
            (TargetFilter(status=Status.OK, label=("env", "prod")), ["ok-prod", "ok-prod-owned"]),
            (
                TargetFilter(label=("env", "prod"), expiring_before=soon),
                ["warn-prod", "crit-prod", "checked-later-prod"],
            ),
            (
                TargetFilter(status=Status.CRITICAL, label=("env", "prod"), expiring_before=now + timedelta(days=2)),
                ["checked-later-prod"],
            ),
        ]
        for where, names in cases:
            for limit in (1, 2, 3, 100):
                pages = all_pages(store, team, limit=limit, where=where)
                found = [t.id for p in pages for t in p.items]
                assert found == [ids[name] for name in names], (where, limit)
                assert all(len(p.items) == limit for p in pages[:-1]), (where, limit)
                assert pages[-1].cursor is None

    def test_a_cursor_that_is_not_one_is_refused(self, store: Targets, team: str, now: datetime) -> None:
        store.create_target(new_target(team, now))
        bad = [
            "not a cursor",
            "%%%",
            "eyJ",  # a truncated JSON object
            base64.urlsafe_b64encode(b"[1, 2]").decode(),
            base64.urlsafe_b64encode(b'"text"').decode(),
        ]
        for cursor in bad:
            with pytest.raises(InvalidValueError) as caught:
                store.list_targets(team, limit=5, cursor=cursor, where=TargetFilter())
            assert (caught.value.field, caught.value.code) == ("cursor", "invalid_cursor"), cursor

    def test_a_cursor_without_a_position_is_refused(self, store: Targets, team: str, now: datetime) -> None:
        for _ in range(3):
            store.create_target(new_target(team, now))
        for position in ({}, {"page": 2}):
            with pytest.raises(InvalidValueError):
                store.list_targets(team, limit=1, cursor=encode_cursor(position), where=TargetFilter())

    # --- update -----------------------------------------------------------------------------------

    def test_an_update_changes_only_the_fields_it_sets(self, store: Targets, team: str, now: datetime) -> None:
        original = dataclasses.replace(
            new_target(team, now, sni="www.example.com", labels={"env": "prod"}, notes="first"),
            latest=summary(Status.WARNING, now, 20),
            source="acm",
        )
        store.create_target(original)
        steps: list[tuple[TargetChanges, Callable[[TargetSpec], TargetSpec], bool]] = [
            (
                TargetChanges(labels={"env": "dev", "cost": "42"}),
                lambda s: _spec(s, labels={"env": "dev", "cost": "42"}),
                False,
            ),
            (TargetChanges(warn_days=60, critical_days=14), lambda s: _spec(s, warn_days=60, critical_days=14), False),
            (TargetChanges(check_interval_minutes=15), lambda s: _spec(s, check_interval_minutes=15), False),
            (TargetChanges(revocation=False, ari=False), lambda s: _spec(s, revocation=False, ari=False), False),
            (TargetChanges(ari=True), lambda s: _spec(s, ari=True), False),
            (TargetChanges(notes="second"), lambda s: _spec(s, notes="second"), False),
            (TargetChanges(cleared=frozenset({"notes"})), lambda s: _spec(s, notes=None), False),
            (
                TargetChanges(owner="web-oncall", runbook_url="https://wiki.example.com/tls"),
                lambda s: _spec(s, owner="web-oncall", runbook_url="https://wiki.example.com/tls"),
                False,
            ),
            (
                TargetChanges(notes="third", cleared=frozenset({"owner"})),
                lambda s: _spec(s, notes="third", owner=None),
                False,
            ),
            (
                TargetChanges(cleared=frozenset({"runbook_url", "notes"})),
                lambda s: _spec(s, runbook_url=None, notes=None),
                False,
            ),
            (TargetChanges(paused=True), lambda s: s, True),
            (TargetChanges(labels={}), lambda s: _spec(s, labels={}), True),
            (TargetChanges(paused=False, notes="back"), lambda s: _spec(s, notes="back"), False),
            (TargetChanges(), lambda s: s, False),
        ]
        expected = original
        for number, (changes, change_spec, paused) in enumerate(steps, start=1):
            moment = now + timedelta(minutes=number)
            expected = dataclasses.replace(expected, spec=change_spec(expected.spec), paused=paused, updated_at=moment)
            if reschedules(changes):  # resumed: its slot starts anew
                expected = dataclasses.replace(expected, scheduled_at=moment)

            returned = store.update_target(team, original.id, changes, moment)

            assert returned == expected, changes
            assert store.get_target(team, original.id) == expected, changes

    # --- delete -----------------------------------------------------------------------------------

    def test_delete_removes_the_target_its_result_and_its_endpoint(
        self, store: Store, team: str, now: datetime
    ) -> None:
        target = new_target(team, now, host="gone.example.com", sni="gone.example.com")
        neighbour = new_target(team, now)
        store.create_target(target)
        store.create_target(neighbour)
        store.save_result(team, target.id, summary(Status.OK, now, 90), reports.report(now))

        store.delete_target(team, target.id)

        with pytest.raises(NotFoundError):
            store.get_target(team, target.id)
        assert store.get_result(team, target.id) is None
        assert [t.id for t in all_pages(store, team, limit=10)[0].items] == [neighbour.id]
        assert target.id not in due_ids(store, team, (now - timedelta(days=1), now + timedelta(days=1)))
        with pytest.raises(NotFoundError):
            store.delete_target(team, target.id)
        with pytest.raises(NotFoundError):
            store.delete_target(team, "tg_0000000000000000000")
        # The endpoint is free again.
        again = new_target(team, now, host="gone.example.com", sni="gone.example.com")
        store.create_target(again)
        assert store.get_target(team, again.id) == again
        assert store.get_target(team, neighbour.id) == neighbour

    # --- concurrent writers -----------------------------------------------------------------------

    def test_an_edit_and_a_check_landing_keep_each_others_fields_in_either_order(
        self, store: Store, team: str, now: datetime
    ) -> None:
        for edit_first in (True, False):
            target = new_target(team, now, labels={"env": "old"}, notes="old")
            store.create_target(target)
            edit, result, expected = _edit_and_result(target, now)

            if edit_first:
                store.update_target(team, target.id, edit, now + timedelta(minutes=1))
                store.save_result(team, target.id, *result)
            else:
                store.save_result(team, target.id, *result)
                assert store.update_target(team, target.id, edit, now + timedelta(minutes=1)) == expected

            assert store.get_target(team, target.id) == expected
            assert store.get_result(team, target.id) == result[1]

    def test_concurrent_edits_and_check_results_never_lose_a_field(
        self, store: Store, team: str, now: datetime
    ) -> None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for round_number in range(16):
                target = new_target(team, now, labels={"env": "old"}, notes="old")
                store.create_target(target)
                edit, result, expected = _edit_and_result(target, now)
                start = threading.Barrier(2, timeout=10)
                writers = [
                    functools.partial(
                        _after, start, store.update_target, team, target.id, edit, now + timedelta(minutes=1)
                    ),
                    functools.partial(_after, start, store.save_result, team, target.id, *result),
                ]
                if round_number % 2:
                    writers.reverse()

                for future in [pool.submit(writer) for writer in writers]:
                    future.result()

                assert store.get_target(team, target.id) == expected
                assert store.get_result(team, target.id) == result[1]

    def test_a_targets_own_posture_policy_is_set_replaced_and_cleared(
        self, store: Targets, team: str, now: datetime
    ) -> None:
        own = PosturePolicy(note_classical=True, quantum_safe_signatures_by=date(2035, 1, 1))
        target = dataclasses.replace(new_target(team, now), spec=_spec(new_target(team, now).spec, posture=own))
        store.create_target(target)
        assert store.get_target(team, target.id).spec.posture == own

        replaced = store.update_target(team, target.id, TargetChanges(posture=PosturePolicy(legacy_tls=True)), now)
        cleared = store.update_target(team, target.id, TargetChanges(cleared=frozenset({"posture"})), now)

        assert replaced.spec.posture == PosturePolicy(legacy_tls=True)
        assert cleared.spec.posture is None
        assert store.get_target(team, target.id).spec == _spec(target.spec, posture=None)

    def test_targets_are_read_together_by_reference_and_a_missing_one_is_left_out(
        self, store: Store, team: str, now: datetime
    ) -> None:
        first, second = new_target(team, now), new_target(team, now, port=444)
        elsewhere = new_target(f"{team}-other", now)
        for target in (first, second, elsewhere):
            store.create_target(target)
        gone = new_target(team, now, port=8443)
        store.create_target(gone)
        store.delete_target(team, gone.id)
        refs = [(team, second.id), (team, gone.id), (team, first.id), (elsewhere.team, elsewhere.id), (team, first.id)]

        found = store.get_targets(refs)

        assert found == {
            (team, first.id): store.get_target(team, first.id),
            (team, second.id): store.get_target(team, second.id),
            (elsewhere.team, elsewhere.id): store.get_target(elsewhere.team, elsewhere.id),
        }
        assert store.get_targets([(elsewhere.team, first.id)]) == {}  # another team's id is no target of this one
        assert store.get_targets([]) == {}

    def test_more_targets_than_one_request_takes_are_read_together(
        self, store: Store, team: str, now: datetime
    ) -> None:
        targets = [new_target(team, now, port=1000 + n) for n in range(130)]
        for target in targets:
            store.create_target(target)

        found = store.get_targets([(team, t.id) for t in targets])

        assert sorted(found) == sorted((team, t.id) for t in targets)


class ResultsContract:
    """The ``Results`` port: each target's latest check: its summary, its report, all or nothing."""

    def test_a_result_stores_its_summary_and_report(self, store: Store, team: str, now: datetime) -> None:
        target = new_target(team, now, labels={"env": "prod"}, notes="keep me")
        store.create_target(target)
        first = summary(Status.WARNING, now, 21)
        report = reports.everything(now)  # every field of a report, times to the microsecond

        store.save_result(team, target.id, first, report)

        assert store.get_target(team, target.id) == dataclasses.replace(target, latest=first)
        assert store.get_target(team, target.id).next_check_at == now + timedelta(hours=6)
        assert store.get_result(team, target.id) == report

        # A later check without a certificate replaces the summary, days_left and not_after included.
        later = now + timedelta(hours=6)
        second = ResultSummary(Status.ERROR, None, None, ("connection_failed",), later)
        store.save_result(team, target.id, second, reports.unreachable(later))

        assert store.get_target(team, target.id) == dataclasses.replace(target, latest=second)
        assert store.get_target(team, target.id).next_check_at == later + timedelta(hours=6)
        assert store.get_result(team, target.id) == reports.unreachable(later)

    def test_a_teams_latest_reports_are_read_at_once_without_another_teams(
        self, store: Store, team: str, now: datetime
    ) -> None:
        checked, unreachable, unchecked = (new_target(team, now) for _ in range(3))
        elsewhere = new_target(f"{team}-other", now)
        for target in (checked, unreachable, unchecked, elsewhere):
            store.create_target(target)
        store.save_result(team, checked.id, summary(Status.WARNING, now, 21), reports.everything(now))
        failed = ResultSummary(Status.ERROR, None, None, ("CONNECTION_FAILED",), now)
        store.save_result(team, unreachable.id, failed, reports.unreachable(now))
        store.save_result(elsewhere.team, elsewhere.id, summary(Status.OK, now, 80), reports.report(now))

        assert store.team_reports(team) == {
            checked.id: reports.everything(now),
            unreachable.id: reports.unreachable(now),
        }
        store.delete_target(team, checked.id)
        assert store.team_reports(team) == {unreachable.id: reports.unreachable(now)}

    def test_an_unchanged_check_updates_the_summary_and_keeps_the_full_result_and_the_slot(
        self, store: Store, team: str, now: datetime
    ) -> None:
        target = new_target(team, now, labels={"env": "prod"})
        store.create_target(target)
        report = reports.everything(now)
        first = ResultSummary.of(report)
        store.save_result(team, target.id, first, report)

        later = now + timedelta(hours=6)
        again = dataclasses.replace(first, checked_at=later, result_at=first.result_at)
        store.save_summary(team, target.id, again)

        stored = store.get_target(team, target.id)
        assert stored == dataclasses.replace(target, latest=again)
        assert stored.next_check_at == later + timedelta(hours=6)
        assert stored.latest is not None
        assert (stored.latest.checked_at, stored.latest.result_at) == (later, report.checked_at)  # as first written
        assert store.get_result(team, target.id) == report  # the full result as the last full write left it
        assert due_ids(store, team, (later, later + timedelta(hours=6))) == [target.id]  # its slot as it was

    def test_a_refreshed_result_rewrites_the_full_report_and_the_summary(
        self, store: Store, team: str, now: datetime
    ) -> None:
        target = new_target(team, now)
        store.create_target(target)
        first = ResultSummary.of(reports.everything(now))
        store.save_result(team, target.id, first, reports.everything(now))

        later = now + timedelta(days=1)
        report = reports.everything(later)
        again = ResultSummary.of(report)
        store.refresh_result(team, target.id, again, report)

        stored = store.get_target(team, target.id)
        assert stored.latest == again
        assert stored.next_check_at == later + timedelta(hours=6)
        assert store.get_result(team, target.id) == report
        assert store.team_reports(team) == {target.id: report}

    def test_a_refreshed_result_of_a_deleted_target_is_refused_and_leaves_nothing(
        self, store: Store, team: str, now: datetime
    ) -> None:
        target = new_target(team, now)
        store.create_target(target)
        store.save_result(team, target.id, summary(Status.OK, now, 90), reports.report(now))
        store.delete_target(team, target.id)

        with pytest.raises(NotFoundError):
            store.refresh_result(team, target.id, summary(Status.OK, now, 90), reports.report(now))

        assert store.get_result(team, target.id) is None
        assert store.team_reports(team) == {}
        assert due_ids(store, team, (now - timedelta(days=1), now + timedelta(days=1))) == []

    def test_an_unchanged_check_of_a_deleted_target_is_refused_and_brings_nothing_back(
        self, store: Store, team: str, now: datetime
    ) -> None:
        target = new_target(team, now)
        store.create_target(target)
        store.delete_target(team, target.id)

        with pytest.raises(NotFoundError):
            store.save_summary(team, target.id, summary(Status.OK, now, 90))

        with pytest.raises(NotFoundError):
            store.get_target(team, target.id)
        assert due_ids(store, team, (now - timedelta(days=1), now + timedelta(days=1))) == []

    def test_a_result_for_a_deleted_target_is_refused_and_leaves_nothing(
        self, store: Store, team: str, now: datetime
    ) -> None:
        target = new_target(team, now)
        store.create_target(target)
        store.delete_target(team, target.id)

        with pytest.raises(NotFoundError):
            store.save_result(team, target.id, summary(Status.OK, now, 90), reports.report(now))
        with pytest.raises(NotFoundError):
            store.save_result(team, "tg_0000000000000000000", summary(Status.OK, now, 90), reports.report(now))

        with pytest.raises(NotFoundError):
            store.get_target(team, target.id)
        assert store.get_result(team, target.id) is None
        assert due_ids(store, team, (now - timedelta(days=1), now + timedelta(days=1))) == []


class TokensContract:
    """The ``Tokens`` port: API tokens' records, never the tokens."""

    def test_tokens_are_put_read_listed_and_deleted(self, store: Tokens, team: str, now: datetime) -> None:
        records = [
            TokenRecord(secrets.token_hex(6), f"{team}-b", False, "a" * 64, now, "ci"),
            TokenRecord(secrets.token_hex(6), team, True, "b" * 64, now + timedelta(seconds=1), "ops"),
            TokenRecord(secrets.token_hex(6), team, False, "c" * 64, now - timedelta(days=1)),
        ]
        for record in records:
            store.put_token(record)

        for record in records:
            assert store.get_token(record.token_id) == record
        assert store.get_token(secrets.token_hex(6)) is None
        mine = {r.token_id for r in records}
        listed = [r for r in store.list_tokens() if r.token_id in mine]
        assert listed == [records[2], records[1], records[0]]  # by team, then by creation

        assert store.delete_token(records[0].token_id) is True
        assert store.delete_token(records[0].token_id) is False
        assert store.get_token(records[0].token_id) is None
        assert [r for r in store.list_tokens() if r.token_id in mine] == [records[2], records[1]]


class HistoryContract:
    """The ``History`` port: the certificates each target served (the renewal cadence's)."""

    def test_a_certificate_is_recorded_once_per_target_and_read_oldest_first(
        self, store: Store, team: str, now: datetime
    ) -> None:
        first, second = new_target(team, now), new_target(team, now)
        store.create_target(first)
        store.create_target(second)
        later = _sighting("b" * 64, now + timedelta(days=60))
        earlier = _sighting("a" * 64, now)
        assert store.record_sighting(team, first.id, later)
        assert store.record_sighting(team, first.id, earlier)
        assert not store.record_sighting(
            team, first.id, dataclasses.replace(earlier, first_seen=now + timedelta(days=1))
        )
        assert store.record_sighting(team, second.id, earlier)  # another target: its own history

        assert store.sightings(team, first.id) == [earlier, later]
        assert store.team_sightings(team) == {first.id: [earlier, later], second.id: [earlier]}
        assert store.sightings(f"{team}-other", first.id) == []

        store.delete_target(team, first.id)
        assert store.sightings(team, first.id) == []
        assert store.team_sightings(team) == {second.id: [earlier]}

    def test_a_result_records_the_certificates_first_seen_with_it_all_or_nothing(
        self, store: Store, team: str, now: datetime
    ) -> None:
        target = new_target(team, now)
        store.create_target(target)
        first = _sighting("c" * 64, now)
        store.save_result(team, target.id, summary(Status.OK, now, 90), reports.report(now), sightings=[first])
        again = dataclasses.replace(first, first_seen=now + timedelta(days=1))
        other = _sighting("d" * 64, now + timedelta(days=1))
        later = now + timedelta(days=1)
        store.save_result(
            team, target.id, summary(Status.OK, later, 89), reports.report(later), sightings=[again, other]
        )
        assert store.sightings(team, target.id) == [first, other], "a certificate seen before keeps its first sighting"

        store.delete_target(team, target.id)
        with pytest.raises(NotFoundError):
            store.save_result(team, target.id, summary(Status.OK, now, 90), reports.report(now), sightings=[first])
        assert store.sightings(team, target.id) == [], "a target deleted before its check was recorded keeps no history"
        assert store.team_sightings(team) == {}


class HoldersContract:
    """The ``Holders`` port: who serves each certificate (the team's certificate events name them)."""

    def test_a_certificates_holders_join_leave_and_are_forgotten_with_the_last(
        self, store: Holders, team: str, now: datetime
    ) -> None:
        a, b = Holder("endpoint", "tg_a", "tls://a.example.com:8443"), Holder("acm", "arn:aws:acm:x", "arn:aws:acm:x")
        fingerprint = "e" * 64
        assert store.certificate_holders(team, fingerprint) == frozenset()
        store.join_certificate(team, fingerprint, a)
        store.join_certificate(team, fingerprint, a)  # again: still one
        store.join_certificate(team, fingerprint, b)
        assert store.certificate_holders(team, fingerprint) == {a, b}
        assert store.certificate_holders(f"{team}-other", fingerprint) == frozenset()

        assert store.leave_certificate(team, fingerprint, a) == (frozenset({b}), frozenset({a}))
        assert store.leave_certificate(team, fingerprint, b) == (frozenset(), frozenset({a, b}))
        assert store.certificate_holders(team, fingerprint) == frozenset()
        store.join_certificate(team, fingerprint, b)  # served again: who moved on before is forgotten
        assert store.leave_certificate(team, fingerprint, b) == (frozenset(), frozenset({b}))

    def test_concurrent_joins_of_one_certificate_lose_no_holder(self, store: Holders, team: str, now: datetime) -> None:
        holders = [Holder("endpoint", f"tg_{n}", f"tls://n{n}.example.com:443") for n in range(12)]
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(lambda h: store.join_certificate(team, "f" * 64, h), holders))
        assert store.certificate_holders(team, "f" * 64) == set(holders)

    def test_a_deleted_target_is_no_holder_of_what_it_served(self, store: Store, team: str, now: datetime) -> None:
        target = new_target(team, now)
        store.create_target(target)
        brief = CertificateBrief("d" * 64, "CN=x", "CN=ca", "EC 256", now + timedelta(days=30))
        store.save_result(
            team,
            target.id,
            dataclasses.replace(summary(Status.OK, now, 30), certificates=(brief,)),
            reports.report(now),
        )
        other = Holder("endpoint", "tg_other", "tls://other.example.com:443")
        mine = Holder("endpoint", target.id, str(target.endpoint))
        store.join_certificate(team, brief.fingerprint_sha256, mine)
        store.join_certificate(team, brief.fingerprint_sha256, other)

        store.delete_target(team, target.id)

        assert store.certificate_holders(team, brief.fingerprint_sha256) == {other}


class TeamsContract:
    """The ``Teams`` port: what each team chose."""

    def test_a_teams_settings_are_its_own_and_default_to_grouping(self, store: Teams, team: str, now: datetime) -> None:
        assert store.team_settings(team) == TeamSettings(group_by_certificate=True)
        store.put_team_settings(team, TeamSettings(group_by_certificate=False))
        assert store.team_settings(team) == TeamSettings(group_by_certificate=False)
        assert store.team_settings(f"{team}-other") == TeamSettings()

    def test_a_teams_posture_policy_is_stored_and_read_back(self, store: Teams, team: str, now: datetime) -> None:
        posture = PosturePolicy(require_post_quantum=True, quantum_safe_signatures_by=date(2030, 1, 1), legacy_tls=True)
        store.put_team_settings(team, TeamSettings(posture=posture))

        assert store.team_settings(team) == TeamSettings(posture=posture)
        assert store.team_settings(f"{team}-other").posture == PosturePolicy()


class OutboxContract:
    """The ``Outbox`` port: each notification once per key, pending until published, kept to be shown."""

    def test_a_notification_is_kept_whole_once_per_key_until_published(
        self, store: Outbox, team: str, now: datetime
    ) -> None:
        target = new_target(team, now, host="outbox.example.com", notes="renewed by cert-manager\nask #web first")
        owned_spec = _spec(target.spec, owner="web-oncall", runbook_url="https://wiki.example.com/tls?x=1&y=2")
        target = dataclasses.replace(target, spec=owned_spec)
        report = reports.report(now, days_left=5, status=Status.CRITICAL)
        holders = (Holder("endpoint", target.id, str(target.endpoint)), Holder("acm", "arn:aws:acm:x", "arn:aws:acm:x"))
        event = AlertEvent(
            f"{team}:{'a' * 64}:expiring:7",
            EventType.EXPIRING,
            Severity.CRITICAL,
            "expires in 5 days",
            7,
            findings=report.findings,
            holders=holders,
        )
        managed = AlertSubject(
            "cert_1",
            team,
            managed=ManagedCertificate(
                Source.ACM,
                "arn:aws:acm:x",
                "eu-west-1",
                "x.example.com",
                ("x.example.com",),
                "IMPORTED",
                "ISSUED",
                now - timedelta(days=80),
                now + timedelta(days=5),
                "RSA_2048",
                in_use_by=("arn:elb",),
                owner="platform",
                runbook_url="https://wiki.example.com/acm",
                notes="imported by hand",
            ),
            owner="platform",
            runbook_url="https://wiki.example.com/acm",
            notes="imported by hand",
        )
        notes = [
            Notification.of(event, AlertSubject.of_target(target), Observation.of(report), now),
            Notification.of(replace(event, key=f"{team}:b:expired"), managed, Observation.of(report), now),
        ]
        assert [store.record_notification(n) for n in notes] == [True, True]
        assert not store.record_notification(notes[0]), "once per key"

        pending = [n for n in store.pending_notifications() if n.team == team]
        assert sorted(pending, key=lambda n: n.key) == sorted(notes, key=lambda n: n.key)
        owned = {n.key: (n.subject.owner, n.subject.runbook_url, n.subject.notes) for n in pending}
        assert owned[notes[0].key] == ("web-oncall", "https://wiki.example.com/tls?x=1&y=2", target.spec.notes)
        store.mark_published(notes[0])
        assert [n.key for n in store.pending_notifications() if n.team == team] == [notes[1].key]

    def test_a_silenced_notification_is_recorded_to_be_shown_never_to_be_published(
        self, store: Outbox, team: str, now: datetime
    ) -> None:
        target = new_target(team, now, host="quiet.example.com")
        report = reports.report(now, days_left=5, status=Status.CRITICAL)
        event = AlertEvent(f"{team}:{'e' * 64}:expiring:7", EventType.EXPIRING, Severity.CRITICAL, "soon", 7)
        told = Notification.of(event, AlertSubject.of_target(target), Observation.of(report), now)
        quiet = replace(told, key=f"{team}:{'f' * 64}:expiring:7", silenced_by="si_0123456789abcdef")
        assert store.record_notification(told)
        assert store.record_notification(replace(quiet, created_at=now + timedelta(seconds=1)))

        assert [n.key for n in store.pending_notifications() if n.team == team] == [told.key]
        store.mark_published(told)
        assert [(r.notification.key, r.state) for r in store.team_events(team)] == [
            (quiet.key, "silenced"),
            (told.key, "published"),
        ]
        assert store.team_events(team, limit=1)[0].notification.silenced_by == "si_0123456789abcdef"


class AlertLedgerContract:
    """The ``AlertLedger`` port: what has been announced for each subject, per team, replaced whole."""

    def test_an_alert_state_is_empty_until_put_then_reads_back_whole_in_its_team_only(
        self, store: AlertLedger, team: str, now: datetime
    ) -> None:
        subject = "tg_00000000000000000001"
        assert store.get_alert_state(team, subject) == AlertState()
        state = AlertState(
            fingerprint="a" * 64,
            announced=frozenset({"expiring:30", "expiring:7"}),
            failures=2,
            unreachable=True,
            unreachable_episode=3,
            problems=frozenset({"weak_key"}),
            problem_episode=1,
        )

        store.put_alert_state(team, subject, state)

        assert store.get_alert_state(team, subject) == state
        assert store.get_alert_state(f"{team}-other", subject) == AlertState()
        store.put_alert_state(team, subject, AlertState(fingerprint="b" * 64))
        assert store.get_alert_state(team, subject) == AlertState(fingerprint="b" * 64)

    def test_alert_states_read_at_once_are_each_subjects_own_and_empty_where_none_was_put(
        self, store: AlertLedger, team: str
    ) -> None:
        subjects = [f"tg_{n:020d}" for n in range(1, 131)]  # more than one BatchGetItem's hundred keys
        for n, subject in enumerate(subjects[::2]):
            store.put_alert_state(team, subject, AlertState(fingerprint=f"{n:064x}", failures=n))
        store.put_alert_state(f"{team}-other", subjects[1], AlertState(fingerprint="c" * 64))
        refs = [(team, s) for s in subjects] + [(f"{team}-other", subjects[1]), (team, subjects[0])]

        states = store.get_alert_states(refs)

        assert set(states) == set(refs), "every subject asked for is answered, once"
        assert states == {ref: store.get_alert_state(*ref) for ref in refs}
        assert states[(team, subjects[2])] == AlertState(fingerprint=f"{1:064x}", failures=1)
        assert states[(team, subjects[1])] == AlertState(), "none put: the empty state, not another team's"
        assert states[(f"{team}-other", subjects[1])].fingerprint == "c" * 64
        assert store.get_alert_states([]) == {}


class InventoryContract:
    """The ``Inventory`` port: the latest assessment of each certificate held in ACM/IAM, by its ARN."""

    def test_an_assessment_is_kept_by_arn_replaced_by_the_next_and_forgotten(
        self, store: Inventory, team: str, now: datetime
    ) -> None:
        arns = [f"arn:aws:acm:eu-west-1:123456789012:certificate/{team}-{n}" for n in range(2)]
        held = [
            ManagedCertificate(
                Source.ACM,
                arn,
                "eu-west-1",
                f"{n}.example.com",
                (f"{n}.example.com",),
                "IMPORTED",
                "ISSUED",
                now - timedelta(days=80),
                now + timedelta(days=10 + n),
                "RSA_2048",
            )
            for n, arn in enumerate(arns)
        ]

        def mine() -> dict[str, Assessment]:
            return {a.certificate.arn: a for a in store.list_managed() if a.certificate.arn in arns}

        first, second = (assess(cert, now) for cert in held)
        store.put_managed(first)
        store.put_managed(second)
        assert mine() == {arns[0]: first, arns[1]: second}

        renewed = assess(replace(held[0], not_after=now + timedelta(days=300)), now)
        store.put_managed(renewed)
        assert mine() == {arns[0]: renewed, arns[1]: second}

        store.delete_managed(arns[0])
        assert mine() == {arns[1]: second}


class SilencesContract:
    """The ``Silences`` port: silences and maintenance windows, per team, kept whole and ended."""

    def test_silences_and_windows_are_kept_whole_per_team_and_ended(
        self, store: Silences, team: str, now: datetime
    ) -> None:
        quiet = Silence(
            "si_0123456789abcdef",
            team,
            Match.CERTIFICATE,
            "c" * 64,
            "alice",
            "renewing",
            now,
            now + timedelta(days=7),
            until_certificate_changes="c" * 64,
        )
        window = MaintenanceWindow(
            "mw_0123456789abcdef",
            team,
            now + timedelta(hours=1),
            now + timedelta(hours=3),
            "bob",
            "upgrade",
            now,
            {"env": "prod"},
        )
        store.put_silence(quiet)
        store.put_window(window)
        assert store.silences(team) == [quiet]
        assert store.windows(team) == [window]
        assert store.silences(f"{team}-other") == []

        later = now + timedelta(hours=2)
        assert store.end_silence(team, quiet.id, later) == replace(quiet, ended_at=later)
        assert store.end_window(team, window.id, later) == replace(window, ended_at=later)
        assert store.silences(team)[0].ended_at == later
        with pytest.raises(NotFoundError):
            store.end_silence(f"{team}-other", quiet.id, later)
        with pytest.raises(NotFoundError):
            store.end_window(team, "mw_ffffffffffffffff", later)


class WatchedDomainsContract:
    """The ``WatchedDomains`` port: each team's watched domains, and what their sweeps learnt."""

    def test_a_domain_reads_back_as_kept_and_twice_is_a_conflict(
        self, store: WatchedDomains, team: str, now: datetime
    ) -> None:
        domain = replace(_watched(team, "example.com", now), allowed_issuers=("R11", "E6"), owner="web")
        store.create_domain(domain)

        assert store.get_domain(team, domain.id) == domain
        with pytest.raises(DuplicateDomainError) as raised:
            store.create_domain(domain)
        assert raised.value.existing_id == domain.id

    def test_a_teams_domains_are_its_own_and_the_sweep_reads_every_teams(
        self, store: WatchedDomains, team: str, now: datetime
    ) -> None:
        other = f"{team}-other"
        for name in ("b.example", "a.example"):
            store.create_domain(_watched(team, name, now))
        store.create_domain(_watched(other, "c.example", now))

        assert [d.domain for d in store.list_domains(team)] == ["a.example", "b.example"]
        assert {(d.team, d.domain) for d in store.list_domains()} >= {(team, "a.example"), (other, "c.example")}
        with pytest.raises(NotFoundError):
            store.get_domain(other, domain_id(team, "a.example"))

    def test_what_a_sweep_learnt_is_kept_and_a_removed_domain_is_not_brought_back(
        self, store: WatchedDomains, team: str, now: datetime
    ) -> None:
        domain = _watched(team, "example.com", now)
        store.create_domain(domain)
        swept = replace(
            domain, cursor="4000007", baselined=True, swept_at=now, registration_expires_at=now + timedelta(days=20)
        )

        store.save_domain(swept)
        assert store.get_domain(team, domain.id) == swept

        store.delete_domain(team, domain.id)
        with pytest.raises(NotFoundError):
            store.save_domain(swept)
        with pytest.raises(NotFoundError):
            store.delete_domain(team, domain.id)
        assert store.list_domains(team) == []


class IssuancesContract:
    """The ``Issuances`` port: the CT issuances of a team's domains, new once per team."""

    def test_an_issuance_is_new_once_per_team(self, store: Issuances, team: str, now: datetime) -> None:
        first, second = _issuance("ab" * 32, now, precert=True), _issuance("ef" * 32, now)

        assert store.record_issuances(team, [first, second]) == [first, second]
        final = replace(first, precert=False, cert_sha256="01" * 32)
        assert store.record_issuances(team, [final]) == []  # the certificate of a precertificate seen before
        assert store.record_issuances(f"{team}-other", [first]) == [first]

        kept = sorted(store.team_issuances(team), key=lambda i: i.tbs_sha256)
        assert kept == [final, second]


# pytest collects a base's tests before those of the bases listed before it: ScheduleContract's first.
class StoreContract(
    IssuancesContract,
    WatchedDomainsContract,
    InventoryContract,
    AlertLedgerContract,
    SilencesContract,
    OutboxContract,
    TeamsContract,
    HoldersContract,
    HistoryContract,
    TokensContract,
    ResultsContract,
    TargetsContract,
    ScheduleContract,
):
    """What every store promises, port by port; a subclass supplies the ``store`` fixture."""

    @pytest.fixture
    def team(self) -> str:
        return f"team-{uuid.uuid4().hex[:12]}"


def _sighting(fingerprint: str, first_seen: datetime) -> Sighting:
    return Sighting(
        fingerprint=fingerprint,
        first_seen=first_seen,
        not_before=first_seen - timedelta(hours=1),
        not_after=first_seen + timedelta(days=90),
        publicly_trusted=True,
    )


def _watched(team: str, name: str, now: datetime) -> WatchedDomain:
    return WatchedDomain(id=domain_id(team, name), team=team, domain=name, created_at=now, next_sweep_at=now)


def _issuance(tbs: str, now: datetime, *, precert: bool = False) -> Issuance:
    return Issuance(
        id=tbs[:4],
        tbs_sha256=tbs,
        dns_names=("www.example.com",),
        pubkey_sha256="cd" * 32,
        issuer="C=US, O=Example, CN=R11",
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=60),
        serial="5eed",
        precert=precert,
    )


class TestInMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> Store:
        return InMemoryStore()


class TestDynamoStore(StoreContract):
    @pytest.fixture
    def store(self, aws_stack: AwsStack) -> Store:
        return DynamoStore(_AtomicRequests(aws_stack.dynamodb), aws_stack.table)


class _AtomicRequests:
    """A DynamoDB client whose requests run one at a time, as each request is atomic in DynamoDB.

    moto does not guard its tables across threads (a transaction deep-copies the table while
    another thread may be writing to it). Serializing single requests still leaves the store's
    own requests free to interleave, and a short gap after each lets the other thread in: a
    read-modify-write over two requests would lose a field here.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                with self._lock:
                    return attribute(*args, **kwargs)
            finally:
                time.sleep(0.001)  # the gap a network round trip leaves: the other writer may run in it

        return call


def _spec(spec: TargetSpec, **changes: Any) -> TargetSpec:
    return dataclasses.replace(spec, **changes)


def _edit_and_result(target: Target, now: datetime) -> tuple[TargetChanges, tuple[ResultSummary, TargetReport], Target]:
    """An API edit, a check result, and the target as both of them leave it."""
    edit = TargetChanges(labels={"env": "prod", "owner": "web"}, notes="edited")
    result = summary(Status.WARNING, now, 14)
    expected = dataclasses.replace(
        target,
        spec=_spec(target.spec, labels={"env": "prod", "owner": "web"}, notes="edited"),
        updated_at=now + timedelta(minutes=1),
        latest=result,
    )
    report = reports.report(now, host=target.endpoint.host, days_left=14, status=Status.WARNING)
    return edit, (result, report), expected


def _after(start: threading.Barrier, write: Callable[..., Any], *args: Any) -> Any:
    """Wait until the other writer is ready too, then write: the two calls overlap."""
    start.wait()
    return write(*args)
