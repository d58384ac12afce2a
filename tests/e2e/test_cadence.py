"""Renewal cadence through the API: real TLS servers renew their certificates while the clock moves.

Two endpoints of one team are checked through ``POST /targets/{id}/check``; between checks the
test moves a clock and swaps the certificate each server serves, as a renewal does. One team
renews every 90 days (not ready for 100-day certificates), the other every 60 (ready for 100,
not for 47). ``GET /targets/{id}`` shows each endpoint's cadence; ``GET /certificates`` the
readiness summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client

from chalicelib import deps
from chalicelib.checks.resolver import SystemResolver
from chalicelib.deps import Container
from chalicelib.domain.tokens import issue
from chalicelib.settings import Settings
from lab.certs import Issued, make_cert
from lab.servers import TlsServer, server_context
from tests.support.api import Api, NoEndpoints, client_transport
from tests.support.fakes import Clock, InMemoryStore, RecordingCheckQueue, RecordingPublisher
from tests.support.net import no_dns
from tests.support.pki import Pki

START = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)  # 180 days later is still before 15 March 2027
SLOW, BRISK = "slow.cadence.test", "brisk.cadence.test"


def _leaf(pki: Pki, name: str, issued: datetime) -> Issued:
    """A 100-day certificate, issued an hour before it is first served."""
    return make_cert(
        name, issuer=pki.intermediate, not_before=issued - timedelta(hours=1), not_after=issued + timedelta(days=100)
    )


@pytest.fixture
def world(pki: Pki, client: Client) -> Iterator[tuple[Api, Clock, dict[str, TlsServer]]]:
    clock = Clock(START)
    servers = {name: TlsServer([_leaf(pki, name, START), pki.intermediate]).start() for name in (SLOW, BRISK)}
    store = InMemoryStore()
    container = Container(
        Settings.for_stage("local", allow_cidrs="127.0.0.0/8", check_timeout=3.0),
        clock=clock.now,
        store=store,
        queue=RecordingCheckQueue(),
        trust=pki.trust,
        resolver=SystemResolver({name: ["127.0.0.1"] for name in servers}, lookup=no_dns),
        publisher=RecordingPublisher(),
        certificate_sources=list,
        discoverer=NoEndpoints,
    )
    deps.use(container)
    token, record = issue("web", admin=False, now=START, name="cadence")
    store.put_token(record)
    try:
        yield Api(client_transport(client), token), clock, servers
    finally:
        deps.use(None)
        if "engine" in container.__dict__:
            container.engine.close()
        for server in servers.values():
            server.stop()


def _renew(pki: Pki, server: TlsServer, name: str, now: datetime) -> None:
    leaf = _leaf(pki, name, now)
    server.context = server_context([leaf, pki.intermediate], leaf.key)


def test_the_api_shows_each_endpoints_cadence_and_the_inventory_its_readiness(
    pki: Pki, world: tuple[Api, Clock, dict[str, TlsServer]]
) -> None:
    api, clock, servers = world
    ids = {name: api.register(f"tls://{name}:{server.port}")["id"] for name, server in servers.items()}

    def check(name: str) -> dict[str, object]:
        reply = api.post(f"/targets/{ids[name]}/check")
        assert reply.status == 200, reply
        result = reply.body["result"]
        assert isinstance(result, dict)
        return result

    for name in servers:
        cadence = check(name)["cadence"]
        assert isinstance(cadence, dict)
        assert (cadence["certificates_seen"], cadence["renewals"]) == (1, [])
    # Three renewals 60 days apart for one, two 90 days apart for the other.
    for day in (60, 90, 120, 180):
        clock.advance(START + timedelta(days=day) - clock.now())
        if day in (60, 120, 180):
            _renew(pki, servers[BRISK], BRISK, clock.now())
            check(BRISK)
        if day in (90, 180):
            _renew(pki, servers[SLOW], SLOW, clock.now())
            check(SLOW)

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
