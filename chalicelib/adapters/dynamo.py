"""The DynamoDB adapter: targets, results and tokens in one table (declared in infra/template.yaml).

Keys (``pk`` / ``sk``):

=================  ====================  ==========================================
``TEAM#<team>``    ``T#<target id>``     a target, with its latest result summary
``TEAM#<team>``    ``R#<target id>``     the latest full check result (JSON)
``TEAM#<team>``    ``U#<endpoint key>``  uniqueness of host/port/protocol/SNI per team
``TEAM#<team>``    ``A#<target id>``     what has been announced for the target
``TEAM#<team>``    ``E#<id>#<event key>``  a notification (the outbox; once per key)
``INVENTORY``      ``<ARN>``             a certificate held in ACM/IAM, as last assessed
``TOKEN``          ``<token id>``        an API token's hash and team
=================  ====================  ==========================================

Listing a team's targets is one Query on its partition (ids sort by creation). The sparse
global index ``due`` (``due_shard``, ``next_check_at``) holds unpaused targets only, spread
over a few shards, so the scheduler finds due targets with a handful of Queries at any size.
Writes are partial updates or transactions with conditions, so an API edit and a check
landing at once never lose each other's fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.alerts import AlertState, Notification
from chalicelib.domain.endpoints import endpoint_from_parts
from chalicelib.domain.inventory import Assessment, assessment_from_dict, assessment_to_dict
from chalicelib.domain.models import Endpoint, Status
from chalicelib.domain.targets import (
    SPEC_CHANGES,
    CertificateBrief,
    Page,
    ResultSummary,
    Target,
    TargetChanges,
    TargetFilter,
    TargetSpec,
    decode_cursor,
    encode_cursor,
)
from chalicelib.domain.tokens import TokenRecord
from chalicelib.errors import (
    ConfigurationError,
    DuplicateTargetError,
    InvalidRequestError,
    NotFoundError,
    StoreError,
    ThrottledError,
)

DUE_INDEX = "due"
OUTBOX_INDEX = "outbox"
PENDING = "pending"
_THROTTLED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "TransactionInProgressException",
}
# A transaction cancelled for any of these reasons can simply be retried.
_RETRYABLE_CANCELLATIONS = {
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
}
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


# The sparse ``due`` index is spread over this many partitions (the last hex digits of the id).
DUE_SHARDS = 16


def due_shard(target_id: str) -> str:
    return str(int(target_id[-2:], 16) % DUE_SHARDS)


class DynamoStore:
    """A TargetStore on one DynamoDB table; takes a boto3 DynamoDB client."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # --- targets ---------------------------------------------------------------------------

    def create_target(self, target: Target) -> None:
        team = _team_key(target.team)
        try:
            self._send(
                "transact_write_items",
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _dump(_target_item(target)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _dump({"pk": team, "sk": f"U#{target.key}", "target_id": target.id}),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ],
            )
        except ClientError as exc:
            if 1 not in _cancelled_by_condition(exc):  # not the uniqueness item: not a duplicate
                raise _translate(exc) from exc
            existing = self._get_item(team, f"U#{target.key}")
            if existing is None:  # the racing writer already deleted it again: say so, retryable
                raise ThrottledError("a concurrent change to the same endpoint; retry") from exc
            raise DuplicateTargetError(str(existing["target_id"])) from exc

    def get_target(self, team: str, target_id: str) -> Target:
        item = self._get_item(_team_key(team), f"T#{target_id}")
        if item is None:
            raise NotFoundError(f"no target {target_id}")
        return _target(item)

    def list_targets(self, team: str, *, limit: int, cursor: str | None, where: TargetFilter) -> Page:
        partition = _team_key(team)
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": partition}, ":prefix": {"S": "T#"}},
            "Limit": min(1000, max(limit + 1, 100)),
        }
        _add_filter(request, where)
        if cursor:
            after = decode_cursor(cursor).get("sk")
            if not isinstance(after, str) or not after.startswith("T#"):
                raise InvalidRequestError("invalid cursor", field="cursor", code="invalid_cursor")
            request["ExclusiveStartKey"] = {"pk": {"S": partition}, "sk": {"S": after}}
        found: list[Target] = []
        while len(found) <= limit:
            answer = self._call("query", **request)
            found += [_target(_load(item)) for item in answer.get("Items", [])]
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        page = found[:limit]
        more = len(found) > limit
        return Page(tuple(page), encode_cursor({"sk": f"T#{page[-1].id}"}) if more else None)

    def update_target(self, team: str, target_id: str, changes: TargetChanges, now: datetime) -> Target:
        sets: dict[str, Any] = {"updated_at": _ts(now)}
        for name in SPEC_CHANGES:
            value = getattr(changes, name)
            if value is not None:
                sets[name] = list(value) if name == "alert_days" else value
        removes = ["notes"] if changes.clear_notes else []
        if changes.paused is not None:
            sets["paused"] = changes.paused
            if changes.paused:
                removes.append("due_shard")
            else:
                sets["due_shard"] = due_shard(target_id)
        names = {f"#{i}": name for i, name in enumerate([*sets, *removes])}
        by_name = {name: alias for alias, name in names.items()}
        expression = "SET " + ", ".join(f"{by_name[name]} = :{i}" for i, name in enumerate(sets))
        if removes:
            expression += " REMOVE " + ", ".join(by_name[name] for name in removes)
        try:
            answer = self._send(
                "update_item",
                TableName=self._table,
                Key=_dump({"pk": _team_key(team), "sk": f"T#{target_id}"}),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={f":{i}": _serializer.serialize(v) for i, v in enumerate(sets.values())},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise NotFoundError(f"no target {target_id}") from exc
            raise _translate(exc) from exc
        return _target(_load(answer["Attributes"]))

    def delete_target(self, team: str, target_id: str) -> None:
        target = self.get_target(team, target_id)
        partition = _team_key(team)
        key = {"TableName": self._table}
        try:
            self._send(
                "transact_write_items",
                TransactItems=[
                    {
                        "Delete": {
                            **key,
                            "Key": _dump({"pk": partition, "sk": f"T#{target_id}"}),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {"Delete": {**key, "Key": _dump({"pk": partition, "sk": f"U#{target.key}"})}},
                    {"Delete": {**key, "Key": _dump({"pk": partition, "sk": f"R#{target_id}"})}},
                ],
            )
        except ClientError as exc:
            if 0 in _cancelled_by_condition(exc):  # the target item's condition: it does not exist
                raise NotFoundError(f"no target {target_id}") from exc
            raise _translate(exc) from exc
        self._delete_prefixed(partition, f"E#{target_id}#")
        self._delete_prefixed(partition, f"H#{target_id}#")  # its certificate history (adapters/history.py)
        self._call("delete_item", TableName=self._table, Key=_dump({"pk": partition, "sk": f"A#{target_id}"}))

    def _delete_prefixed(self, partition: str, prefix: str) -> None:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": partition}, ":prefix": {"S": prefix}},
            "ProjectionExpression": "pk, sk",
        }
        while True:
            answer = self._call("query", **request)
            keys = [{"DeleteRequest": {"Key": item}} for item in answer.get("Items", [])]
            for start in range(0, len(keys), 25):
                pending: dict[str, Any] = {self._table: keys[start : start + 25]}
                while pending:
                    pending = self._call("batch_write_item", RequestItems=pending).get("UnprocessedItems") or {}
            if "LastEvaluatedKey" not in answer:
                return
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def save_result(
        self, team: str, target_id: str, summary: ResultSummary, document: dict[str, Any], next_check_at: datetime
    ) -> None:
        partition = _team_key(team)
        values = _summary_attributes(summary) | {"next_check_at": _ts(next_check_at)}
        names = {f"#{i}": name for i, name in enumerate(values)}
        sets = ", ".join(f"#{i} = :{i}" for i in range(len(values)))
        removes = [
            name for name in ("latest_days_left", "latest_not_after", "latest_certificates") if name not in values
        ]
        for offset, name in enumerate(removes, start=len(values)):
            names[f"#{offset}"] = name
        expression = f"SET {sets}" + (
            " REMOVE " + ", ".join(f"#{i}" for i in range(len(values), len(names))) if removes else ""
        )
        try:
            self._send(
                "transact_write_items",
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _dump({"pk": partition, "sk": f"T#{target_id}"}),
                            "UpdateExpression": expression,
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": {
                                f":{i}": _serializer.serialize(v) for i, v in enumerate(values.values())
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _dump(
                                {
                                    "pk": partition,
                                    "sk": f"R#{target_id}",
                                    "document": json.dumps(document, separators=(",", ":")),
                                    "checked_at": _ts(summary.checked_at),
                                }
                            ),
                        }
                    },
                ],
            )
        except ClientError as exc:
            if 0 in _cancelled_by_condition(exc):  # the target item's condition: it does not exist
                raise NotFoundError(f"no target {target_id}") from exc
            raise _translate(exc) from exc

    def get_result(self, team: str, target_id: str) -> dict[str, Any] | None:
        item = self._get_item(_team_key(team), f"R#{target_id}")
        if item is None:
            return None
        document: dict[str, Any] = json.loads(item["document"])
        return document

    def due_targets(self, now: datetime) -> Iterator[tuple[str, str]]:
        for shard in range(DUE_SHARDS):
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": DUE_INDEX,
                "KeyConditionExpression": "due_shard = :shard AND next_check_at <= :now",
                "ExpressionAttributeValues": {":shard": {"S": str(shard)}, ":now": {"S": _ts(now)}},
            }
            while True:
                answer = self._call("query", **request)
                for item in answer.get("Items", []):
                    yield item["pk"]["S"].removeprefix("TEAM#"), item["sk"]["S"].removeprefix("T#")
                if "LastEvaluatedKey" not in answer:
                    break
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def lease(self, team: str, target_id: str, now: datetime, until: datetime) -> bool:
        try:
            self._send(
                "update_item",
                TableName=self._table,
                Key=_dump({"pk": _team_key(team), "sk": f"T#{target_id}"}),
                UpdateExpression="SET next_check_at = :until",
                ConditionExpression="attribute_exists(due_shard) AND next_check_at <= :now",
                ExpressionAttributeValues={":until": {"S": _ts(until)}, ":now": {"S": _ts(now)}},
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False  # checked, paused or deleted since the index said it was due
            raise _translate(exc) from exc
        return True

    # --- alert state and the outbox ----------------------------------------------------------

    def get_alert_state(self, team: str, target_id: str) -> AlertState:
        item = self._get_item(_team_key(team), f"A#{target_id}")
        if item is None:
            return AlertState()
        return AlertState(
            fingerprint=item.get("fingerprint"),
            announced=frozenset(item.get("announced", [])),
            failures=int(item.get("failures", 0)),
            unreachable=bool(item.get("unreachable", False)),
            unreachable_episode=int(item.get("unreachable_episode", 0)),
            problems=frozenset(item.get("problems", [])),
            problem_episode=int(item.get("problem_episode", 0)),
        )

    def put_alert_state(self, team: str, target_id: str, state: AlertState) -> None:
        item: dict[str, Any] = {
            "pk": _team_key(team),
            "sk": f"A#{target_id}",
            "announced": sorted(state.announced),
            "failures": state.failures,
            "unreachable": state.unreachable,
            "unreachable_episode": state.unreachable_episode,
            "problems": sorted(state.problems),
            "problem_episode": state.problem_episode,
        }
        if state.fingerprint is not None:
            item["fingerprint"] = state.fingerprint
        self._call("put_item", TableName=self._table, Item=_dump(item))

    def record_notification(self, notification: Notification) -> bool:
        item = {
            "pk": _team_key(notification.team),
            "sk": f"E#{notification.target_id}#{notification.key}",
            "key": notification.key,
            "outbox_status": PENDING,
            "outbox_at": _ts(notification.created_at),
            "notification": json.dumps(_notification_json(notification), separators=(",", ":")),
        }
        try:
            self._send(
                "put_item", TableName=self._table, Item=_dump(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise _translate(exc) from exc
        return True

    def pending_notifications(self, limit: int = 100) -> list[Notification]:
        answer = self._call(
            "query",
            TableName=self._table,
            IndexName=OUTBOX_INDEX,
            KeyConditionExpression="outbox_status = :pending",
            ExpressionAttributeValues={":pending": {"S": PENDING}},
            Limit=limit,
        )
        return [_notification(json.loads(_load(item)["notification"])) for item in answer.get("Items", [])]

    def mark_published(self, notification: Notification) -> None:
        self._call(
            "update_item",
            TableName=self._table,
            Key=_dump({"pk": _team_key(notification.team), "sk": f"E#{notification.target_id}#{notification.key}"}),
            UpdateExpression="SET published_at = :now REMOVE outbox_status",
            ExpressionAttributeValues={":now": {"S": _ts(datetime.now(UTC))}},
        )

    # --- certificates held in ACM/IAM ---------------------------------------------------------

    def put_managed(self, assessment: Assessment) -> None:
        item = {
            "pk": "INVENTORY",
            "sk": assessment.certificate.arn,
            "assessment": json.dumps(assessment_to_dict(assessment), separators=(",", ":")),
        }
        self._call("put_item", TableName=self._table, Item=_dump(item))

    def list_managed(self) -> list[Assessment]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "INVENTORY"}},
        }
        found: list[Assessment] = []
        while True:
            answer = self._call("query", **request)
            found += [assessment_from_dict(json.loads(_load(i)["assessment"])) for i in answer.get("Items", [])]
            if "LastEvaluatedKey" not in answer:
                return found
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def delete_managed(self, arn: str) -> None:
        self._call("delete_item", TableName=self._table, Key=_dump({"pk": "INVENTORY", "sk": arn}))

    # --- tokens ------------------------------------------------------------------------------

    def put_token(self, record: TokenRecord) -> None:
        item = {
            "pk": "TOKEN",
            "sk": record.token_id,
            "team": record.team,
            "admin": record.admin,
            "secret_hash": record.secret_hash,
            "created_at": _ts(record.created_at),
            "name": record.name,
        }
        self._call("put_item", TableName=self._table, Item=_dump(item))

    def get_token(self, token_id: str) -> TokenRecord | None:
        item = self._get_item("TOKEN", token_id)
        return None if item is None else _token(item)

    def list_tokens(self) -> list[TokenRecord]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "TOKEN"}},
        }
        records: list[TokenRecord] = []
        while True:
            answer = self._call("query", **request)
            records += [_token(_load(item)) for item in answer.get("Items", [])]
            if "LastEvaluatedKey" not in answer:
                return sorted(records, key=lambda r: (r.team, r.created_at))
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def delete_token(self, token_id: str) -> bool:
        answer = self._call(
            "delete_item", TableName=self._table, Key=_dump({"pk": "TOKEN", "sk": token_id}), ReturnValues="ALL_OLD"
        )
        return bool(answer.get("Attributes"))

    # --- plumbing ----------------------------------------------------------------------------

    def _get_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        answer = self._call("get_item", TableName=self._table, Key=_dump({"pk": pk, "sk": sk}), ConsistentRead=True)
        item = answer.get("Item")
        return None if item is None else _load(item)

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """One request, every failure translated into certwatch's errors."""
        try:
            return self._send(operation, **kwargs)
        except ClientError as exc:
            raise _translate(exc) from exc

    def _send(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """One request; DynamoDB's own refusals stay ClientError, for the caller to read their codes.

        A request that got no answer at all (connection refused or reset, timeout: botocore's
        BotoCoreError) is an outage: StoreError, which the API answers 503.
        """
        try:
            answer: dict[str, Any] = getattr(self._client, operation)(**kwargs)
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB unreachable: {type(exc).__name__}") from exc
        return answer


def _team_key(team: str) -> str:
    return f"TEAM#{team}"


def _ts(moment: datetime) -> str:
    """A fixed-width UTC timestamp: sorts as text in the same order as in time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _target_item(target: Target) -> dict[str, Any]:
    spec, endpoint = target.spec, target.spec.endpoint
    item: dict[str, Any] = {
        "pk": _team_key(target.team),
        "sk": f"T#{target.id}",
        "id": target.id,
        "team": target.team,
        "host": endpoint.host,
        "port": endpoint.port,
        "protocol": endpoint.protocol.value,
        "labels": spec.labels,
        "warn_days": spec.warn_days,
        "critical_days": spec.critical_days,
        "check_interval_minutes": spec.check_interval_minutes,
        "revocation": spec.revocation,
        "ari": spec.ari,
        "paused": target.paused,
        "source": target.source,
        "created_at": _ts(target.created_at),
        "updated_at": _ts(target.updated_at),
        "next_check_at": _ts(target.next_check_at),
    }
    optional = {
        "sni": endpoint.sni,
        "ca_bundle": spec.ca_bundle,
        "notes": spec.notes,
        "alert_days": None if spec.alert_days is None else list(spec.alert_days),
    }
    item |= {name: value for name, value in optional.items() if value is not None}
    if not target.paused:
        item["due_shard"] = due_shard(target.id)
    if target.latest is not None:
        item |= _summary_attributes(target.latest)
    return item


def _summary_attributes(summary: ResultSummary) -> dict[str, Any]:
    values: dict[str, Any] = {
        "latest_status": summary.status.value,
        "latest_codes": list(summary.codes),
        "latest_checked_at": _ts(summary.checked_at),
    }
    if summary.days_left is not None:
        values["latest_days_left"] = summary.days_left
    if summary.not_after is not None:
        values["latest_not_after"] = _ts(summary.not_after)
    if summary.certificates:
        values["latest_certificates"] = [
            {
                "fingerprint_sha256": c.fingerprint_sha256,
                "subject": c.subject,
                "issuer": c.issuer,
                "key": c.key,
                "not_after": _ts(c.not_after),
                "sans": list(c.sans),
            }
            for c in summary.certificates
        ]
    return values


def _target(item: dict[str, Any]) -> Target:
    endpoint: Endpoint = endpoint_from_parts(item["host"], int(item["port"]), item["protocol"], item.get("sni"))
    spec = TargetSpec(
        endpoint=endpoint,
        labels={str(k): str(v) for k, v in item.get("labels", {}).items()},
        warn_days=int(item["warn_days"]),
        critical_days=int(item["critical_days"]),
        check_interval_minutes=int(item["check_interval_minutes"]),
        ca_bundle=item.get("ca_bundle"),
        notes=item.get("notes"),
        alert_days=tuple(int(d) for d in item["alert_days"]) if "alert_days" in item else None,
        revocation=bool(item.get("revocation", True)),
        ari=bool(item.get("ari", True)),
    )
    latest = None
    if "latest_status" in item:
        latest = ResultSummary(
            status=Status(item["latest_status"]),
            days_left=int(item["latest_days_left"]) if "latest_days_left" in item else None,
            not_after=_parse_ts(item["latest_not_after"]) if "latest_not_after" in item else None,
            codes=tuple(item.get("latest_codes", [])),
            checked_at=_parse_ts(item["latest_checked_at"]),
            certificates=tuple(
                CertificateBrief(
                    fingerprint_sha256=c["fingerprint_sha256"],
                    subject=c["subject"],
                    issuer=c["issuer"],
                    key=c["key"],
                    not_after=_parse_ts(c["not_after"]),
                    sans=tuple(c.get("sans", [])),
                )
                for c in item.get("latest_certificates", [])
            ),
        )
    return Target(
        id=item["id"],
        team=item["team"],
        spec=spec,
        created_at=_parse_ts(item["created_at"]),
        updated_at=_parse_ts(item["updated_at"]),
        next_check_at=_parse_ts(item["next_check_at"]),
        paused=bool(item.get("paused", False)),
        source=item.get("source", "api"),
        latest=latest,
    )


def _notification_json(notification: Notification) -> dict[str, Any]:
    return {
        "key": notification.key,
        "team": notification.team,
        "target_id": notification.target_id,
        "document": notification.document,
        "subject": notification.subject,
        "text": notification.text,
        "created_at": _ts(notification.created_at),
        "attributes": notification.attributes,
    }


def _notification(data: dict[str, Any]) -> Notification:
    return Notification(
        key=data["key"],
        team=data["team"],
        target_id=data["target_id"],
        document=data["document"],
        subject=data["subject"],
        text=data["text"],
        created_at=_parse_ts(data["created_at"]),
        attributes=data.get("attributes", {}),
    )


def _token(item: dict[str, Any]) -> TokenRecord:
    return TokenRecord(
        token_id=item["sk"],
        team=item["team"],
        admin=bool(item["admin"]),
        secret_hash=item["secret_hash"],
        created_at=_parse_ts(item["created_at"]),
        name=item.get("name", ""),
    )


def _add_filter(request: dict[str, Any], where: TargetFilter) -> None:
    conditions, names, values = [], {}, {}
    if where.status is not None:
        conditions.append("latest_status = :status")
        values[":status"] = {"S": where.status.value}
    if where.label is not None:
        conditions.append("labels.#label = :label")
        names["#label"] = where.label[0]
        values[":label"] = {"S": where.label[1]}
    if where.expiring_before is not None:
        conditions.append("latest_not_after <= :before")
        values[":before"] = {"S": _ts(where.expiring_before)}
    if conditions:
        request["FilterExpression"] = " AND ".join(conditions)
        request["ExpressionAttributeValues"] |= values
        if names:
            request["ExpressionAttributeNames"] = names


def _dump(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _load(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _cancelled_by_condition(exc: ClientError) -> set[int]:
    """Positions of the transaction's items whose condition failed (empty unless it was only that)."""
    if _code(exc) != "TransactionCanceledException":
        return set()
    reasons = [str(r.get("Code") or "None") for r in exc.response.get("CancellationReasons", [])]
    if any(code in _RETRYABLE_CANCELLATIONS for code in reasons):
        return set()
    return {position for position, code in enumerate(reasons) if code == "ConditionalCheckFailed"}


def _translate(exc: ClientError) -> Exception:
    code = _code(exc)
    reasons = {str(r.get("Code")) for r in exc.response.get("CancellationReasons", [])}
    if code in _THROTTLED or reasons & _RETRYABLE_CANCELLATIONS:
        return ThrottledError("the data store is throttling requests; retry shortly")
    if code == "ResourceNotFoundException":
        return ConfigurationError("the DynamoDB table does not exist: deploy the data stack, or set CERTWATCH_TABLE")
    return StoreError(f"DynamoDB failed: {code or exc}")
