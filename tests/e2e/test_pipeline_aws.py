"""The event pipeline end to end on moto: API -> SQS -> checker -> DynamoDB -> outbox -> SNS, and the sweep.

Everything goes through ``chalice.test.Client`` (HTTP routes and ``lambda_.invoke`` of the event
handlers) against the real infra/template.yaml deployed on moto, with real loopback TLS servers.
What SNS publishes is observed on an SQS queue subscribed to the alerts topic (raw delivery,
filtered on the team attribute so each test sees its own events only).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from chalice.test import Client

from chalicelib import deps
from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.sqs import check_message
from chalicelib.checks.resolver import SystemResolver
from chalicelib.deps import Container
from chalicelib.domain.endpoints import endpoint_from_parts
from chalicelib.domain.targets import Target, TargetSpec
from chalicelib.domain.tokens import issue
from chalicelib.services.alerting import OUTBOX_GRACE
from chalicelib.settings import Settings
from lab.certs import Issued, make_ca, make_cert
from lab.servers import TlsServer
from tests.e2e.pipeline_helpers import (
    Clock,
    Observer,
    RecordingSqs,
    SlackReceiver,
    SwitchablePublisher,
    scheduled_event,
    slack_text,
    sqs_event,
    sqs_record,
)
from tests.support import contract
from tests.support.net import no_dns
from tests.support.pki import Pki

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

DAY = timedelta(days=1)
# Every name the loopback servers answer for; the checker's resolver pins them to 127.0.0.1.
NAMES = [
    "expiring.pipeline.test",
    "warning.pipeline.test",
    "expired.pipeline.test",
    "mismatch.pipeline.test",
    "selfsigned.pipeline.test",
    "flaky.pipeline.test",
    "renewing.pipeline.test",
    "redelivered.pipeline.test",
    "outage.pipeline.test",
    "slack.pipeline.test",
    *(f"good{i}.pipeline.test" for i in range(3)),
    *(f"t{i}.batch.pipeline.test" for i in range(25)),
]
PINS = {name: ["127.0.0.1"] for name in NAMES}
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class Aws:
    """moto with the data stack of stage ``test`` deployed, and clients to look into it."""

    cloudformation: CloudFormationClient
    dynamodb: DynamoDBClient
    sqs: SQSClient
    sns: SNSClient
    outputs: dict[str, str]


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    """infra/template.yaml deployed once on moto for the module (a deploy costs ~1.5 s)."""
    import boto3
    from moto import mock_aws

    from certwatch.aws.cloudformation import deploy_stack

    # The autouse credentials fixture is function-scoped: not active yet at module scope.
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CREDENTIALS.items():
            patch.setenv(name, value)
        with mock_aws():
            cloudformation = boto3.client("cloudformation")
            outputs = deploy_stack(cloudformation, "test")
            yield Aws(cloudformation, boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("sns"), outputs)


@dataclass
class Pipeline:
    """The app's container on moto, and the ways a test drives it: HTTP, the queue, the handlers."""

    client: Client
    aws: Aws
    container: Container
    clock: Clock
    publisher: SwitchablePublisher
    servers: contextlib.ExitStack
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def queue_arn(self) -> str:
        return self.aws.outputs["CheckQueueArn"]

    def token(self, team: str) -> str:
        if team not in self.tokens:
            token, record = issue(team, admin=False, now=datetime.now(UTC), name=f"pipeline {team}")
            self.container.store.put_token(record)
            self.tokens[team] = token
        return self.tokens[team]

    def call(self, team: str, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """A call to the API as ``team``, checked against the OpenAPI document; the status and the JSON answer."""
        headers = {"Authorization": f"Bearer {self.token(team)}"}
        raw = b""
        if body is not None:
            headers["Content-Type"] = "application/json"
            raw = json.dumps(body).encode()
        answer = self.client.http.request(method, path, headers=headers, body=raw)
        document = contract.decode(answer.body)
        contract.check(method, path, answer.status_code, document, sent=raw, headers=headers)
        return answer.status_code, document

    def register(self, team: str, target: str) -> dict[str, Any]:
        status, body = self.call(team, "POST", "/targets", {"target": target})
        assert status == 201, body
        assert isinstance(body, dict)
        return body

    def show(self, team: str, target_id: str) -> dict[str, Any]:
        status, body = self.call(team, "GET", f"/targets/{target_id}")
        assert status == 200, body
        assert isinstance(body, dict)
        return body

    def queued(self, team: str) -> list[MessageTypeDef]:
        """Take every message off the real check queue (as the Lambda poller does); return the team's."""
        url = self.aws.outputs["CheckQueueUrl"]
        taken: list[MessageTypeDef] = []
        while True:
            messages = self.aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return taken
            taken += [m for m in messages if json.loads(m["Body"]).get("team") == team]
            self.aws.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )

    def records(self, messages: list[MessageTypeDef]) -> list[dict[str, Any]]:
        """SQS records of received messages, with their own message ids."""
        return [sqs_record(m["Body"], queue_arn=self.queue_arn, message_id=m["MessageId"]) for m in messages]

    def check(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Invoke the checker function on a batch, as the SQS event source mapping does, then checker_alone on
        the stragglers it handed on (a busy machine can make a live check one); the checker's answer."""
        payload: dict[str, Any] = self.client.lambda_.invoke("checker", sqs_event(records)).payload
        url, arn = self.aws.outputs["AloneCheckQueueUrl"], self.aws.outputs["AloneCheckQueueArn"]
        while messages := self.aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            alone = [sqs_record(m["Body"], queue_arn=arn, message_id=m["MessageId"]) for m in messages]
            assert self.client.lambda_.invoke("checker_alone", sqs_event(alone)).payload == {"batchItemFailures": []}
            self.aws.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return payload

    def check_again(self, team: str, target_id: str) -> dict[str, Any]:
        """A later check of one target: the message a sweep would queue for it."""
        return self.check([sqs_record(check_message(team, target_id), queue_arn=self.queue_arn)])

    def sweep(self) -> dict[str, int]:
        payload: dict[str, int] = self.client.lambda_.invoke("sweep", scheduled_event()).payload
        return payload

    def observe(self, team: str) -> Observer:
        return Observer(self.aws.sqs, self.aws.sns, self.aws.outputs["AlertsTopicArn"], team)

    def serve(self, chain: list[Issued], *, port: int = 0) -> TlsServer:
        server = TlsServer(chain, port=port).start()
        self.servers.callback(server.stop)
        return server


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    with SlackReceiver() as receiver:
        yield receiver


@pytest.fixture
def pipeline(client: Client, aws: Aws, pki: Pki, slack: SlackReceiver) -> Iterator[Pipeline]:
    """A fresh container on the module's stack, installed as the app's; stopped servers and engine after."""
    clock = Clock()
    publisher = SwitchablePublisher(aws.sns, aws.outputs["AlertsTopicArn"])
    settings = Settings.for_stage(
        "test",
        allow_cidrs="127.0.0.0/8",
        topic_arn=aws.outputs["AlertsTopicArn"],
        check_queue_url=aws.outputs["CheckQueueUrl"],
        check_timeout=2,
        slack_webhook_url=slack.url,
    )
    container = Container(
        settings,
        clock=clock,
        trust=pki.trust,
        resolver=SystemResolver(PINS, lookup=no_dns),
        publisher=publisher,
    )
    deps.use(container)
    with contextlib.ExitStack() as servers:
        try:
            yield Pipeline(client, aws, container, clock, publisher, servers)
        finally:
            deps.use(None)
            if "engine" in container.__dict__:
                container.engine.close()
            container.resolver.close()


def chain_for(
    pki: Pki, name: str, *, days_left: float | None = None, expired_days_ago: float | None = None
) -> list[Issued]:
    """A chain under the test PKI for ``name``: healthy for 90 days unless told otherwise."""
    now = datetime.now(UTC)
    if expired_days_ago is not None:
        not_before, not_after = now - 90 * DAY, now - expired_days_ago * DAY
    elif days_left is not None:
        not_before, not_after = now - 80 * DAY, now + days_left * DAY
    else:
        not_before, not_after = now - DAY, now + 90 * DAY
    return [make_cert(name, issuer=pki.intermediate, not_before=not_before, not_after=not_after), pki.intermediate]


def target(name: str, server: TlsServer) -> str:
    return f"tls://{name}:{server.port}"


# --- registration -> queue -> checker -> store -> SNS ---------------------------------------------


def test_a_registered_target_is_queued_checked_stored_and_its_expiry_announced(pipeline: Pipeline, pki: Pki) -> None:
    team = "expiry"
    observer = pipeline.observe(team)
    soon = pipeline.serve(chain_for(pki, "expiring.pipeline.test", days_left=5))
    later = pipeline.serve(chain_for(pki, "warning.pipeline.test", days_left=20))
    critical = pipeline.register(team, target("expiring.pipeline.test", soon))
    warning = pipeline.register(team, target("warning.pipeline.test", later))
    assert critical["latest"] is None

    messages = pipeline.queued(team)
    bodies = sorted((json.loads(m["Body"]) for m in messages), key=lambda body: body["id"])
    assert bodies == sorted(({"team": team, "id": t["id"]} for t in (critical, warning)), key=lambda b: b["id"])
    answer = pipeline.check(pipeline.records(messages))

    assert answer == {"batchItemFailures": []}
    shown = pipeline.show(team, critical["id"])
    assert shown["latest"]["status"] == "critical"
    assert "EXPIRING_SOON" in shown["latest"]["codes"]
    assert shown["latest"]["days_left"] in (4, 5)
    assert shown["result"]["results"][0]["address"] == "127.0.0.1"
    assert pipeline.show(team, warning["id"])["latest"]["status"] == "warning"
    events = {event.document["target"]["id"]: event for event in observer.take()}
    assert set(events) == {critical["id"], warning["id"]}
    for event, severity, threshold in ((events[critical["id"]], "critical", 7), (events[warning["id"]], "warning", 30)):
        assert event.type == "certificate.expiring"
        assert event.document["severity"] == severity
        assert event.document["threshold_days"] == threshold
        assert event.attributes == {
            "type": "certificate.expiring",
            "severity": severity,
            "team": team,
            "days_left": str(event.document["days_left"]),
        }
        assert event.data_types["days_left"] == "Number"
    assert events[critical["id"]].document["target"]["port"] == soon.port
    assert (
        events[critical["id"]].document["certificate"]["fingerprint_sha256"]
        == shown["result"]["results"][0]["leaf"]["fingerprint_sha256"]
    )


def test_expired_and_broken_certificates_are_announced(pipeline: Pipeline, pki: Pki) -> None:
    team = "broken"
    observer = pipeline.observe(team)
    expired = pipeline.serve(chain_for(pki, "expired.pipeline.test", expired_days_ago=2))
    mismatch = pipeline.serve(chain_for(pki, "somebody-else.pipeline.test"))
    selfsigned = pipeline.serve([make_cert("selfsigned.pipeline.test", days=90)])
    ids = {
        pipeline.register(team, target(name, server))["id"]: name
        for name, server in (
            ("expired.pipeline.test", expired),
            ("mismatch.pipeline.test", mismatch),
            ("selfsigned.pipeline.test", selfsigned),
        )
    }

    assert pipeline.check(pipeline.records(pipeline.queued(team))) == {"batchItemFailures": []}

    events = {ids[e.document["target"]["id"]]: e for e in observer.take()}
    assert {name: (e.type, e.document["severity"]) for name, e in events.items()} == {
        "expired.pipeline.test": ("certificate.expired", "critical"),
        "mismatch.pipeline.test": ("certificate.problem", "critical"),
        "selfsigned.pipeline.test": ("certificate.problem", "critical"),
    }
    assert {f["code"] for f in events["mismatch.pipeline.test"].document["findings"]} == {"HOSTNAME_MISMATCH"}
    assert "SELF_SIGNED" in {f["code"] for f in events["selfsigned.pipeline.test"].document["findings"]}
    assert events["expired.pipeline.test"].attributes["type"] == "certificate.expired"
    assert int(events["expired.pipeline.test"].attributes["days_left"]) < 0
    for target_id, name in ids.items():
        assert pipeline.show(team, target_id)["latest"]["status"] == "critical", name


def test_an_endpoint_is_unreachable_after_two_failed_checks_and_recovered_when_it_answers(
    pipeline: Pipeline, pki: Pki
) -> None:
    team = "flaky"
    observer = pipeline.observe(team)
    chain = chain_for(pki, "flaky.pipeline.test")
    server = pipeline.serve(chain)
    port = server.port
    created = pipeline.register(team, target("flaky.pipeline.test", server))
    server.stop()

    assert pipeline.check(pipeline.records(pipeline.queued(team))) == {"batchItemFailures": []}
    first = observer.take()
    pipeline.check_again(team, created["id"])
    second = observer.take()
    pipeline.check_again(team, created["id"])
    third = observer.take()

    assert first == []  # one failed check is a blip, not a page
    assert [(e.type, e.document["severity"]) for e in second] == [("endpoint.unreachable", "critical")]
    assert second[0].attributes == {"type": "endpoint.unreachable", "severity": "critical", "team": team}
    assert third == []  # announced once per episode
    assert pipeline.show(team, created["id"])["latest"]["status"] == "error"

    pipeline.serve(chain, port=port)
    pipeline.check_again(team, created["id"])

    recovered = observer.take()
    assert [(e.type, e.document["severity"]) for e in recovered] == [("certificate.recovered", "info")]
    assert pipeline.show(team, created["id"])["latest"]["status"] == "ok"


def test_a_certificate_swapped_after_an_expiry_warning_is_announced_as_renewed(pipeline: Pipeline, pki: Pki) -> None:
    team = "renewing"
    observer = pipeline.observe(team)
    old_chain = chain_for(pki, "renewing.pipeline.test", days_left=5)
    old = pipeline.serve(old_chain)
    created = pipeline.register(team, target("renewing.pipeline.test", old))
    pipeline.check(pipeline.records(pipeline.queued(team)))
    assert [e.type for e in observer.take()] == ["certificate.expiring"]

    old.stop()
    new_chain = chain_for(pki, "renewing.pipeline.test")
    pipeline.serve(new_chain, port=old.port)
    pipeline.check_again(team, created["id"])

    (renewed,) = observer.take()
    assert (renewed.type, renewed.document["severity"]) == ("certificate.renewed", "info")
    assert renewed.document["previous_fingerprint"] == old_chain[0].fingerprint
    assert renewed.document["certificate"]["fingerprint_sha256"] == new_chain[0].fingerprint
    # The expiry is gone; what is left is the cadence this renewal showed: an 80-day-old
    # certificate replaced 5 days before it expired would not survive 100-day certificates.
    latest = pipeline.show(team, created["id"])["latest"]
    assert (latest["status"], latest["codes"]) == ("warning", ["RENEWAL_CADENCE_AT_RISK"])


# --- delivery guarantees ---------------------------------------------------------------------------


def test_a_redelivered_batch_publishes_nothing_new(pipeline: Pipeline, pki: Pki) -> None:
    team = "redelivered"
    observer = pipeline.observe(team)
    server = pipeline.serve(chain_for(pki, "redelivered.pipeline.test", days_left=5))
    pipeline.register(team, target("redelivered.pipeline.test", server))
    records = pipeline.records(pipeline.queued(team))

    first = pipeline.check(records)
    published = observer.take()
    again = pipeline.check(records)  # SQS is at-least-once: the same messages, the same ids, again

    assert first == again == {"batchItemFailures": []}
    assert [e.type for e in published] == ["certificate.expiring"]
    assert observer.take() == []


def test_a_poisoned_message_is_the_only_failure_of_its_batch(pipeline: Pipeline, pki: Pki) -> None:
    team = "poison"
    observer = pipeline.observe(team)
    names = [f"good{i}.pipeline.test" for i in range(3)]
    created = [pipeline.register(team, target(name, pipeline.serve(chain_for(pki, name)))) for name in names]
    deleted = pipeline.register(team, "tls://127.0.0.1:9")
    assert pipeline.call(team, "DELETE", f"/targets/{deleted['id']}")[0] == 204
    records = pipeline.records(pipeline.queued(team))
    assert len(records) == 4
    poisoned = sqs_record('{"team": "poison", "id": ', queue_arn=pipeline.queue_arn)
    duplicate = sqs_record(records[0]["body"], queue_arn=pipeline.queue_arn)  # SQS may deliver one twice
    batch = [records[0], poisoned, *records[1:], duplicate]
    assert len({r["messageId"] for r in batch}) == len(batch) == 6

    answer_payload = pipeline.check(batch)

    # The deleted target's message is done with (nothing to check), not retried into the DLQ.
    assert answer_payload == {"batchItemFailures": [{"itemIdentifier": poisoned["messageId"]}]}
    for item in created:
        assert pipeline.show(team, item["id"])["latest"]["status"] == "ok"
    assert observer.take() == []  # healthy certificates: nothing to say


def test_a_hostile_certificate_in_the_middle_of_a_batch_costs_no_other_target_its_result(
    pipeline: Pipeline, pki: Pki
) -> None:
    team = "hostile"
    names = [f"t{i}.batch.pipeline.test" for i in range(25)]
    healthy = pipeline.serve([make_cert("*.batch.pipeline.test", issuer=pki.intermediate), pki.intermediate])
    hostile_name = names[12]
    # The intermediate holds an extension twice: cryptography raises DuplicateExtension when it
    # is read. (OpenSSL refuses to serve such a leaf, not such an intermediate.)
    broken = make_ca("Duplicated Intermediate", issuer=pki.root, sans=["ca.batch.pipeline.test"], duplicate_san=True)
    hostile = pipeline.serve([make_cert(hostile_name, issuer=broken), broken])
    created = {
        name: pipeline.register(team, target(name, hostile if name == hostile_name else healthy))["id"]
        for name in names
    }
    records = pipeline.records(pipeline.queued(team))
    assert len(records) == 25

    answer = pipeline.check(records)

    assert answer == {"batchItemFailures": []}
    latest = {name: pipeline.show(team, target_id)["latest"] for name, target_id in created.items()}
    assert all(summary is not None for summary in latest.values())
    assert {name: summary["status"] for name, summary in latest.items() if name != hostile_name} == dict.fromkeys(
        [n for n in names if n != hostile_name], "ok"
    )
    assert latest[hostile_name]["status"] == "critical"
    assert latest[hostile_name]["codes"] == ["CERTIFICATE_UNPARSEABLE", "INVALID_INTERMEDIATE"]


def test_an_sns_outage_leaves_the_event_in_the_outbox_until_a_sweep_delivers_it_once(
    pipeline: Pipeline, pki: Pki
) -> None:
    team = "outage"
    observer = pipeline.observe(team)
    server = pipeline.serve(chain_for(pki, "outage.pipeline.test", days_left=5))
    created = pipeline.register(team, target("outage.pipeline.test", server))
    pipeline.publisher.down = True

    answer = pipeline.check(pipeline.records(pipeline.queued(team)))

    assert answer == {"batchItemFailures": []}  # the check is done; only its announcement waits
    assert observer.take() == []
    pending = [n for n in pipeline.container.store.pending_notifications() if n.team == team]
    assert [(n.target_id, n.event.type.value) for n in pending] == [(created["id"], "certificate.expiring")]
    items = pipeline.aws.dynamodb.query(
        TableName=pipeline.aws.outputs["TableName"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :e)",
        ExpressionAttributeValues={":pk": {"S": f"TEAM#{team}"}, ":e": {"S": "E#"}},
    )["Items"]
    assert [item["outbox_status"]["S"] for item in items] == ["pending"]

    pipeline.publisher.down = False
    early = pipeline.sweep()
    assert early["published"] == 0  # younger than the grace period: its worker may still publish it
    assert observer.take() == []

    pipeline.clock.advance(OUTBOX_GRACE + timedelta(seconds=5))
    drained = pipeline.sweep()
    delivered = observer.take()
    again = pipeline.sweep()

    assert drained["published"] == 1
    assert [(e.type, e.document["target"]["id"]) for e in delivered] == [("certificate.expiring", created["id"])]
    assert delivered[0].attributes["severity"] == "critical"
    assert again["published"] == 0
    assert observer.take() == []
    assert [n for n in pipeline.container.store.pending_notifications() if n.team == team] == []


def test_the_slack_function_posts_a_published_event_as_block_kit(
    pipeline: Pipeline, pki: Pki, slack: SlackReceiver
) -> None:
    team = "slack"
    observer = pipeline.observe(team)
    server = pipeline.serve(chain_for(pki, "slack.pipeline.test", days_left=5))
    pipeline.register(team, target("slack.pipeline.test", server))
    pipeline.check(pipeline.records(pipeline.queued(team)))
    (event,) = observer.take()
    message = json.dumps(event.document)

    pipeline.client.lambda_.invoke("slack", pipeline.client.events.generate_sns_event(message=message, subject="x"))

    post = slack.wait_for(lambda post: True, timeout=5)
    assert post["attachments"][0]["color"] == "#d0021b"
    assert f"slack.pipeline.test:{server.port}" in slack_text(post)
    assert "certificate.expiring" in slack_text(post)


# --- the sweep at scale ----------------------------------------------------------------------------

TOTAL, DUE, PAUSED = 10_000, 1_000, 500


@dataclass(frozen=True)
class Bulk:
    container: Container
    sqs: RecordingSqs
    outputs: dict[str, str]
    due: set[tuple[str, str]]


@pytest.fixture
def bulk(aws: Aws) -> Iterator[Bulk]:
    """Stage ``bulk`` (a stack of its own, so no other test's targets are due) with 10,000 targets.

    1,000 are due, 500 are paused though due (not in the sparse index), the rest due ten minutes
    after the first sweep or later (so a slow machine never sees one of them fall due between the two sweeps).
    Loaded with BatchWriteItem in the store's own item shape: the API would take minutes.
    """
    from certwatch.aws.cloudformation import deploy_stack

    outputs = deploy_stack(aws.cloudformation, "bulk")
    now = datetime.now(UTC)
    items: list[WriteRequestTypeDef] = []
    due: set[tuple[str, str]] = set()
    for i in range(TOTAL):
        team = f"team{i % 7}"
        target_id = f"tg_{i:012x}{i * 2654435761 % 2**32:08x}"
        is_due, paused = i % 10 == 3, i % 20 == 7
        item = Target(
            id=target_id,
            team=team,
            spec=TargetSpec(endpoint_from_parts(f"host{i}.bulk.example", 443)),
            created_at=now - DAY,
            updated_at=now - DAY,
            # The due ones' slots start in the first sweep's window (the hour before it); the rest start ten
            # minutes after it or later, each of their moments outside both sweeps' windows.
            scheduled_at=now - timedelta(seconds=1 + i // 4)
            if is_due or paused
            else now + timedelta(minutes=10 + i % 200),
            paused=paused,
        )
        items.append({"PutRequest": {"Item": codec.dump(codec.target_item(item))}})
        if is_due:
            due.add((team, target_id))
    assert (len(due), sum(i % 20 == 7 for i in range(TOTAL))) == (DUE, PAUSED)
    for start in range(0, len(items), 25):
        answer = aws.dynamodb.batch_write_item(RequestItems={outputs["TableName"]: items[start : start + 25]})
        assert not answer.get("UnprocessedItems")
    sqs = RecordingSqs(aws.sqs)
    container = Container(
        Settings.for_stage("bulk", topic_arn=outputs["AlertsTopicArn"], check_queue_url=outputs["CheckQueueUrl"]),
        resolver=SystemResolver({}, lookup=no_dns),
        sqs=sqs,
    )
    deps.use(container)
    try:
        yield Bulk(container, sqs, outputs, due)
    finally:
        deps.use(None)
        container.resolver.close()


@pytest.mark.slow
def test_the_sweep_queues_exactly_the_due_targets_of_ten_thousand_once(client: Client, aws: Aws, bulk: Bulk) -> None:
    def waiting() -> int:
        url = bulk.outputs["CheckQueueUrl"]
        attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    first = client.lambda_.invoke("sweep", scheduled_event()).payload
    after_first = waiting()
    second = client.lambda_.invoke("sweep", scheduled_event()).payload

    assert first == {"due": DUE, "queued": DUE, "published": 0}
    assert after_first == DUE
    sizes = [len(batch) for batch in bulk.sqs.batches]  # SendMessageBatch: ten at most, mostly full
    assert max(sizes) <= 10
    assert len(sizes) < DUE / 5
    sent = [json.loads(entry["MessageBody"]) for batch in bulk.sqs.batches for entry in batch]
    assert len(sent) == DUE
    assert {(body["team"], body["id"]) for body in sent} == bulk.due
    # Nothing queued twice: the first sweep's window was its own, and the second's holds no moment.
    assert second == {"due": 0, "queued": 0, "published": 0}
    assert waiting() == DUE
    assert len(bulk.sqs.batches) == len(sizes)
