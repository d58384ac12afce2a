"""The inventory view's pages (chalicelib/services/scanning.py): sorted by expiry, followed by cursor to the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.inventory import InventoryQuery, ManagedCertificate, Source, assess
from chalicelib.domain.targets import encode_cursor
from chalicelib.domain.tokens import Principal
from chalicelib.errors import InvalidRequestError
from chalicelib.services.alerting import Alerter
from chalicelib.services.scanning import InventoryService
from tests.support.fakes import InMemoryStore, RecordingPublisher

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
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
    alerter = Alerter(store, RecordingPublisher(), lambda: NOW)
    return InventoryService(store, alerter, lambda: NOW, sources=list, acm=lambda: pytest.fail("no ACM here"))


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
    with pytest.raises(InvalidRequestError) as caught:
        inventory.rows(ADMIN, team="ops", query=InventoryQuery(), limit=3, cursor=cursor)

    assert (caught.value.field, caught.value.code) == ("cursor", "invalid_cursor")
