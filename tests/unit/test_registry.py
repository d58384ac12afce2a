"""The target registry service (chalicelib/services/registry.py), without HTTP: team scoping, the SSRF guard
at registration, changes, checks on request and discovery.

It runs on the in-memory store and a recording queue, with stand-ins for DNS, the checker and the
account's endpoints. Bulk imports have tests of their own (tests/functional/test_bulk_import.py).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.inventory import Discovered, DiscoveredEndpoint
from chalicelib.domain.models import FailureReason
from chalicelib.domain.schedule import FIRST_GRACE
from chalicelib.domain.targets import ResultSummary, Target, TargetChanges, TargetFilter, TargetSpec
from chalicelib.domain.tokens import Principal
from chalicelib.errors import (
    ConfigurationError,
    DuplicateTargetError,
    ForbiddenAddressError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
    ProbeError,
    StoreError,
)
from chalicelib.services.ports import CheckedTarget, TeamReads
from chalicelib.services.registry import TargetRegistry
from tests.support import reports
from tests.support.fakes import InMemoryStore, RecordingCheckQueue

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WEB = Principal(team="web", admin=False, token_id="t-web")
OPS = Principal(team="ops", admin=True, token_id="t-ops")
# What the stand-in DNS knows; any other name does not resolve (yet).
ADDRESSES = {"www.example.com": ["93.184.215.14"], "intranet.example.com": ["10.1.2.3"]}


class Dns:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def resolve(self, host: str, port: int, *, timeout: float) -> list[str]:
        self.asked.append(host)
        if host not in ADDRESSES:
            raise ProbeError(FailureReason.DNS, f"{host}: no such name")
        return ADDRESSES[host]


class Checker:
    """Checks by handing out a made-up report and storing it, as TargetChecker does."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.checked: list[str] = []

    def read_teams(self, teams: Sequence[str]) -> TeamReads:
        return TeamReads({}, dict.fromkeys(teams))

    def run(
        self, targets: Sequence[Target], teams: TeamReads | None = None, *, whole_reports: bool = False
    ) -> tuple[list[CheckedTarget], list[Target]]:
        done = []
        for target in targets:
            self.checked.append(target.id)
            report = reports.report(NOW, host=target.endpoint.host)
            try:
                self.store.save_result(target.team, target.id, ResultSummary.of(report), report)
            except NotFoundError:
                continue
            done.append(CheckedTarget(target, report))
        return done, []


class Finder:
    def __init__(self, found: list[DiscoveredEndpoint], failures: list[tuple[str, str, str]]) -> None:
        self._found = found
        self._failures = failures

    def discover(self) -> Discovered:
        return Discovered(tuple(self._found), tuple(self._failures))


@dataclasses.dataclass
class World:
    registry: TargetRegistry
    store: InMemoryStore
    queue: RecordingCheckQueue
    dns: Dns
    checker: Checker


def world(*, finder: Finder | None = None, queue: RecordingCheckQueue | None = None) -> World:
    store, dns = InMemoryStore(), Dns()
    queue = queue or RecordingCheckQueue()
    checker = Checker(store)
    numbers = itertools.count(1)
    registry = TargetRegistry(
        targets=store,
        results=store,
        teams=store,
        queue=queue,
        checker=lambda: checker,
        resolver=dns,
        address_policy=AddressPolicy(),
        clock=lambda: NOW,
        finder=None if finder is None else lambda: finder,
        new_id=lambda: f"tg_{next(numbers):020x}",
    )
    return World(registry, store, queue, dns, checker)


def spec(target: str, **fields: Any) -> TargetSpec:
    return dataclasses.replace(TargetSpec(parse_target(target)), **fields)


# --- registering ----------------------------------------------------------------------------------


def test_a_target_is_registered_for_the_callers_team_and_its_first_check_queued() -> None:
    w = world()

    target = w.registry.register(WEB, spec("https://www.example.com"))

    assert (target.team, target.source, target.paused) == ("web", "api", False)
    assert target.created_at == target.updated_at == NOW
    assert target.next_check_at == NOW + FIRST_GRACE  # the sweep's fallback if the queued check is lost
    assert w.store.get_target("web", target.id) == target
    assert w.queue.sent == [("web", target.id)]


def test_the_same_endpoint_twice_in_a_team_is_a_duplicate_naming_the_first() -> None:
    w = world()
    first = w.registry.register(WEB, spec("https://www.example.com"))

    with pytest.raises(DuplicateTargetError) as caught:
        w.registry.register(WEB, spec("www.example.com:443"))

    assert caught.value.existing_id == first.id
    assert w.registry.register(OPS, spec("https://www.example.com")).team == "ops"  # another team's is its own


def test_a_name_resolving_to_a_private_address_is_refused_and_nothing_is_stored() -> None:
    w = world()

    with pytest.raises(ForbiddenAddressError):
        w.registry.register(WEB, spec("https://intranet.example.com"))
    with pytest.raises(ForbiddenAddressError):
        w.registry.register(WEB, spec("https://127.0.0.1:8443"))

    assert w.store.list_targets("web", limit=10, cursor=None, where=TargetFilter()).items == ()
    assert w.queue.sent == []
    assert w.dns.asked == ["intranet.example.com"]  # an address literal needs no lookup


def test_a_name_that_does_not_resolve_yet_is_accepted_the_checker_guards_it_later() -> None:
    assert world().registry.register(WEB, spec("https://soon.example.com")).endpoint.host == "soon.example.com"


def test_a_queue_outage_does_not_undo_a_registration() -> None:
    class Down(RecordingCheckQueue):
        def enqueue(self, refs: object) -> None:
            raise StoreError("cannot queue checks: SQS is down")

    w = world(queue=Down())

    target = w.registry.register(WEB, spec("https://www.example.com"))

    assert w.store.get_target("web", target.id) == target  # the sweep checks it after FIRST_GRACE


# --- teams ----------------------------------------------------------------------------------------


def test_a_team_token_acts_on_its_own_team_only() -> None:
    w = world()

    assert w.registry.team_for(WEB, None) == w.registry.team_for(WEB, "web") == "web"
    with pytest.raises(PermissionDeniedError):
        w.registry.register(WEB, spec("https://www.example.com"), team="ops")


def test_an_admin_token_may_name_any_team_but_only_a_valid_name() -> None:
    w = world()

    assert w.registry.register(OPS, spec("https://www.example.com"), team="web").team == "web"
    with pytest.raises(InvalidValueError) as caught:
        w.registry.team_for(OPS, "Not A Team")
    assert caught.value.field == "team"


def test_another_teams_target_looks_exactly_like_a_missing_one() -> None:
    w = world()
    target = w.registry.register(OPS, spec("https://www.example.com"))

    for act in (
        lambda: w.registry.get(WEB, target.id),
        lambda: w.registry.change(WEB, target.id, TargetChanges(notes="mine now")),
        lambda: w.registry.remove(WEB, target.id),
        lambda: w.registry.check_now(WEB, target.id),
    ):
        with pytest.raises(NotFoundError):
            act()
    assert w.registry.get(OPS, target.id) == (target, None)
    assert w.checker.checked == []


@pytest.mark.parametrize("target_id", ["tg_123", "x" * 2000, "../tokens", "tg_000000000000DEADBEEF"])
def test_an_id_certwatch_never_makes_is_not_found_without_asking_the_store(target_id: str) -> None:
    class Untouchable(InMemoryStore):
        def get_target(self, team: str, target_id: str) -> Target:
            raise AssertionError("the store was asked")

    untouchable = Untouchable()
    registry = TargetRegistry(
        targets=untouchable,
        results=untouchable,
        teams=untouchable,
        queue=RecordingCheckQueue(),
        checker=lambda: pytest.fail("nothing to check"),
        resolver=Dns(),
        address_policy=AddressPolicy(),
        clock=lambda: NOW,
    )

    with pytest.raises(NotFoundError, match="tg_ and 20 hex digits"):
        registry.get(WEB, target_id)


# --- changing, removing, checking -----------------------------------------------------------------


def test_a_change_keeps_what_it_does_not_name_and_moves_updated_at() -> None:
    w = world()
    target = w.registry.register(WEB, spec("https://www.example.com", labels={"env": "prod"}, notes="n"))

    changed = w.registry.change(WEB, target.id, TargetChanges(warn_days=45, cleared=frozenset({"notes"})))

    assert (changed.spec.warn_days, changed.spec.labels, changed.spec.notes) == (45, {"env": "prod"}, None)
    assert changed.updated_at == NOW


def test_a_change_that_leaves_critical_above_warn_is_refused_against_the_stored_target() -> None:
    w = world()
    target = w.registry.register(WEB, spec("https://www.example.com", warn_days=20, critical_days=10))

    with pytest.raises(InvalidValueError) as caught:
        w.registry.change(WEB, target.id, TargetChanges(critical_days=21))  # warn_days stays 20

    assert (caught.value.field, str(caught.value)) == ("critical_days", "critical_days must not exceed warn_days")
    assert w.store.get_target("web", target.id) == target


def test_a_check_on_request_returns_the_target_as_stored_after_it_and_its_report() -> None:
    w = world()
    target = w.registry.register(WEB, spec("https://www.example.com"))

    checked, report = w.registry.check_now(WEB, target.id)

    assert report == reports.report(NOW, host="www.example.com")
    assert checked.latest is not None
    assert w.registry.get(WEB, target.id) == (checked, report)


def test_a_target_deleted_while_checked_on_request_is_not_found() -> None:
    w = world()
    target = w.registry.register(WEB, spec("https://www.example.com"))
    check = w.checker.run

    def delete_first(
        targets: Sequence[Target], teams: TeamReads | None = None, *, whole_reports: bool = False
    ) -> tuple[list[CheckedTarget], list[Target]]:
        w.store.delete_target("web", target.id)
        return check(targets, teams, whole_reports=whole_reports)

    w.checker.run = delete_first  # type: ignore[method-assign]

    with pytest.raises(NotFoundError):
        w.registry.check_now(WEB, target.id)


def test_a_removed_target_is_gone() -> None:
    w = world()
    target = w.registry.register(WEB, spec("https://www.example.com"))

    w.registry.remove(WEB, target.id)

    with pytest.raises(NotFoundError):
        w.registry.get(WEB, target.id)


# --- discovery ------------------------------------------------------------------------------------

FOUND = [
    DiscoveredEndpoint(parse_target("https://www.example.com"), "cloudfront:E1", None, None),
    DiscoveredEndpoint(parse_target("https://api.example.com"), "apigateway:api.example.com", "arn:cert", "eu-west-1"),
]
FAILURES = [("elbv2", "us-east-1", "AccessDenied")]


def test_discovery_proposes_what_it_found_and_registers_nothing_unless_asked() -> None:
    w = world(finder=Finder(FOUND, FAILURES))

    found = w.registry.discover(OPS, register=False)

    assert (list(found.found), found.outcomes, list(found.failures)) == (FOUND, (), FAILURES)
    assert w.queue.sent == []


def test_discovery_registers_each_endpoint_once_with_where_it_was_found() -> None:
    w = world(finder=Finder(FOUND, FAILURES))
    w.registry.register(OPS, spec("https://www.example.com"), team="platform")

    found = w.registry.discover(OPS, register=True, team="platform")

    assert [(o.row, o.outcome) for o in found.outcomes] == [(1, "duplicate"), (2, "created")]
    created = found.outcomes[1].target
    assert created is not None
    assert (created.team, created.source) == ("platform", "discovery:apigateway:api.example.com")


def test_discovery_is_for_admin_tokens_and_needs_a_finder() -> None:
    with pytest.raises(PermissionDeniedError):
        world(finder=Finder(FOUND, [])).registry.discover(WEB, register=False)
    with pytest.raises(ConfigurationError):
        world().registry.discover(OPS, register=False)
