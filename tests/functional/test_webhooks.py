"""The webhook adapters against real receivers on loopback and moto: posting, SSRF, delivery records, SSM.

Then the relay with those adapters' fakes: filters before sending, once per destination,
failures named and retried.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import socket
import ssl
import traceback
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import boto3
import pytest
from moto import mock_aws

from certwatch.aws.destination_admin import SsmDestinationAdmin
from chalicelib.adapters.destinations import SsmDestinations, destination_to_json
from chalicelib.adapters.dynamo.deliveries import DynamoDeliveryLog
from chalicelib.adapters.retrying import Retrier
from chalicelib.adapters.webhook import WebhookPoster
from chalicelib.checks.resolver import SystemResolver
from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.alerts import EventType
from chalicelib.domain.models import Severity
from chalicelib.domain.webhooks import Claim, Destination, Format, WebhookUrl, parse_url
from chalicelib.errors import CertwatchError, ForbiddenAddressError, NotFoundError, WebhookError
from chalicelib.services.ports import DeliveryLog
from chalicelib.services.webhooks import (
    CLAIM_LEASE,
    WebhookRelay,
    new_destination,
)
from lab.certs import make_cert
from lab.servers import server_context
from tests.support.events import event_data
from tests.support.fakes import InMemoryDeliveryLog, InMemoryDestinations, RecordingWebhookPoster
from tests.support.net import closed_port, no_dns
from tests.support.pki import Pki
from tests.support.webhooks import Receiver, Sleeps

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LOOPBACK = AddressPolicy.from_text("127.0.0.0/8,::1/128")
HEADERS = {"Content-Type": "application/json"}
BODY = b'{"hello": "webhook"}'


def poster(
    sleeps: Sleeps,
    *,
    policy: AddressPolicy = LOOPBACK,
    pins: Mapping[str, list[str]] | None = None,
    attempts: int = 4,
    timeout: float = 2.0,
    tls: ssl.SSLContext | None = None,
) -> WebhookPoster:
    resolver = SystemResolver(pins or {}, lookup=no_dns)
    return WebhookPoster(
        resolver.resolve,
        policy,
        retrier=Retrier(attempts=attempts, sleep=sleeps),
        timeout=timeout,
        tls=None if tls is None else (lambda: tls),
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def post(hook: WebhookPoster, url: str, body: bytes = BODY) -> None:
    hook.post(parse_url(url), body, lambda: HEADERS, who="wh_000000000001")


# --- posting ---------------------------------------------------------------------------------------


def test_delivers_the_body_with_the_headers_of_the_try(receiver: Receiver, sleeps: Sleeps) -> None:
    tries = iter(range(1, 10))
    receiver.answer(503)
    poster(sleeps).post(
        parse_url(receiver.url()), BODY, lambda: {**HEADERS, "X-Try": str(next(tries))}, who="wh_000000000001"
    )
    first, second = receiver.requests
    assert (first.headers["x-try"], second.headers["x-try"]) == ("1", "2")  # signed again for each try
    assert second.path == "/hooks/s3cret-path?token=s3cret-query"
    assert second.body == BODY
    assert receiver.accepted == [second]
    assert sleeps.waits == [1.0]


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_on_429_and_5xx(receiver: Receiver, sleeps: Sleeps, status: int) -> None:
    receiver.answer((status, {"Retry-After": "7"}), 200)
    post(poster(sleeps), receiver.url())
    assert len(receiver.accepted) == 1
    assert sleeps.waits == [7.0]


def test_retry_after_is_capped_and_server_errors_back_off(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.answer((429, {"Retry-After": "3600"}), 500, 502, 200)
    post(poster(sleeps), receiver.url())
    assert sleeps.waits == [30.0, 2.0, 4.0]
    assert len(receiver.requests) == 4


@pytest.mark.parametrize("status", [400, 401, 404, 410])
def test_a_refusal_fails_at_once(receiver: Receiver, sleeps: Sleeps, status: int) -> None:
    receiver.answer(status)
    with pytest.raises(WebhookError, match=f"refused the event with HTTP {status}"):
        post(poster(sleeps), receiver.url())
    assert len(receiver.requests) == 1
    assert sleeps.waits == []


def test_a_redirect_is_not_followed(sleeps: Sleeps) -> None:
    with Receiver() as elsewhere, Receiver() as redirecting:
        redirecting.answer((302, {"Location": elsewhere.url("/else")}))
        with pytest.raises(WebhookError, match=r"HTTP 302 .a redirect; redirects are not followed"):
            post(poster(sleeps), redirecting.url())
        assert elsewhere.requests == []
        assert len(redirecting.requests) == 1


def test_persistent_failure_names_the_attempts(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.answer(*[503] * 10)
    with pytest.raises(WebhookError, match=r"after 4 attempts \(last: HTTP 503\)"):
        post(poster(sleeps), receiver.url())
    assert sleeps.waits == [1.0, 2.0, 4.0]


def test_a_refused_connection_is_retried_then_says_nothing_listens(
    sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    """`certwatch webhook test` with nothing listening once said "answered ConnectionRefusedError"."""
    refused = "could not connect to http://127.0.0.1:{port}/…: connection refused (is the receiver running?)"
    with closed_port() as port, pytest.raises(WebhookError) as raised:
        post(poster(sleeps, attempts=3), f"http://127.0.0.1:{port}/hook")

    assert str(raised.value) == f"webhook wh_000000000001: {refused.format(port=port)}; gave up after 3 attempts"
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retries == [
        f"webhook wh_000000000001: {refused.format(port=port)}; retrying in 1.0s (attempt 1)",
        f"webhook wh_000000000001: {refused.format(port=port)}; retrying in 2.0s (attempt 2)",
    ]


def test_a_receiver_that_never_answers_times_out(sleeps: Sleeps) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (the backlog), never answers
        port = silent.getsockname()[1]
        with pytest.raises(WebhookError) as raised:
            post(poster(sleeps, attempts=2, timeout=0.3), f"http://127.0.0.1:{port}/hook")
    assert str(raised.value) == (
        f"webhook wh_000000000001: no answer from http://127.0.0.1:{port}/… within 0.3s "
        "(is the receiver up, and reachable from here?); gave up after 2 attempts"
    )


def test_https_goes_to_the_checked_address_and_verifies_the_name(pki: Pki, sleeps: Sleeps) -> None:
    chain = [make_cert("hooks.webhook.test", issuer=pki.intermediate), pki.intermediate]
    client = ssl.create_default_context(cadata=pki.root.pem.decode())
    with Receiver(tls=server_context(chain, chain[0].key)) as secure:
        hook = poster(sleeps, pins={"hooks.webhook.test": ["127.0.0.1"]}, tls=client)
        post(hook, secure.url(host="hooks.webhook.test"))
        (delivery,) = secure.accepted
        assert delivery.headers["host"] == f"hooks.webhook.test:{secure.port}"
        other = poster(sleeps, pins={"other.webhook.test": ["127.0.0.1"]}, tls=client)
        with pytest.raises(WebhookError) as refused:
            post(other, secure.url(host="other.webhook.test"))
        assert str(refused.value).startswith(
            f"webhook wh_000000000001: the TLS certificate of https://other.webhook.test:{secure.port}/… is refused: "
        )
        assert len(secure.accepted) == 1


# --- no SSRF --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "pins", "reason"),
    [
        ("https://169.254.169.254/latest/meta-data/", {}, "link-local"),
        ("https://10.1.2.3/hook", {}, "private"),
        ("https://metadata.webhook.test/hook", {"metadata.webhook.test": ["169.254.169.254"]}, "link-local"),
        ("https://intranet.webhook.test/hook", {"intranet.webhook.test": ["10.0.0.7"]}, "private"),
        ("https://mixed.webhook.test/hook", {"mixed.webhook.test": ["8.8.8.8", "10.0.0.7"]}, "private"),
        ("https://[::ffff:169.254.169.254]/hook", {}, "link-local"),
    ],
)
def test_a_forbidden_address_is_refused_before_any_connection(
    sleeps: Sleeps, url: str, pins: dict[str, list[str]], reason: str
) -> None:
    hook = poster(sleeps, policy=AddressPolicy(), pins=pins)
    with pytest.raises(ForbiddenAddressError, match=reason):
        hook.addresses(parse_url(url))
    with pytest.raises(ForbiddenAddressError, match=reason):
        post(hook, url)
    assert sleeps.waits == []  # refused once, not retried


def test_loopback_is_refused_unless_allowed(receiver: Receiver, sleeps: Sleeps) -> None:
    with pytest.raises(ForbiddenAddressError, match="loopback"):
        post(poster(sleeps, policy=AddressPolicy()), receiver.url())
    assert receiver.requests == []


def test_allow_cidrs_opens_an_internal_network_but_plain_http_stays_on_this_machine(sleeps: Sleeps) -> None:
    internal = AddressPolicy.from_text("10.0.0.0/8")
    hook = poster(sleeps, policy=internal, pins={"intranet.webhook.test": ["10.0.0.7"]})
    assert hook.addresses(parse_url("https://intranet.webhook.test/hook")) == ["10.0.0.7"]
    with pytest.raises(WebhookError, match="plain http is allowed only to a loopback address"):
        hook.addresses(parse_url("http://intranet.webhook.test/hook"))
    with pytest.raises(WebhookError, match="plain http"):
        post(hook, "http://intranet.webhook.test/hook")


def test_a_name_that_no_longer_resolves_is_retried_then_fails(sleeps: Sleeps) -> None:
    with pytest.raises(WebhookError) as raised:
        post(poster(sleeps, attempts=2), "https://gone.webhook.test/hook")
    assert str(raised.value) == (
        "webhook wh_000000000001: cannot resolve gone.webhook.test: Name or service not known "
        "(is the host name in the URL right?); gave up after 2 attempts"
    )


def test_the_url_and_its_secrets_never_reach_a_log_or_an_error(
    receiver: Receiver, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[CertwatchError] = []
    with closed_port() as port:
        scenarios: list[tuple[str, list[int | tuple[int, dict[str, str]]]]] = [
            (receiver.url(), [(429, {"Retry-After": "1"}), 200]),
            (receiver.url(), [503, 503, 503, 503]),
            (receiver.url(), [404]),
            (receiver.url(), [(301, {"Location": "https://evil.example/s3cret"})]),
            (f"http://127.0.0.1:{port}/s3cret-path?token=s3cret-query", []),
            ("http://s3cret.webhook.test/s3cret", []),
        ]
        for url, script in scenarios:
            receiver.answer(*script)
            try:
                post(poster(sleeps), url)
            except CertwatchError as exc:
                errors.append(exc)
    assert len(errors) == 5
    assert any(r.levelno == logging.WARNING for r in caplog.records), "the retries are logged"
    assert "s3cret" not in caplog.text.replace("s3cret.webhook.test", "")
    for error in errors:
        shown = "".join(traceback.format_exception(error)).replace("s3cret.webhook.test", "")
        assert "s3cret" not in shown, shown


# --- delivery records: one contract, the fake and DynamoDB ---------------------------------------------------


def _table(client: DynamoDBClient, name: str) -> None:
    keys: list[tuple[str, Literal["HASH", "RANGE"]]] = [("pk", "HASH"), ("sk", "RANGE")]
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
    )


@pytest.fixture(params=["memory", "dynamodb"])
def log(request: pytest.FixtureRequest) -> Iterator[DeliveryLog]:
    if request.param == "memory":
        yield InMemoryDeliveryLog()
        return
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName="certwatch-test",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        yield DynamoDeliveryLog(client, "certwatch-test")


def test_a_delivery_is_claimed_once_and_delivered_once(log: DeliveryLog, now: datetime) -> None:
    until = now + CLAIM_LEASE
    assert log.claim("wh_000000000001", "k", now, until) is Claim.CLAIMED
    assert log.claim("wh_000000000001", "k", now, until) is Claim.BUSY
    assert log.claim("wh_000000000002", "k", now, until) is Claim.CLAIMED  # another destination
    log.delivered("wh_000000000001", "k", now)
    assert log.claim("wh_000000000001", "k", now + timedelta(days=1), until) is Claim.DELIVERED
    log.release("wh_000000000001", "k", now)  # too late: it stays delivered
    assert log.claim("wh_000000000001", "k", now + timedelta(days=1), until) is Claim.DELIVERED


def test_a_released_or_lapsed_claim_can_be_claimed_again(log: DeliveryLog, now: datetime) -> None:
    assert log.claim("wh_000000000001", "a", now, now + CLAIM_LEASE) is Claim.CLAIMED
    log.release("wh_000000000001", "a", now + timedelta(seconds=1))
    assert log.claim("wh_000000000001", "a", now + timedelta(seconds=2), now + CLAIM_LEASE) is Claim.CLAIMED

    assert log.claim("wh_000000000001", "b", now, now + CLAIM_LEASE) is Claim.CLAIMED  # its holder died
    assert log.claim("wh_000000000001", "b", now + CLAIM_LEASE - timedelta(seconds=1), now) is Claim.BUSY
    later = now + CLAIM_LEASE + timedelta(seconds=1)
    assert log.claim("wh_000000000001", "b", later, later + CLAIM_LEASE) is Claim.CLAIMED


def test_racing_claims_let_exactly_one_through(log: DeliveryLog, now: datetime) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        claims = list(pool.map(lambda _: log.claim("wh_000000000001", "race", now, now + CLAIM_LEASE), range(16)))
    assert claims.count(Claim.CLAIMED) == 1
    assert claims.count(Claim.BUSY) == 15


def test_delivery_records_expire_a_month_later() -> None:
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        at = datetime(2026, 11, 27, tzinfo=UTC)
        DynamoDeliveryLog(client, "t").claim("wh_000000000001", "tg_x:ab:expiring:7", at, at + CLAIM_LEASE)
        (item,) = client.scan(TableName="t")["Items"]
    assert item["pk"] == {"S": "WEBHOOK#wh_000000000001"}
    assert item["sk"] == {"S": "D#tg_x:ab:expiring:7"}
    assert int(item["expires_at"]["N"]) == int((at + timedelta(days=30)).timestamp())


# --- destinations in SSM -----------------------------------------------------------------------------------


def _destination(url: str = "https://hooks.example.com/s3cret", **kwargs: Any) -> Destination:
    return new_destination(url, vet=lambda found: [], now=datetime(2026, 11, 27, tzinfo=UTC), **kwargs)


def test_destinations_are_secure_strings_read_back_whole(caplog: pytest.LogCaptureFixture) -> None:
    with mock_aws():
        ssm = boto3.client("ssm")
        admin = SsmDestinationAdmin(ssm, "/certwatch/test/webhooks")
        generic = _destination(team="web", min_severity="warning", types=["certificate.expiring"])
        pager = _destination("https://events.pagerduty.com/v2/enqueue", format=Format.PAGERDUTY, routing_key="R" * 32)
        name = admin.add(generic)
        admin.add(pager)
        ssm.put_parameter(Name="/certwatch/test/webhooks/wh_0000000000ff", Value="{not json", Type="SecureString")
        stored = ssm.get_parameter(Name=name)["Parameter"]

        with caplog.at_level(logging.ERROR):
            found = SsmDestinations(ssm, "/certwatch/test/webhooks").destinations()
        assert {d.id: d for d in found} == {generic.id: generic, pager.id: pager}
        assert stored["Type"] == "SecureString"
        assert stored["Value"] != destination_to_json(generic)  # read back only with decryption (KMS)
        assert "wh_0000000000ff" in caplog.text  # the unreadable one is named, and skipped

        admin.remove(pager.id)
        assert [d.id for d in admin.destinations()] == [generic.id]
        with pytest.raises(NotFoundError, match="no webhook 'wh_000000000abc'"):
            admin.remove("wh_000000000abc")


def test_destinations_are_read_once_a_minute_at_most() -> None:
    with mock_aws():
        ssm = boto3.client("ssm")
        clock = [0.0]
        reader = SsmDestinations(ssm, "/certwatch/test/webhooks", clock=lambda: clock[0])
        assert reader.destinations() == []
        SsmDestinationAdmin(ssm, "/certwatch/test/webhooks").add(_destination())
        clock[0] = 59.0
        assert reader.destinations() == []
        clock[0] = 61.0
        assert len(reader.destinations()) == 1


def test_the_stored_json_round_trips() -> None:
    destination = _destination(team="web", types=["certificate.expiring", "certificate.renewed"])
    text = destination_to_json(destination)
    assert json.loads(text)["types"] == ["certificate.expiring", "certificate.renewed"]


# --- the relay ---------------------------------------------------------------------------------------------


def _event(type: str = "certificate.expiring", severity: str = "critical", team: str = "web") -> str:
    key = f"tg_0000000000aa1b2c3d4e:{'ab' * 32}:{'expiring:7' if type.endswith('expiring') else 'x'}"
    return json.dumps(event_data(type, key, severity, team=team))


@contextlib.contextmanager
def relay_of(*destinations: Destination) -> Iterator[tuple[WebhookRelay, RecordingWebhookPoster, InMemoryDeliveryLog]]:
    at = datetime(2026, 11, 27, 12, tzinfo=UTC)
    recorder, log = RecordingWebhookPoster(lambda: at), InMemoryDeliveryLog()
    yield WebhookRelay(InMemoryDestinations(destinations), log, recorder, lambda: at), recorder, log


def test_each_destination_gets_an_event_once_in_its_format_after_its_filters() -> None:
    generic = _destination(team="web")
    teams = _destination("https://teams.example/workflow", format=Format.TEAMS)
    other_team = _destination(team="api")
    quiet = _destination(min_severity="critical", types=["endpoint.unreachable"])
    with relay_of(generic, teams, other_team, quiet) as (relay, recorder, _):
        report = relay.deliver(_event())
        again = relay.deliver(_event())  # SNS delivers at least once
    assert sorted(report.delivered) == sorted([generic.id, teams.id])
    assert report.filtered == 2
    assert sorted(again.already) == sorted([generic.id, teams.id])
    assert again.delivered == ()
    by_id = {who: (json.loads(body), headers) for who, body, headers in recorder.sent}
    assert len(recorder.sent) == 2
    assert by_id[generic.id][0]["type"] == "certificate.expiring"
    assert by_id[generic.id][1]["webhook-signature"].startswith("v1,")
    assert by_id[teams.id][0]["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "webhook-signature" not in by_id[teams.id][1]


def test_the_signature_of_a_generic_delivery_covers_id_timestamp_and_body() -> None:
    generic = _destination()
    with relay_of(generic) as (relay, recorder, _):
        relay.deliver(_event())
    ((_, body, headers),) = recorder.sent
    key = base64.b64decode(generic.secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()
    assert headers["webhook-timestamp"] == str(int(datetime(2026, 11, 27, 12, tzinfo=UTC).timestamp()))
    assert headers["webhook-id"].startswith("msg_")


def test_a_failing_destination_fails_the_event_after_the_others_and_alone_is_retried() -> None:
    good, bad = _destination(), _destination("https://down.example/hook")
    with relay_of(good, bad) as (relay, recorder, _):
        recorder.failing.add(bad.id)
        with pytest.raises(WebhookError, match=f"1 of 2 webhook.s. did not take event .*: {bad.id}"):
            relay.deliver(_event())
        assert [who for who, _, _ in recorder.sent] == [good.id]
        recorder.failing.clear()
        retried = relay.deliver(_event())  # Lambda's retry
    assert retried.delivered == (bad.id,)
    assert retried.already == (good.id,)
    assert [who for who, _, _ in recorder.sent] == [good.id, bad.id]


def test_the_tally_hears_deliveries_and_failures_by_format_before_the_error() -> None:
    good, teams, bad = (
        _destination(),
        _destination("https://teams.example/workflow", format=Format.TEAMS),
        _destination("https://down.example/hook"),
    )
    heard: list[tuple[dict[str, int], dict[str, int]]] = []

    def tally(delivered: Mapping[str, int], failed: Mapping[str, int]) -> None:
        heard.append((dict(delivered), dict(failed)))

    with relay_of(good, teams, bad) as (relay, recorder, _):
        recorder.failing.add(bad.id)
        with pytest.raises(WebhookError):
            relay.deliver(_event(), tally=tally)
        recorder.failing.clear()
        relay.deliver(_event(), tally=tally)  # Lambda's retry: those already served are not counted again

    assert heard == [({"generic": 1, "teams": 1}, {"generic": 1}), ({"generic": 1}, {})]


def test_an_unexpected_error_gives_the_claim_back_and_costs_no_other_destination() -> None:
    broken, good = _destination("https://broken.example/hook"), _destination()
    with relay_of(broken, good) as (relay, recorder, log):

        def explode(url: WebhookUrl, body: bytes, headers: Any, *, who: str) -> None:
            if who == broken.id:
                raise KeyError("s3cret")
            RecordingWebhookPoster.post(recorder, url, body, headers, who=who)

        recorder.post = explode  # type: ignore[method-assign]
        with pytest.raises(WebhookError, match=f"{broken.id} ") as failed:
            relay.deliver(_event())
        assert "s3cret" not in str(failed.value)
        assert [who for who, _, _ in recorder.sent] == [good.id]
        at = datetime(2026, 11, 27, 12, tzinfo=UTC)
        assert log.claim(broken.id, json.loads(_event())["id"], at, at + CLAIM_LEASE) is Claim.CLAIMED


def test_a_delivery_in_progress_elsewhere_fails_this_invocation() -> None:
    generic = _destination()
    with relay_of(generic) as (relay, recorder, log):
        at = datetime(2026, 11, 27, 12, tzinfo=UTC)
        key = json.loads(_event())["id"]
        assert log.claim(generic.id, key, at, at + CLAIM_LEASE) is Claim.CLAIMED
        with pytest.raises(WebhookError, match=generic.id):
            relay.deliver(_event())
    assert recorder.sent == []


def test_pagerduty_gets_no_reminder_and_nothing_is_sent_for_what_is_no_event() -> None:
    pager = _destination("https://events.pagerduty.com/v2/enqueue", format=Format.PAGERDUTY, routing_key="R" * 32)
    reminder = json.loads(_event(type="certificate.problem"))
    reminder["id"] = f"tg_0000000000aa1b2c3d4e:{'ab' * 32}:repeat:7"
    with relay_of(pager) as (relay, recorder, _):
        assert relay.deliver(json.dumps(reminder)).delivered == (pager.id,)
        assert relay.deliver("not json").delivered == ()
        assert relay.deliver(json.dumps({"version": 1})).delivered == ()
    assert recorder.sent == []


def test_destination_filters_use_event_types() -> None:
    assert _destination(types=["certificate.renewed"]).types == frozenset({EventType.RENEWED})
    assert _destination(min_severity="warning").min_severity is Severity.WARNING
