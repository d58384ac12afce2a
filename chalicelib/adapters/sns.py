"""The SNS adapter: publishing notifications to the alerts topic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.alerts import Notification
from chalicelib.errors import PublishError
from chalicelib.presentation.events import attributes as event_attributes
from chalicelib.presentation.events import email_subject, event_document, sns_message

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef


class SnsPublisher:
    """Publishes a Notification, rendered here at its wire: the declared event document by default, the
    text to email subscribers, and the attributes a subscription's filter policy reads."""

    def __init__(self, client: SNSClient, topic_arn: str, *, base_url: str | None = None) -> None:
        self._client = client
        self._topic = topic_arn
        self._base_url = base_url

    def publish(self, notification: Notification) -> str:
        document = event_document(notification, self._base_url)
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            name: {"DataType": "Number" if name == "days_left" else "String", "StringValue": value}
            for name, value in event_attributes(document).items()
        }
        try:
            answer = self._client.publish(
                TopicArn=self._topic,
                MessageStructure="json",
                Message=sns_message(document),
                Subject=email_subject(document),
                MessageAttributes=attributes,
            )
        except (ClientError, BotoCoreError) as exc:
            raise PublishError(f"SNS publish failed: {exc}") from exc
        return str(answer["MessageId"])
