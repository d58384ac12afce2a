"""The outbox: each notification recorded once, pending until SNS has taken it."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.dynamo.table import Table, condition_failed, translate
from chalicelib.domain.alerts import Notification, RecordedEvent

OUTBOX_INDEX = "outbox"
PENDING = "pending"


class OutboxItems(Table):
    """Notifications (``E#<event key>``); the sparse ``outbox`` index holds the pending ones."""

    def record_notification(self, notification: Notification) -> bool:
        item = {
            "pk": codec.TEAM + notification.team,
            "sk": _sort_key(notification),
            "key": notification.key,
            "outbox_at": codec.ts(notification.created_at),
            "notification": codec.compact_json(codec.notification_record(notification)),
        }
        if notification.silenced_by is None:  # a silenced one is kept to be shown, never published
            item["outbox_status"] = PENDING
        try:
            self._send(
                self._client.put_item,
                TableName=self._table,
                Item=codec.dump(item),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise translate(exc) from exc
        return True

    def pending_notifications(self, limit: int = 100) -> list[Notification]:
        pending = self._query(
            TableName=self._table,
            IndexName=OUTBOX_INDEX,
            KeyConditionExpression="outbox_status = :pending",
            ExpressionAttributeValues={":pending": {"S": PENDING}},
            Limit=limit,
        )
        return [codec.notification(json.loads(item["notification"])) for item in itertools.islice(pending, limit)]

    def mark_published(self, notification: Notification) -> None:
        self._call(
            self._client.update_item,
            TableName=self._table,
            Key=codec.dump({"pk": codec.TEAM + notification.team, "sk": _sort_key(notification)}),
            UpdateExpression="SET published_at = :now REMOVE outbox_status",
            ExpressionAttributeValues={":now": {"S": codec.ts(datetime.now(UTC))}},
        )

    def team_events(self, team: str, limit: int = 100) -> list[RecordedEvent]:
        found = self._query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :e)",
            ExpressionAttributeValues={":pk": {"S": codec.TEAM + team}, ":e": {"S": codec.OUTBOX}},
        )
        recorded = [
            RecordedEvent(
                codec.notification(json.loads(item["notification"])),
                published=item.get("published_at") is not None,
            )
            for item in found
        ]
        return sorted(recorded, key=lambda r: (r.notification.created_at, r.notification.key), reverse=True)[:limit]


def _sort_key(notification: Notification) -> str:
    # By the event's key alone: a certificate's event that several endpoints of the team decide is
    # one item, so it is recorded (and published) once. An endpoint's own keys start with its id.
    return f"{codec.OUTBOX}{notification.key}"
