"""Pieces of the pipeline tests: a clock to move, hand-built Lambda events, an SNS switch, a Slack stand-in."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from chalicelib.adapters.sns import SnsPublisher
from chalicelib.domain.alerts import Notification
from tests.support.contract import check_event
from tests.support.webhooks import Receiver

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchResultTypeDef


class Clock:
    """The real time plus an offset the test moves forward (the container's ``clock``)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


def sqs_record(body: str, *, queue_arn: str, message_id: str | None = None) -> dict[str, Any]:
    """One record of an SQS event as Lambda delivers it; every record gets a messageId of its own."""
    now_ms = str(int(time.time() * 1000))
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": f"handle-{uuid.uuid4().hex}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now_ms,
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": now_ms,
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def sqs_event(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


def scheduled_event(region: str = "eu-west-1") -> dict[str, Any]:
    """What EventBridge hands the ``sweep`` function."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:123456789012:rule/certwatch-sweep"],
        "detail": {},
    }


class SwitchablePublisher:
    """The real SnsPublisher; ``down`` points it at a topic that does not exist, as in an SNS outage."""

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._up = SnsPublisher(client, topic_arn)
        self._gone = SnsPublisher(client, f"{topic_arn}-does-not-exist")
        self.down = False

    def publish(self, notification: Notification) -> str:
        return (self._gone if self.down else self._up).publish(notification)


class RecordingSqs:
    """A boto3 SQS client that also keeps the entries of every SendMessageBatch it forwards."""

    def __init__(self, client: SQSClient) -> None:
        self._client = client
        self.batches: list[list[dict[str, Any]]] = []

    def send_message_batch(self, **kwargs: Any) -> SendMessageBatchResultTypeDef:
        self.batches.append(list(kwargs["Entries"]))
        return self._client.send_message_batch(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class SlackReceiver:
    """A Slack incoming webhook on 127.0.0.1 (a tests/support/webhooks Receiver) that hands back the JSON posted."""

    def __init__(self) -> None:
        self._receiver = Receiver()

    @property
    def url(self) -> str:
        return self._receiver.url("/services/T000/B000/XXXX")

    @property
    def posts(self) -> list[dict[str, Any]]:
        return [delivery.json() for delivery in self._receiver.accepted]

    def wait_for(self, matches: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        """The first post ``matches`` accepts, waiting up to ``timeout`` seconds for it."""
        post: dict[str, Any] = self._receiver.wait_for_one(lambda delivery: matches(delivery.json()), timeout).json()
        return post

    def __enter__(self) -> Self:
        self._receiver.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._receiver.__exit__(kind, value, tb)


def slack_text(post: Mapping[str, Any]) -> str:
    """Everything a Block Kit post shows in its attachment's blocks, as one string."""
    parts: list[str] = []
    for block in post["attachments"][0]["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [item["text"] for item in block.get("fields", []) + block.get("elements", []) if "text" in item]
    return "\n".join(str(part) for part in parts)


@dataclass(frozen=True)
class Published:
    """One message SNS delivered to the observing queue: the event document and its attributes."""

    document: dict[str, Any]
    attributes: dict[str, str]
    data_types: dict[str, str]

    @property
    def type(self) -> str:
        return str(self.document["type"])

    @property
    def about(self) -> str:
        """The ARN (or endpoint) the event is about."""
        return str(self.document["target"]["id"])


class Observer:
    """An SQS queue subscribed to the alerts topic for one team's events (raw delivery)."""

    def __init__(self, sqs: SQSClient, sns: SNSClient, topic_arn: str, team: str) -> None:
        self._sqs = sqs
        self.url = sqs.create_queue(QueueName=f"observe-{team}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps({"team": [team]})},
        )

    def take(self) -> list[Published]:
        """Everything delivered since the last call (SNS delivers to SQS inside publish on moto)."""
        seen: list[Published] = []
        while True:
            answer = self._sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
            )
            messages = answer.get("Messages", [])
            if not messages:
                return seen
            for message in messages:
                attributes = message.get("MessageAttributes", {})
                document = json.loads(message["Body"])
                check_event(document, "an event SNS delivered")  # every one fits the declared document
                seen.append(
                    Published(
                        document,
                        {name: a["StringValue"] for name, a in attributes.items()},
                        {name: a["DataType"] for name, a in attributes.items()},
                    )
                )
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
