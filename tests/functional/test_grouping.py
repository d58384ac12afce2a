"""One event per certificate: forty endpoints serving one wildcard certificate are told about as one.

Real TLS servers on 127.0.0.1 serve the certificate to every name (pinned, never real DNS); the
pipeline is the real checker, alerter and worker on the in-memory store; every event the
publisher takes is then handed to the Slack relay and the webhook relay (generic, PagerDuty,
Teams), as the alerts topic would, so each channel's count is what a person would get.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from chalicelib.domain.teams import TeamSettings
from lab.certs import make_cert
from tests.functional.helpers import (
    DAY,
    DOMAIN,
    NOW,
    TEAM,
    Engines,
    Servers,
    World,
    alert_world,
    renew,
    serve,
    wildcard,
)
from tests.support.pki import Pki


@pytest.fixture
def world(engines: Engines, pki: Pki) -> World:
    return alert_world(engines, pki)


def names(document: dict[str, Any]) -> set[str]:
    return {e["target"] for e in document["endpoints"]}


def test_forty_endpoints_of_one_certificate_are_one_event_per_threshold_in_every_channel(
    world: World, servers: Servers, pki: Pki
) -> None:
    leaf = wildcard(pki, NOW + 20 * DAY)
    first, second = serve(servers, pki, leaf), serve(servers, pki, leaf)
    forty = world.register(first, 38) + world.register(second, 2)
    world.check(forty)  # 20 days left: the 30-day threshold, once for the team
    (at_30,) = world.events("certificate.expiring")
    assert at_30["threshold_days"] == 30

    world.clock.advance(7 * DAY)  # 13 days left: across the 14-day threshold
    world.check(forty)

    (at_14,) = [d for d in world.events("certificate.expiring") if d["threshold_days"] == 14]
    assert names(at_14) == {str(t.endpoint) for t in forty}
    assert at_14["id"] == f"{TEAM}:{leaf.fingerprint}:expiring:14"
    assert at_14["summary"] == "certificate expires in 13 days (2026-12-17)"
    assert len(world.publisher.documents) == 2, "email (SNS): one event per threshold, not one per endpoint"
    assert len(world.slack.posted) == 2
    assert set(world.posted().values()) == {2}, "each webhook: generic, PagerDuty, Teams"
    slack = json.dumps(world.slack.posted[-1])
    assert f"*.{DOMAIN} (40 endpoints)" in slack
    assert "40: " in slack

    # A 41st endpoint serving the same certificate: no event of its own, and named in the next one.
    (late,) = world.register(second, 1)
    world.check([late])
    assert len(world.publisher.documents) == 2
    world.clock.advance(7 * DAY)  # 6 days left: the 7-day threshold
    world.check([*forty, late])
    (at_7,) = [d for d in world.events("certificate.expiring") if d["threshold_days"] == 7]
    assert names(at_7) == {str(t.endpoint) for t in [*forty, late]}
    assert at_7["severity"] == "critical"

    # Renewed where 39 endpoints are, not yet on the other two: no all-clear while one still serves it.
    new_leaf = wildcard(pki, NOW + 100 * DAY)
    renew(first, pki, new_leaf)
    world.check([*forty, late])
    assert world.events("certificate.renewed") == []
    world.clock.advance(4 * DAY)  # 2 days left for the old one: the 3-day threshold, naming who still serves it
    world.check([*forty, late])
    (at_3,) = [d for d in world.events("certificate.expiring") if d["threshold_days"] == 3]
    assert names(at_3) == {str(t.endpoint) for t in [*forty[38:], late]}

    renew(second, pki, new_leaf)
    world.check([*forty, late])
    (renewed,) = world.events("certificate.renewed")
    assert renewed["previous_fingerprint"] == leaf.fingerprint
    assert names(renewed) == {str(t.endpoint) for t in [*forty, late]}
    assert Counter(d["type"] for d in world.publisher.documents) == {
        "certificate.expiring": 4,
        "certificate.renewed": 1,
    }
    assert set(world.posted().values()) == {5}


def test_a_team_that_turned_grouping_off_hears_of_each_endpoint(world: World, servers: Servers, pki: Pki) -> None:
    world.store.put_team_settings("ops", TeamSettings(group_by_certificate=False))
    server = serve(servers, pki, wildcard(pki, NOW + 5 * DAY))
    targets = world.register(server, 3, team="ops")

    world.check(targets)

    expiring = world.events("certificate.expiring")
    assert sorted(d["target"]["id"] for d in expiring) == sorted(t.id for t in targets)
    assert all(len(d["endpoints"]) == 1 for d in expiring)
    assert all(d["id"].startswith(d["target"]["id"] + ":") for d in expiring)


def test_per_endpoint_problems_stay_per_endpoint(world: World, servers: Servers, pki: Pki) -> None:
    """A name the certificate does not cover is that endpoint's problem, even where the team groups."""
    leaf = make_cert("only.other.test", issuer=pki.intermediate, not_before=NOW - DAY, not_after=NOW + 80 * DAY)
    server = serve(servers, pki, leaf)
    targets = world.register(server, 2)

    world.check(targets)

    problems = world.events("certificate.problem")
    assert sorted(d["target"]["id"] for d in problems) == sorted(t.id for t in targets)
    assert [len(d["endpoints"]) for d in problems] == [1, 1]


def test_a_deleted_endpoint_is_no_holder_of_what_it_served(world: World, servers: Servers, pki: Pki) -> None:
    leaf = wildcard(pki, NOW + 20 * DAY)
    server = serve(servers, pki, leaf)
    kept, gone = world.register(server, 2)
    world.check([kept, gone])
    assert {h.id for h in world.store.certificate_holders(TEAM, leaf.fingerprint)} == {kept.id, gone.id}

    world.store.delete_target(TEAM, gone.id)

    assert {h.id for h in world.store.certificate_holders(TEAM, leaf.fingerprint)} == {kept.id}
