"""The DynamoDB adapter for certificate history: which certificates each endpoint served, and since when.

Items live in the registry's table, in the team's partition, one per certificate an endpoint
ever served (written once, with a condition, when it is first seen):

=================  ===================================  ======================================
``TEAM#<team>``    ``H#<target id>#<fingerprint>``      first_seen, not_before, not_after, public
=================  ===================================  ======================================

An endpoint's history is one Query (``H#<target id>#``); a team's, for the inventory's readiness
summary, one Query (``H#``) paged. A renewal adds one small item, so even at 47-day lifetimes an
endpoint gains about eight a year.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.cadence import Sighting
from chalicelib.errors import ConfigurationError, StoreError, ThrottledError

_THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}


class DynamoCertificateHistory:
    """Sightings of certificates per target, in the registry's table."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def record_sighting(self, team: str, target_id: str, sighting: Sighting) -> bool:
        """Keep ``sighting`` unless this certificate was seen before here; False when it was."""
        item = {
            "pk": {"S": f"TEAM#{team}"},
            "sk": {"S": f"H#{target_id}#{sighting.fingerprint}"},
            "first_seen": {"S": _ts(sighting.first_seen)},
            "not_before": {"S": _ts(sighting.not_before)},
            "not_after": {"S": _ts(sighting.not_after)},
            "public": {"BOOL": sighting.publicly_trusted},
        }
        try:
            self._send("put_item", TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise _translate(exc) from exc
        return True

    def sightings(self, team: str, target_id: str) -> list[Sighting]:
        """Every certificate the target was seen serving, oldest first."""
        return [s for _, s in self._query(team, f"H#{target_id}#")]

    def team_sightings(self, team: str) -> dict[str, list[Sighting]]:
        """Every target's sightings in the team, by target id."""
        found: dict[str, list[Sighting]] = {}
        for target_id, sighting in self._query(team, "H#"):
            found.setdefault(target_id, []).append(sighting)
        return found

    def _query(self, team: str, prefix: str) -> list[tuple[str, Sighting]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": f"TEAM#{team}"}, ":prefix": {"S": prefix}},
        }
        found: list[tuple[str, Sighting]] = []
        while True:
            try:
                answer = self._send("query", **request)
            except ClientError as exc:
                raise _translate(exc) from exc
            for item in answer.get("Items", []):
                _, target_id, fingerprint = item["sk"]["S"].split("#", 2)
                sighting = Sighting(
                    fingerprint=fingerprint,
                    first_seen=_parse_ts(item["first_seen"]["S"]),
                    not_before=_parse_ts(item["not_before"]["S"]),
                    not_after=_parse_ts(item["not_after"]["S"]),
                    publicly_trusted=bool(item.get("public", {}).get("BOOL", False)),
                )
                found.append((target_id, sighting))
            if "LastEvaluatedKey" not in answer:
                return sorted(found, key=lambda pair: (pair[1].first_seen, pair[1].fingerprint))
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _send(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self._client, operation)(**kwargs)
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB unreachable: {type(exc).__name__}") from exc
        return answer


def _translate(exc: ClientError) -> Exception:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code in _THROTTLED:
        return ThrottledError("the data store is throttling requests; retry shortly")
    if code == "ResourceNotFoundException":
        return ConfigurationError("the DynamoDB table does not exist: deploy the data stack, or set CERTWATCH_TABLE")
    return StoreError(f"DynamoDB failed: {code or exc}")


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
