"""Silences and maintenance windows on the real pipeline: every channel quiet, every event still recorded.

The pipeline of test_grouping (real TLS on loopback, the in-memory store, every channel
recording: email through the publisher, Slack, generic webhook, PagerDuty, Teams); the
silences are made as the API makes them (``Silencing``) and the events read back as ``GET
/events`` reads them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.silences import Match, SilenceRequest, WindowRequest
from chalicelib.domain.tokens import Principal
from chalicelib.services.silencing import Silencing
from tests.functional.helpers import DAY, NOW, TEAM, Engines, Servers, World, alert_world, renew, serve, wildcard
from tests.support.pki import Pki

ALICE = Principal(team=TEAM, admin=False, token_id="0123456789ab")
HOUR = timedelta(hours=1)


@pytest.fixture
def world(engines: Engines, pki: Pki) -> World:
    return alert_world(engines, pki)


@pytest.fixture
def silencing(world: World) -> Silencing:
    store = world.store
    return Silencing(targets=store, silences=store, outbox=store, clock=world.clock.now, max_days=30)


def told(world: World) -> int:
    """How many messages reached people: email (SNS), Slack and each webhook."""
    return len(world.publisher.documents) + len(world.slack.posted) + len(world.webhooks.sent)


def states(silencing: Silencing) -> list[tuple[str, str, str | None]]:
    return [(r.notification.event.type.value, r.state, r.notification.silenced_by) for r in silencing.events(TEAM)]


def test_a_silenced_certificate_reaches_no_channel_and_shows_as_silenced_until_its_renewal_ends_it(
    world: World, servers: Servers, pki: Pki, silencing: Silencing
) -> None:
    leaf = wildcard(pki, NOW + 20 * DAY)
    server = serve(servers, pki, leaf)
    targets = world.register(server, 3)
    quiet = silencing.silence(
        ALICE,
        TEAM,
        SilenceRequest(Match.CERTIFICATE, leaf.fingerprint, "renewal planned", NOW + 30 * DAY, True, "alice"),
    )

    world.check(targets)  # 20 days left: certificate.expiring at 30 days, for the team

    assert told(world) == 0, "no email, Slack or webhook"
    assert states(silencing) == [("certificate.expiring", "silenced", quiet.id)]

    renew(server, pki, wildcard(pki, NOW + 85 * DAY))
    world.clock.advance(HOUR)
    world.check(targets)

    (ended,) = silencing.silences(TEAM)
    assert ended.ended_at == NOW + HOUR, "the certificate it was made for is replaced: the silence ended"
    assert world.events("certificate.renewed")  # the all-clear is told
    assert told(world) == 5, [(d["type"], d["id"]) for d in world.publisher.documents]


def test_a_target_silenced_until_its_certificate_changes_is_heard_again_after_its_renewal(
    world: World, servers: Servers, pki: Pki, silencing: Silencing
) -> None:
    server = serve(servers, pki, wildcard(pki, NOW + 20 * DAY))
    (target,) = world.register(server, 1)
    world.check([target])  # the first check (an event told) gives the target a certificate to wait for
    baseline = told(world)
    ack = silencing.silence(ALICE, TEAM, SilenceRequest(Match.TARGET, target.id, "on it", NOW + 30 * DAY, True))
    assert ack.until_certificate_changes is not None

    world.clock.advance(7 * DAY)  # 13 days left: the 14-day threshold
    world.check([target])
    assert told(world) == baseline
    assert states(silencing)[0][1:] == ("silenced", ack.id)


def test_a_maintenance_window_quiets_its_period_and_no_more(
    world: World, servers: Servers, pki: Pki, silencing: Silencing
) -> None:
    server = serve(servers, pki, wildcard(pki, NOW + 20 * DAY))
    targets = world.register(server, 2)
    window = silencing.window(ALICE, TEAM, WindowRequest(NOW - HOUR, NOW + 8 * DAY, "the load balancer's upgrade"))

    world.check(targets)  # inside the window
    assert told(world) == 0
    assert states(silencing) == [("certificate.expiring", "silenced", window.id)]

    world.clock.advance(9 * DAY)  # 11 days left: the 14-day threshold, after the window
    world.check(targets)
    assert told(world) == 5
    assert [s for _, s, _ in states(silencing)] == ["published", "silenced"]


def test_a_certificate_still_served_a_day_after_it_expired_is_told_despite_a_label_silence(
    world: World, servers: Servers, pki: Pki, silencing: Silencing
) -> None:
    server = serve(servers, pki, wildcard(pki, NOW + 2 * HOUR))
    (target,) = world.register(server, 1, labels={"env": "prod"})
    quiet = silencing.silence(ALICE, TEAM, SilenceRequest(Match.LABEL, "env=prod", "prod freeze", NOW + 20 * DAY))

    world.check([target])  # 2 hours left
    world.clock.advance(3 * HOUR)
    world.check([target])  # expired an hour ago: the silence holds
    assert told(world) == 0

    world.clock.advance(DAY)
    world.check([target])  # still served a day later: told, whatever the label's silence says

    (still,) = [d for d in world.events("certificate.expired") if d["id"].endswith(":still-there")]
    assert still["severity"] == "critical"
    assert told(world) == 5
    assert [(s, by) for t, s, by in states(silencing) if t == "certificate.expired"] == [
        ("published", None),
        ("silenced", quiet.id),
    ]
