"""Webhooks end to end on moto: a checked certificate's event, through SNS, to the webhooks function and real receivers.

The data stack is deployed on moto; destinations are added as `certwatch webhook add` adds them
(SSM SecureStrings, the address policy asked first); targets are real TLS servers on loopback
checked by the checker function; what the alerts topic publishes is handed to the webhooks
function as SNS would (``lambda_.invoke``), and HTTP receivers on 127.0.0.1 judge what arrives:
the signature (README's own verify), PagerDuty's Events v2 shape, a valid Adaptive Card.
Waits between tries are recorded, not slept.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from chalice.test import Client

from certwatch.aws.cloudformation import deploy_stack
from certwatch.aws.destination_admin import SsmDestinationAdmin
from chalicelib import deps
from chalicelib.adapters.retrying import Retrier
from chalicelib.adapters.webhook import WebhookPoster
from chalicelib.checks.resolver import SystemResolver
from chalicelib.deps import Container
from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.webhooks import Destination, Format
from chalicelib.errors import ForbiddenAddressError, WebhookError
from chalicelib.services.webhooks import new_destination
from chalicelib.settings import Settings
from lab.servers import TlsServer
from tests.e2e.pipeline_helpers import Clock, Published, SwitchablePublisher
from tests.e2e.test_pipeline_aws import CREDENTIALS, Aws, Pipeline, chain_for, target
from tests.support.pki import Pki
from tests.support.webhooks import Receiver, Sleeps, pagerduty_shaped, signed_by, teams_shaped

STAGE = "hooks"
ROUTING_KEY = "R0UT1NGK3Y0123456789abcdefABCDEF"


class Dns:
    """getaddrinfo over a table the test changes: a name can move to another address between two lookups."""

    def __init__(self) -> None:
        self.table: dict[str, list[str]] = {}

    def lookup(self, host: str, port: int, *args: Any) -> list[Any]:
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in self.table[host]]


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    import boto3
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as patch:
        for name, value in CREDENTIALS.items():
            patch.setenv(name, value)
        with mock_aws():
            cloudformation = boto3.client("cloudformation")
            outputs = deploy_stack(cloudformation, STAGE)
            yield Aws(cloudformation, boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("sns"), outputs)


@dataclass
class Hooks(Pipeline):
    """The pipeline of test_pipeline_aws, plus webhook destinations, their receivers and the webhooks function."""

    pki: Any = None
    dns: Dns = field(default_factory=Dns)
    sleeps: Sleeps = field(default_factory=Sleeps)
    added: list[Destination] = field(default_factory=list)

    def add(self, url: str, **options: Any) -> Destination:
        """A destination added as `certwatch webhook add` adds it (the same address policy, asked first)."""
        destination = new_destination(url, vet=self.container.webhook_poster.addresses, now=self.clock(), **options)
        self.admin.add(destination)
        self.added.append(destination)
        return destination

    @property
    def admin(self) -> SsmDestinationAdmin:
        return SsmDestinationAdmin(self.container.ssm, self.container.settings.webhook_path)

    def serve_name(self, name: str, **chain: Any) -> TlsServer:
        self.dns.table[name] = ["127.0.0.1"]
        return self.serve(chain_for(self.pki, name, **chain))

    def deliver(self, event: Published) -> None:
        """The webhooks function invoked with the event, as the alerts topic invokes it."""
        sns = self.client.events.generate_sns_event(message=json.dumps(event.document), subject="x")
        self.client.lambda_.invoke("webhooks", sns)


@pytest.fixture
def hooks(client: Client, aws: Aws, pki: Pki) -> Iterator[Hooks]:
    clock = Clock()
    settings = Settings.for_stage(
        STAGE,
        allow_cidrs="127.0.0.0/8",
        topic_arn=aws.outputs["AlertsTopicArn"],
        check_queue_url=aws.outputs["CheckQueueUrl"],
        check_timeout=2,
    )
    dns, sleeps = Dns(), Sleeps()
    resolver = SystemResolver({}, lookup=dns.lookup)
    poster = WebhookPoster(
        resolver.resolve, AddressPolicy.from_text(settings.allow_cidrs), retrier=Retrier(attempts=4, sleep=sleeps)
    )
    publisher = SwitchablePublisher(aws.sns, aws.outputs["AlertsTopicArn"])
    container = Container(
        settings, clock=clock, trust=pki.trust, resolver=resolver, publisher=publisher, webhook_poster=poster
    )
    deps.use(container)
    with contextlib.ExitStack() as servers:
        built = Hooks(client, aws, container, clock, publisher, servers, dns=dns, sleeps=sleeps, pki=pki)
        try:
            yield built
        finally:
            for destination in built.added:  # the SSM of the module's stack outlives the test
                built.admin.remove(destination.id)
            deps.use(None)
            if "engine" in container.__dict__:
                container.engine.close()
            resolver.close()


def expiring_event(hooks: Hooks, team: str, name: str) -> tuple[Published, dict[str, Any]]:
    """Register ``name`` (5 days left) for ``team``, run the checker on its message: the event SNS published."""
    observer = hooks.observe(team)
    created = hooks.register(team, target(name, hooks.serve_name(name, days_left=5)))
    hooks.check(hooks.records(hooks.queued(team)))
    (event,) = observer.take()
    assert event.type == "certificate.expiring"
    return event, created


# --- generic: signed, once -------------------------------------------------------------------------------


def test_a_generic_receiver_gets_each_event_once_signed_across_an_sqs_redelivery_and_an_outage(hooks: Hooks) -> None:
    team = "generic"
    name = "generic.webhooks.test"
    with Receiver() as receiver:
        destination = hooks.add(receiver.url(), team=team)
        receiver.judge = signed_by(destination.secret)
        observer = hooks.observe(team)
        created = hooks.register(team, target(name, hooks.serve_name(name, days_left=5)))
        records = hooks.records(hooks.queued(team))
        hooks.check(records)
        hooks.check(records)  # SQS redelivers the batch: nothing new is published
        (event,) = observer.take()

        receiver.answer(503)  # the receiver is down for a moment: 503, then 200
        hooks.deliver(event)
        hooks.deliver(event)  # SNS delivers at least once; Lambda may retry

    (delivery,) = receiver.accepted
    assert len(receiver.requests) == 2
    assert receiver.problems == []  # every request, the refused try's too, carries a valid signature
    assert delivery.json() == event.document
    assert delivery.json()["target"]["id"] == created["id"]
    assert delivery.headers["content-type"] == "application/json"
    assert hooks.sleeps.waits == [1.0]


def test_a_longer_outage_fails_the_function_and_its_retry_delivers_once(hooks: Hooks) -> None:
    team = "outage"
    with Receiver() as down, Receiver() as up:
        flaky = hooks.add(down.url(), team=team)
        steady = hooks.add(up.url(), team=team)
        down.judge, up.judge = signed_by(flaky.secret), signed_by(steady.secret)
        event, _ = expiring_event(hooks, team, "outage.webhooks.test")
        down.answer(*[503] * 4)  # every try of the first invocation

        with pytest.raises(WebhookError, match=f"1 of 2 webhook.s. did not take event .*{flaky.id}"):
            hooks.deliver(event)  # in AWS: Lambda retries it twice, then the notify dead-letter queue
        assert (len(down.accepted), len(up.accepted)) == (0, 1)
        hooks.deliver(event)  # Lambda's retry: only the destination that missed it
        hooks.deliver(event)

    assert (len(down.requests), len(down.accepted)) == (5, 1)
    assert (len(up.requests), len(up.accepted)) == (1, 1)
    assert down.problems == up.problems == []
    assert hooks.sleeps.waits == [1.0, 2.0, 4.0]


def test_a_429_with_retry_after_is_honoured(hooks: Hooks) -> None:
    team = "throttled"
    with Receiver() as receiver:
        destination = hooks.add(receiver.url(), team=team)
        receiver.judge = signed_by(destination.secret)
        event, _ = expiring_event(hooks, team, "throttled.webhooks.test")
        receiver.answer((429, {"Retry-After": "12"}))

        hooks.deliver(event)

        assert hooks.sleeps.waits == [12.0]
        assert len(receiver.requests) == 2
        assert len(receiver.accepted) == 1
        first, second = receiver.requests
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert receiver.problems == []


# --- PagerDuty: trigger, then the renewal resolves it -------------------------------------------------------


def test_pagerduty_is_triggered_by_expiry_and_resolved_by_the_renewal(hooks: Hooks) -> None:
    team = "pager"
    name = "pager.webhooks.test"
    with Receiver(judge=pagerduty_shaped, ok=202) as pagerduty:
        hooks.add(pagerduty.url("/v2/enqueue"), format=Format.PAGERDUTY, routing_key=ROUTING_KEY, team=team)
        observer = hooks.observe(team)
        old = hooks.serve_name(name, days_left=5)
        created = hooks.register(team, target(name, old))
        hooks.check(hooks.records(hooks.queued(team)))
        (expiring,) = observer.take()
        hooks.deliver(expiring)

        old.stop()
        hooks.serve(chain_for(hooks.pki, name), port=old.port)  # renewed: 90 days
        hooks.check_again(team, created["id"])
        (renewed,) = observer.take()
        assert renewed.type == "certificate.renewed"
        hooks.deliver(renewed)

    assert pagerduty.problems == []
    trigger, resolve = (d.json() for d in pagerduty.accepted)
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert (
        trigger["dedup_key"]
        == resolve["dedup_key"]
        == f"{team}:{expiring.document['certificate']['fingerprint_sha256']}"  # the team's certificate
    )
    assert trigger["routing_key"] == resolve["routing_key"] == ROUTING_KEY
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == f"{name}:{old.port}"


# --- Teams: a valid Adaptive Card -----------------------------------------------------------------------------


def test_a_teams_receiver_gets_a_valid_adaptive_card(hooks: Hooks) -> None:
    team = "teams"
    with Receiver(judge=teams_shaped, ok=202) as teams:
        hooks.add(teams.url("/workflows/abc/triggers/manual/paths/invoke?sig=s3cret"), format=Format.TEAMS, team=team)
        event, _ = expiring_event(hooks, team, "teams.webhooks.test")
        hooks.deliver(event)
    assert teams.problems == []
    (delivery,) = teams.accepted
    card = delivery.json()["attachments"][0]["content"]
    text = json.dumps(card)
    assert "teams.webhooks.test" in text
    assert "Days left: " in text


# --- no SSRF ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["https://169.254.169.254/latest/meta-data/", "https://10.0.0.1/hook", "https://10.255.255.254:8443/hook"],
)
def test_a_destination_on_a_forbidden_address_is_refused_at_registration(hooks: Hooks, url: str) -> None:
    with pytest.raises(ForbiddenAddressError):
        hooks.add(url)
    assert hooks.admin.destinations() == []


def test_a_destination_whose_name_later_resolves_to_a_forbidden_address_is_refused_at_delivery(hooks: Hooks) -> None:
    team = "rebind"
    with Receiver() as receiver:
        hooks.dns.table["hooks.rebind.test"] = ["127.0.0.1"]
        hooks.add(receiver.url(host="hooks.rebind.test"), team=team)  # accepted: it resolves to an allowed address
        event, _ = expiring_event(hooks, team, "rebind.webhooks.test")
        for forbidden in ("169.254.169.254", "10.0.0.7"):
            hooks.dns.table["hooks.rebind.test"] = [forbidden]
            with pytest.raises(WebhookError, match="did not take event"):
                hooks.deliver(event)
        assert receiver.requests == []  # nothing was sent anywhere
        assert hooks.sleeps.waits == []  # refused at once, not retried

        hooks.dns.table["hooks.rebind.test"] = ["127.0.0.1"]  # back where it was: the claim was released
        hooks.deliver(event)
        assert len(receiver.accepted) == 1
