"""Renewal cadence through the API: real TLS servers renew their certificates while the clock moves.

Two endpoints of one team are checked through ``POST /targets/{id}/check``; between checks the
test moves a clock and swaps the certificate each server serves, as a renewal does. One team
renews every 90 days (not ready for 100-day certificates), the other every 60 (ready for 100,
not for 47). ``GET /targets/{id}`` shows each endpoint's cadence; ``GET /certificates`` the
readiness summary.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chalice.test import Client

from tests.support.api import Api, client_transport
from tests.support.cadence import BRISK, SLOW, Renewals, renewing_endpoints
from tests.support.pki import Pki


@pytest.fixture
def world(pki: Pki, client: Client) -> Iterator[tuple[Api, Renewals]]:
    with renewing_endpoints(pki) as renewals:
        yield Api(client_transport(client), renewals.token), renewals


def test_the_api_shows_each_endpoints_cadence_and_the_inventory_its_readiness(world: tuple[Api, Renewals]) -> None:
    api, renewals = world
    servers = renewals.servers
    ids = renewals.register(api)
    for target_id in ids.values():
        cadence = api.get(f"/targets/{target_id}").body["result"]["cadence"]
        assert (cadence["certificates_seen"], cadence["renewals"]) == (1, [])
    renewals.six_months(api, ids)

    slow = api.get(f"/targets/{ids[SLOW]}").body["result"]
    cadence = slow["cadence"]
    assert cadence["certificates_seen"] == 3
    assert [(r["days_since_previous_change"], r["age_days"], r["days_left"]) for r in cadence["renewals"]] == [
        (90, 90, 10),
        (90, 90, 10),
    ]
    assert cadence["ready_for_100_days"] is False
    assert cadence["next_step"] == {"since": "2027-03-15", "max_days": 100, "ready": False}
    at_risk = [f for f in slow["findings"] if f["code"] == "RENEWAL_CADENCE_AT_RISK"]
    assert [f["severity"] for f in at_risk] == ["warning"]
    assert "renewed when 90 days old" in at_risk[0]["message"]

    brisk = api.get(f"/targets/{ids[BRISK]}").body["result"]["cadence"]
    assert brisk["renewed_at_age_days"] == 60
    assert (brisk["ready_for_100_days"], brisk["ready_for_47_days"]) == (True, False)

    inventory = api.get("/certificates")
    assert inventory.status == 200, inventory
    assert inventory.body["readiness"] == {
        "endpoints_with_cadence": 2,
        "endpoints_without_renewal_seen": 0,
        "ready_for_100_days": 1,
        "ready_for_47_days": 0,
        "next_step": {"since": "2027-03-15", "max_days": 100},
        "not_ready_for_next_step": [f"tls://{SLOW}:{servers[SLOW].port}"],
    }
