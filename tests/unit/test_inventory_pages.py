"""The inventory view (chalicelib/services/scanning.py, chalicelib/domain/inventory.py): its rows, their statuses and
filters, and its pages (sorted by expiry, followed by cursor to the end)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certwatch import admin_arguments
from chalicelib.domain.inventory import (
    InventoryQuery,
    ManagedCertificate,
    RowKind,
    RowStatus,
    Source,
    assess,
    endpoint_rows,
)
from chalicelib.domain.models import Endpoint, Status, days_until
from chalicelib.domain.targets import CertificateBrief, ResultSummary, Target, TargetSpec, encode_cursor
from chalicelib.domain.tokens import Principal
from chalicelib.errors import InvalidValueError
from chalicelib.presentation.documents import inventory_row_to_dict
from chalicelib.services.scanning import InventoryService
from tests.support.fakes import InMemoryStore, RecordingPublisher, alerter_on

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ADMIN = Principal(team="ops", admin=True, token_id="t-ops")


def held(number: int, days: int) -> ManagedCertificate:
    return ManagedCertificate(
        source=Source.ACM,
        arn=f"arn:aws:acm:eu-west-1:123456789012:certificate/{number:04d}",
        region="eu-west-1",
        domain=f"host{number}.example.com",
        sans=(f"host{number}.example.com",),
        type="IMPORTED",
        status="ISSUED",
        not_before=NOW - timedelta(days=30),
        not_after=NOW + timedelta(days=days),
        key_algorithm="EC_prime256v1",
    )


@pytest.fixture
def inventory() -> InventoryService:
    store = InMemoryStore()
    for number, days in enumerate([40, 10, 300, 20, 5, 90, 60], start=1):
        store.put_managed(assess(held(number, days), NOW))
    alerter = alerter_on(store, RecordingPublisher(), lambda: NOW)
    return InventoryService(
        inventory=store,
        targets=store,
        alerter=alerter,
        clock=lambda: NOW,
        sources=list,
        acm=lambda: pytest.fail("no ACM here"),
    )


def test_pages_follow_each_other_in_order_of_expiry_until_there_is_no_cursor(inventory: InventoryService) -> None:
    seen: list[int | None] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = inventory.rows(ADMIN, team="ops", query=InventoryQuery(), limit=3, cursor=cursor)
        seen += [row.days_left for row in page.items]
        pages += 1
        if page.cursor is None:
            break
        cursor = page.cursor

    assert pages == 3
    assert seen == [5, 10, 20, 40, 60, 90, 300]


@pytest.mark.parametrize(
    "cursor",
    ["!!!", encode_cursor({"offset": -3}), encode_cursor({"offset": "3"}), encode_cursor({"sk": "T#x"})],
)
def test_a_cursor_this_view_did_not_give_is_refused(inventory: InventoryService, cursor: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        inventory.rows(ADMIN, team="ops", query=InventoryQuery(), limit=3, cursor=cursor)

    assert (caught.value.field, caught.value.code) == ("cursor", "invalid_cursor")


# --- rows of a team's endpoints: one per certificate, and one per endpoint that served none ------------

A, B, C = "a" * 64, "b" * 64, "c" * 64


def brief(fingerprint: str, days: int) -> CertificateBrief:
    return CertificateBrief(
        fingerprint, f"CN={fingerprint[0]}.example.com", "CN=Example CA", "EC 256", NOW + DAY * days
    )


def checked(status: Status, *served: CertificateBrief, codes: tuple[str, ...] = (), ago: int = 1) -> ResultSummary:
    left = min((days_until(b.not_after, NOW) for b in served), default=None)
    return ResultSummary(status, left, None, codes, NOW - timedelta(minutes=ago), served)


def target(number: int, latest: ResultSummary | None, *, paused: bool = False, due: int = 60) -> Target:
    spec = TargetSpec(Endpoint(f"host{number}.example.com", 443), labels={"n": str(number)})
    return Target(
        f"tg_{number:020d}",
        "web",
        spec,
        created_at=NOW,
        updated_at=NOW,
        scheduled_at=NOW + timedelta(minutes=due),
        paused=paused,
        latest=latest,
    )


def seven_targets() -> list[Target]:
    """The issue's case: 3 certificates behind 7 targets, two of which never answered."""
    soon, later, fine = brief(A, 3), brief(B, 20), brief(C, 200)
    refused = ("CONNECTION_FAILED",)
    return [
        target(1, checked(Status.CRITICAL, soon, codes=("EXPIRING_SOON",))),
        target(2, checked(Status.CRITICAL, soon, codes=("EXPIRING_SOON",))),
        target(3, checked(Status.WARNING, later, codes=("EXPIRING_SOON",))),
        target(4, checked(Status.OK, fine)),
        target(5, checked(Status.OK, fine)),
        target(6, checked(Status.ERROR, codes=refused)),
        target(7, checked(Status.ERROR, codes=refused)),
    ]


def test_three_certificates_behind_seven_targets_are_three_rows_and_two_unreachable_endpoints() -> None:
    rows = {row.id: row for row in endpoint_rows(seven_targets(), "web", NOW)}

    assert sorted((row.kind, row.status) for row in rows.values()) == [
        (RowKind.CERTIFICATE, RowStatus.CRITICAL),
        (RowKind.CERTIFICATE, RowStatus.OK),
        (RowKind.CERTIFICATE, RowStatus.WARNING),
        (RowKind.ENDPOINT, RowStatus.ERROR),
        (RowKind.ENDPOINT, RowStatus.ERROR),
    ]
    assert rows[A].used_by == ("https://host1.example.com:443", "https://host2.example.com:443")
    assert [use.target_id for use in rows[A].endpoints] == ["tg_00000000000000000001", "tg_00000000000000000002"]
    assert (rows[A].days_left, rows[A].subject, rows[A].codes) == (3, "CN=a.example.com", ("EXPIRING_SOON",))
    unreachable = rows["tg_00000000000000000006"]
    assert (unreachable.source, unreachable.not_after, unreachable.codes) == (
        Source.ENDPOINT,
        None,
        ("CONNECTION_FAILED",),
    )
    assert unreachable.used_by == ("https://host6.example.com:443",)
    assert unreachable.checked_at == NOW - timedelta(minutes=1)


def test_a_certificates_row_has_the_worst_verdict_of_its_endpoints_the_latest_check_and_the_soonest_next() -> None:
    fine = brief(C, 200)
    targets = [
        target(1, checked(Status.OK, fine, ago=30), due=90),
        target(2, checked(Status.CRITICAL, fine, codes=("HOSTNAME_MISMATCH",), ago=5), due=20),
        target(3, checked(Status.OK, fine, ago=1), paused=True, due=5),
    ]

    (row,) = endpoint_rows(targets, "web", NOW)

    assert (row.status, row.codes) == (RowStatus.CRITICAL, ("HOSTNAME_MISMATCH",))
    assert row.checked_at == NOW - timedelta(minutes=1)
    assert row.next_check_at == NOW + timedelta(minutes=20)  # the paused one is not due at all
    assert [(use.status, use.paused, use.next_check_at) for use in row.endpoints] == [
        (RowStatus.OK, False, NOW + timedelta(minutes=90)),
        (RowStatus.CRITICAL, False, NOW + timedelta(minutes=20)),
        (RowStatus.OK, True, None),
    ]
    assert dict(row.endpoints[1].labels) == {"n": "2"}


def test_an_endpoint_never_checked_is_a_pending_row_of_its_own() -> None:
    (row,) = endpoint_rows([target(8, None, paused=True)], "web", NOW)

    assert (row.id, row.kind, row.status, row.checked_at, row.next_check_at) == (
        "tg_00000000000000000008",
        RowKind.ENDPOINT,
        RowStatus.PENDING,
        None,
        None,
    )


@pytest.fixture
def team_inventory() -> InventoryService:
    store = InMemoryStore()
    for each in [*seven_targets(), target(8, None)]:
        store.create_target(each)
    store.put_managed(assess(held(1, 10), NOW))
    alerter = alerter_on(store, RecordingPublisher(), lambda: NOW)
    return InventoryService(
        inventory=store,
        targets=store,
        alerter=alerter,
        clock=lambda: NOW,
        sources=list,
        acm=lambda: pytest.fail("no ACM here"),
    )


@pytest.mark.parametrize("status", list(RowStatus))
def test_each_status_filter_lists_exactly_the_rows_with_that_status(
    team_inventory: InventoryService, status: RowStatus
) -> None:
    every = team_inventory.rows(ADMIN, team="web", query=InventoryQuery(), limit=500, cursor=None).items

    chosen = team_inventory.rows(ADMIN, team="web", query=InventoryQuery(status=status), limit=500, cursor=None).items

    assert chosen
    assert chosen == tuple(row for row in every if row.status is status)


def test_the_unreachable_endpoints_are_what_status_error_lists(team_inventory: InventoryService) -> None:
    page = team_inventory.rows(ADMIN, team="web", query=InventoryQuery(status=RowStatus.ERROR), limit=500, cursor=None)

    assert [row.used_by for row in page.items] == [
        ("https://host6.example.com:443",),
        ("https://host7.example.com:443",),
    ]


def test_the_inventory_commands_statuses_are_the_rows_statuses() -> None:
    assert [status.value for status in RowStatus] == admin_arguments.ROW_STATUSES


def test_a_row_as_json_carries_its_kind_its_checks_and_its_endpoints() -> None:
    rows = {row.id: row for row in endpoint_rows(seven_targets(), "web", NOW)}

    document = inventory_row_to_dict(rows[A])

    assert (document["kind"], document["status"], document["checked_at"]) == (
        "certificate",
        "critical",
        "2026-11-27T11:59:00Z",
    )
    assert document["endpoints"][0] == {
        "target_id": "tg_00000000000000000001",
        "target": "https://host1.example.com:443",
        "status": "critical",
        "codes": ["EXPIRING_SOON"],
        "checked_at": "2026-11-27T11:59:00Z",
        "next_check_at": "2026-11-27T13:00:00Z",
        "paused": False,
        "labels": {"n": "1"},
    }
