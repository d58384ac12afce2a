"""Webhook deliveries: each event reaches each destination once.

The outbox key extended with the destination: ``WEBHOOK#<destination id>`` / ``D#<event key>``
in the certwatch table. Before a POST the relay claims the item (a conditional put that only a
new item, or a claim whose lease ran out, lets through), marks it delivered after, and releases
it when the POST failed, so a retry of the function claims it again. Two invocations of one
event (SNS delivers at least once; Lambda retries) never both post to the same destination. The
items expire (``expires_at``, the table's TTL) a month after the event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.dynamo.table import Table, condition_failed, translate
from chalicelib.domain.webhooks import Claim

KEEP = timedelta(days=30)
_CLAIMED, _DELIVERED = "claimed", "delivered"


class DynamoDeliveryLog(Table):
    """A DeliveryLog on the certwatch table; takes a boto3 DynamoDB client and the table's name."""

    def claim(self, destination_id: str, event_key: str, now: datetime, until: datetime) -> Claim:
        item = _key(destination_id, event_key) | {
            "state": _CLAIMED,
            "lease_until": codec.ts(until),
            "expires_at": int((now + KEEP).timestamp()),
        }
        try:
            self._send(
                self._client.put_item,
                TableName=self._table,
                Item=codec.dump(item),
                ConditionExpression="attribute_not_exists(pk) OR (#state = :claimed AND lease_until <= :now)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":claimed": {"S": _CLAIMED}, ":now": {"S": codec.ts(now)}},
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise translate(exc) from exc
        else:
            return Claim.CLAIMED
        held = self._get_item(**_key(destination_id, event_key))
        return Claim.DELIVERED if held is not None and held.get("state") == _DELIVERED else Claim.BUSY

    def delivered(self, destination_id: str, event_key: str, now: datetime) -> None:
        self._update(destination_id, event_key, "SET #state = :state, delivered_at = :now REMOVE lease_until", now)

    def release(self, destination_id: str, event_key: str, now: datetime) -> None:
        """Give a claim up after a failed POST: the next invocation may claim it at once."""
        self._update(destination_id, event_key, "SET lease_until = :now", now, only_claimed=True)

    def _update(
        self, destination_id: str, event_key: str, expression: str, now: datetime, *, only_claimed: bool = False
    ) -> None:
        values = {":now": {"S": codec.ts(now)}}
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": codec.dump(_key(destination_id, event_key)),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        }
        if "#state" in expression or only_claimed:
            request["ExpressionAttributeNames"] = {"#state": "state"}
        if only_claimed:
            request["ConditionExpression"] = "#state = :claimed"
            values[":claimed"] = {"S": _CLAIMED}
        else:
            values[":state"] = {"S": _DELIVERED}
        try:
            self._send(self._client.update_item, **request)
        except ClientError as exc:
            if only_claimed and condition_failed(exc):
                return  # delivered meanwhile, or gone: nothing to release
            raise translate(exc) from exc


def _key(destination_id: str, event_key: str) -> dict[str, str]:
    return {"pk": f"{codec.WEBHOOK}{destination_id}", "sk": f"{codec.DELIVERY}{event_key}"}
