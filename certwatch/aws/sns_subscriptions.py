"""The alerts topic's email subscriptions, for the operator's ``certwatch subscribe`` (no Lambda function calls this).

Run with the operator's own AWS credentials; AWS's refusals reach the command as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chalicelib.adapters.aws import error_code, pages

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscription to the topic; ``filter_policy`` holds the event attributes it asks for."""

    protocol: str
    endpoint: str
    arn: str  # "PendingConfirmation" until an email subscription is confirmed
    filter_policy: dict[str, list[str]]
    pending: bool


class SnsSubscriptions:
    """Subscribes, lists and removes subscriptions of one topic; takes a boto3 SNS client."""

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic = topic_arn

    def subscribe_email(self, address: str, filter_policy: dict[str, list[str]]) -> Subscription:
        answer = self._client.subscribe(
            TopicArn=self._topic,
            Protocol="email",
            Endpoint=address,
            Attributes={"FilterPolicy": json.dumps(filter_policy)},
            ReturnSubscriptionArn=True,
        )
        arn = str(answer["SubscriptionArn"])
        pending = self._attributes(arn).get("PendingConfirmation") == "true"
        return Subscription("email", address, arn, filter_policy, pending)

    def list(self) -> list[Subscription]:
        """Every subscription of the topic, with its filter policy (none yet for an unconfirmed one)."""
        found = []
        for page in pages(self._client.list_subscriptions_by_topic, "NextToken", "NextToken", TopicArn=self._topic):
            for item in page.get("Subscriptions", []):
                arn = str(item["SubscriptionArn"])
                confirmed = arn.startswith("arn:")
                policy = json.loads(self._attributes(arn).get("FilterPolicy") or "{}") if confirmed else {}
                found.append(Subscription(item["Protocol"], item["Endpoint"], arn, policy, not confirmed))
        return found

    def remove(self, arn: str) -> bool:
        """Unsubscribe; False when ``arn`` is no subscription of this topic (another topic's, or none)."""
        try:
            topic = self._attributes(arn).get("TopicArn")
        except ClientError as exc:
            if error_code(exc) != "NotFound":
                raise
            topic = None
        if topic != self._topic:
            return False
        self._client.unsubscribe(SubscriptionArn=arn)
        return True

    def _attributes(self, arn: str) -> dict[str, str]:
        attributes: dict[str, str] = self._client.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        return attributes
