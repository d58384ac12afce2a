"""The SNS adapter: publishing notifications to the alerts topic."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.alerts import Notification
from chalicelib.errors import PublishError


class SnsPublisher:
    """Publishes a Notification: the JSON document by default, the text to email subscribers."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic = topic_arn

    def publish(self, notification: Notification) -> str:
        document = json.dumps(notification.document, separators=(",", ":"))
        attributes = {
            name: {"DataType": "Number" if name == "days_left" else "String", "StringValue": value}
            for name, value in notification.attributes.items()
        }
        try:
            answer = self._client.publish(
                TopicArn=self._topic,
                MessageStructure="json",
                Message=json.dumps({"default": document, "email": notification.text}),
                Subject=notification.subject,
                MessageAttributes=attributes,
            )
        except (ClientError, BotoCoreError) as exc:
            raise PublishError(f"SNS publish failed: {exc}") from exc
        return str(answer["MessageId"])
