"""Webhook deliveries in DynamoDB: each event reaches each destination once.

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

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.dynamo import _translate, _ts
from chalicelib.domain.webhooks import Claim
from chalicelib.errors import StoreError

KEEP = timedelta(days=30)
_CLAIMED, _DELIVERED = "claimed", "delivered"


class DynamoDeliveryLog:
    """A DeliveryLog on the certwatch table; takes a boto3 DynamoDB client."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def claim(self, destination_id: str, event_key: str, now: datetime, until: datetime) -> Claim:
        item = {
            **_key(destination_id, event_key),
            "state": {"S": _CLAIMED},
            "lease_until": {"S": _ts(until)},
            "expires_at": {"N": str(int((now + KEEP).timestamp()))},
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR (#state = :claimed AND lease_until <= :now)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":claimed": {"S": _CLAIMED}, ":now": {"S": _ts(now)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _translate(exc) from exc
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB unreachable: {type(exc).__name__}") from exc
        else:
            return Claim.CLAIMED
        held = self._state(destination_id, event_key)
        return Claim.DELIVERED if held == _DELIVERED else Claim.BUSY

    def delivered(self, destination_id: str, event_key: str, now: datetime) -> None:
        self._update(destination_id, event_key, "SET #state = :state, delivered_at = :now REMOVE lease_until", now)

    def release(self, destination_id: str, event_key: str, now: datetime) -> None:
        """Give a claim up after a failed POST: the next invocation may claim it at once."""
        self._update(destination_id, event_key, "SET lease_until = :now", now, only_claimed=True)

    def _update(
        self, destination_id: str, event_key: str, expression: str, now: datetime, *, only_claimed: bool = False
    ) -> None:
        values = {":now": {"S": _ts(now)}}
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": _key(destination_id, event_key),
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
            self._client.update_item(**request)
        except ClientError as exc:
            if only_claimed and exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return  # delivered meanwhile, or gone: nothing to release
            raise _translate(exc) from exc
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB unreachable: {type(exc).__name__}") from exc

    def _state(self, destination_id: str, event_key: str) -> str | None:
        try:
            answer = self._client.get_item(
                TableName=self._table, Key=_key(destination_id, event_key), ConsistentRead=True
            )
        except ClientError as exc:
            raise _translate(exc) from exc
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB unreachable: {type(exc).__name__}") from exc
        item = answer.get("Item")
        return None if item is None else str(item.get("state", {}).get("S"))


def _key(destination_id: str, event_key: str) -> dict[str, Any]:
    return {"pk": {"S": f"WEBHOOK#{destination_id}"}, "sk": {"S": f"D#{event_key}"}}
