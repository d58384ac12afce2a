"""Targets, their latest results and the ``due`` index the sweep reads."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.dynamo.holders import HolderItems
from chalicelib.adapters.dynamo.table import cancelled_by_condition, condition_failed, translate
from chalicelib.domain.alerts import Holder
from chalicelib.domain.cadence import Sighting
from chalicelib.domain.models import TargetReport
from chalicelib.domain.targets import (
    CLEARABLE,
    SPEC_CHANGES,
    Page,
    ResultSummary,
    Target,
    TargetChanges,
    TargetFilter,
    decode_cursor,
    encode_cursor,
)
from chalicelib.errors import DuplicateTargetError, InvalidValueError, NotFoundError, ThrottledError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, UpdateTypeDef

DUE_INDEX = "due"
BATCH_GET_KEYS = 100  # BatchGetItem's most keys a request


class TargetItems(HolderItems):
    """Targets (``T#``), the uniqueness of their endpoints (``U#``) and their latest results (``R#``)."""

    def create_target(self, target: Target) -> None:
        team = codec.TEAM + target.team
        try:
            self._send(
                self._client.transact_write_items,
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": codec.dump(codec.target_item(target)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": codec.dump({"pk": team, "sk": codec.UNIQUE + target.key, "target_id": target.id}),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ],
            )
        except ClientError as exc:
            if 1 not in cancelled_by_condition(exc):  # not the uniqueness item: not a duplicate
                raise translate(exc) from exc
            existing = self._get_item(team, codec.UNIQUE + target.key)
            if existing is None:  # the racing writer already deleted it again: say so, retryable
                raise ThrottledError("a concurrent change to the same endpoint; retry") from exc
            raise DuplicateTargetError(str(existing["target_id"])) from exc

    def get_target(self, team: str, target_id: str) -> Target:
        item = self._get_item(codec.TEAM + team, codec.TARGET + target_id)
        if item is None:
            raise NotFoundError(f"no target {target_id}")
        return codec.target(item)

    def get_targets(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Target]:
        found: dict[tuple[str, str], Target] = {}
        unique = list(dict.fromkeys(refs))
        for start in range(0, len(unique), BATCH_GET_KEYS):
            keys = [
                codec.dump({"pk": codec.TEAM + team, "sk": codec.TARGET + target_id})
                for team, target_id in unique[start : start + BATCH_GET_KEYS]
            ]
            for item in self._batch_get(keys):
                target = codec.target(codec.load(item))
                found[(target.team, target.id)] = target
        return found

    def _batch_get(self, keys: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The items of ``keys``, strongly consistent; ThrottledError when DynamoDB leaves some unread."""
        request = {self._table: {"Keys": keys, "ConsistentRead": True}}
        for answer in self._batched(self._client.batch_get_item, request, "UnprocessedKeys", "targets unread"):
            yield from answer.get("Responses", {}).get(self._table, [])

    def list_targets(self, team: str, *, limit: int, cursor: str | None, where: TargetFilter) -> Page:
        partition = codec.TEAM + team
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": partition}, ":prefix": {"S": codec.TARGET}},
            "Limit": min(1000, max(limit + 1, 100)),
        }
        _add_filter(request, where)
        if cursor:
            after = decode_cursor(cursor).get("sk")
            if not isinstance(after, str) or not after.startswith(codec.TARGET):
                raise InvalidValueError("invalid cursor", field="cursor", code="invalid_cursor")
            request["ExclusiveStartKey"] = {"pk": {"S": partition}, "sk": {"S": after}}
        # One more than the page: whether there is a next one.
        found = [codec.target(item) for item in itertools.islice(self._query(**request), limit + 1)]
        page = found[:limit]
        more = len(found) > limit
        return Page(tuple(page), encode_cursor({"sk": codec.TARGET + page[-1].id}) if more else None)

    def update_target(self, team: str, target_id: str, changes: TargetChanges, now: datetime) -> Target:
        sets: dict[str, Any] = {"updated_at": codec.ts(now)}
        for name in SPEC_CHANGES:
            value = getattr(changes, name)
            if value is not None:
                sets[name] = codec.plain(value)
        removes = [name for name in CLEARABLE if name in changes.cleared]
        if changes.paused is not None:
            sets["paused"] = changes.paused
            if changes.paused:
                removes.append("due_shard")
            else:  # as apply_changes says: checked at the next sweep
                sets["due_shard"] = codec.due_shard(target_id)
                sets["next_check_at"] = codec.ts(now)
        names = {f"#{i}": name for i, name in enumerate([*sets, *removes])}
        by_name = {name: alias for alias, name in names.items()}
        expression = "SET " + ", ".join(f"{by_name[name]} = :{i}" for i, name in enumerate(sets))
        if removes:
            expression += " REMOVE " + ", ".join(by_name[name] for name in removes)
        try:
            answer = self._send(
                self._client.update_item,
                TableName=self._table,
                Key=codec.dump({"pk": codec.TEAM + team, "sk": codec.TARGET + target_id}),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={f":{i}": codec.attribute(v) for i, v in enumerate(sets.values())},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if condition_failed(exc):
                raise NotFoundError(f"no target {target_id}") from exc
            raise translate(exc) from exc
        return codec.target(codec.load(answer["Attributes"]))

    def delete_target(self, team: str, target_id: str) -> None:
        partition = codec.TEAM + team
        item = self._get_item(partition, codec.TARGET + target_id)
        if item is None:
            raise NotFoundError(f"no target {target_id}")
        try:
            self._send(
                self._client.transact_write_items,
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": codec.dump({"pk": partition, "sk": codec.TARGET + target_id}),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": codec.dump({"pk": partition, "sk": codec.UNIQUE + codec.unique_key(item)}),
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": codec.dump({"pk": partition, "sk": codec.RESULT + target_id}),
                        }
                    },
                ],
            )
        except ClientError as exc:
            if 0 in cancelled_by_condition(exc):  # the target item's condition: it does not exist
                raise NotFoundError(f"no target {target_id}") from exc
            raise translate(exc) from exc
        # What was announced about it: its notifications, then its alert state; and its certificate history.
        self._delete_prefixed(partition, f"{codec.OUTBOX}{target_id}:")
        self._delete_prefixed(partition, f"{codec.HISTORY}{target_id}#")
        key = {"pk": partition, "sk": codec.ALERTS + target_id}
        self._call(self._client.delete_item, TableName=self._table, Key=codec.dump(key))
        # And its place among the holders of what it served (the team's certificate events name them).
        target = codec.target(item)
        holder = Holder("endpoint", target_id, str(target.endpoint))
        for brief in target.latest.certificates if target.latest is not None else ():
            self.leave_certificate(team, brief.fingerprint_sha256, holder)

    def _delete_prefixed(self, partition: str, prefix: str) -> None:
        found = self._query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": partition}, ":prefix": {"S": prefix}},
            ProjectionExpression="pk, sk",
            # After the target's own item is gone: every write conditioned on it that got in first is seen.
            ConsistentRead=True,
        )
        keys = [{"DeleteRequest": {"Key": codec.dump(item)}} for item in found]
        for start in range(0, len(keys), 25):  # BatchWriteItem takes 25 at most
            request = {self._table: keys[start : start + 25]}
            for _ in self._batched(self._client.batch_write_item, request, "UnprocessedItems", "items undeleted"):
                pass

    def save_result(
        self,
        team: str,
        target_id: str,
        summary: ResultSummary,
        report: TargetReport,
        next_check_at: datetime,
        *,
        sightings: Sequence[Sighting] = (),
    ) -> None:
        try:
            self._send(
                self._client.transact_write_items,
                TransactItems=[
                    {"Update": self._summary_update(team, target_id, summary, next_check_at)},
                    {"Put": {"TableName": self._table, "Item": self._result_item(team, target_id, summary, report)}},
                    *(self._first_sighting(team, target_id, s) for s in sightings),
                ],
            )
        except ClientError as exc:
            if 0 in cancelled_by_condition(exc):  # the target item's condition: it does not exist
                raise NotFoundError(f"no target {target_id}") from exc
            raise translate(exc) from exc

    def save_summary(self, team: str, target_id: str, summary: ResultSummary, next_check_at: datetime) -> None:
        # One plain write of the target's item, its full result kept: a third of the transaction's units or less.
        try:
            self._send(self._client.update_item, **self._summary_update(team, target_id, summary, next_check_at))
        except ClientError as exc:
            if condition_failed(exc):
                raise NotFoundError(f"no target {target_id}") from exc
            raise translate(exc) from exc

    def refresh_result(
        self, team: str, target_id: str, summary: ResultSummary, report: TargetReport, next_check_at: datetime
    ) -> None:
        # Two plain writes, the report first: half the units of the transaction save_result sends.
        item = self._result_item(team, target_id, summary, report)
        self._call(self._client.put_item, TableName=self._table, Item=item)
        try:
            self.save_summary(team, target_id, summary, next_check_at)
        except NotFoundError:  # deleted meanwhile: what was just written must not outlive it
            self._call(self._client.delete_item, TableName=self._table, Key={k: item[k] for k in ("pk", "sk")})
            raise

    def _result_item(self, team: str, target_id: str, summary: ResultSummary, report: TargetReport) -> dict[str, Any]:
        """The item of a target's full report."""
        return codec.dump(
            {
                "pk": codec.TEAM + team,
                "sk": codec.RESULT + target_id,
                "report": codec.compact_json(codec.report_record(report)),
                "checked_at": codec.ts(summary.checked_at),
            }
        )

    def _summary_update(
        self, team: str, target_id: str, summary: ResultSummary, next_check_at: datetime
    ) -> UpdateTypeDef:
        """The update of a target's item to a check's summary and its next check (unless it was deleted)."""
        values = codec.summary_attributes(summary) | {"next_check_at": codec.ts(next_check_at)}
        names = {f"#{i}": name for i, name in enumerate(values)}
        sets = ", ".join(f"#{i} = :{i}" for i in range(len(values)))
        removes = [*(name for name in codec.SUMMARY_OPTIONAL if name not in values), codec.LEASE]  # the lease is over
        for offset, name in enumerate(removes, start=len(values)):
            names[f"#{offset}"] = name
        expression = f"SET {sets} REMOVE " + ", ".join(f"#{i}" for i in range(len(values), len(names)))
        return {
            "TableName": self._table,
            "Key": codec.dump({"pk": codec.TEAM + team, "sk": codec.TARGET + target_id}),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {f":{i}": codec.attribute(v) for i, v in enumerate(values.values())},
        }

    def _first_sighting(self, team: str, target_id: str, sighting: Sighting) -> TransactWriteItemTypeDef:
        """A sighting as one item of a transaction: written unless the certificate was seen before.

        An update that sets each attribute only where it is missing: a condition would cancel
        the whole transaction when two checks of the target race to record the same certificate.
        """
        item = codec.sighting_item(team, target_id, sighting)
        key = {name: item.pop(name) for name in ("pk", "sk")}
        names = {f"#{i}": name for i, name in enumerate(item)}
        sets = ", ".join(f"#{i} = if_not_exists(#{i}, :{i})" for i in range(len(item)))
        return {
            "Update": {
                "TableName": self._table,
                "Key": codec.dump(key),
                "UpdateExpression": f"SET {sets}",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {f":{i}": codec.attribute(v) for i, v in enumerate(item.values())},
            }
        }

    def get_result(self, team: str, target_id: str) -> TargetReport | None:
        item = self._get_item(codec.TEAM + team, codec.RESULT + target_id)
        if item is None:
            return None
        # Items written before the report had a format of its own hold the API's document instead.
        return codec.report(json.loads(item["report"] if "report" in item else item["document"]))

    def due_targets(self, now: datetime, *, after: datetime | None = None) -> Iterator[tuple[str, str]]:
        values = {":now": {"S": codec.ts(now)}}
        if after is None:
            condition = "due_shard = :shard AND next_check_at <= :now"
        else:  # BETWEEN holds both ends: the window starts a microsecond, the stamps' unit, after ``after``
            condition = "due_shard = :shard AND next_check_at BETWEEN :after AND :now"
            values[":after"] = {"S": codec.ts(after + timedelta(microseconds=1))}
        for shard in range(codec.DUE_SHARDS):
            due = self._query(
                TableName=self._table,
                IndexName=DUE_INDEX,
                KeyConditionExpression=condition,
                ExpressionAttributeValues={":shard": {"S": str(shard)}} | values,
            )
            for item in due:  # the index holds the keys only
                yield item["pk"].removeprefix(codec.TEAM), item["sk"].removeprefix(codec.TARGET)

    def lease(self, team: str, target_id: str, now: datetime, until: datetime) -> bool:
        try:
            self._send(
                self._client.update_item,
                TableName=self._table,
                Key=codec.dump({"pk": codec.TEAM + team, "sk": codec.TARGET + target_id}),
                # Not next_check_at, the due index's key: moving it would cost the index a delete and a put, and
                # the check landing moves it anyway. Until then the index still lists the target as due.
                UpdateExpression="SET #lease = :until",
                ConditionExpression=(
                    "attribute_exists(due_shard) AND next_check_at <= :now"
                    " AND (attribute_not_exists(#lease) OR #lease <= :now)"
                ),
                ExpressionAttributeNames={"#lease": codec.LEASE},
                ExpressionAttributeValues={":until": {"S": codec.ts(until)}, ":now": {"S": codec.ts(now)}},
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False  # checked, paused or deleted since the index said it was due
            raise translate(exc) from exc
        return True

    def claim_window(self, now: datetime) -> tuple[bool, datetime | None]:
        # One conditional write moves the windows' end to now, unless a sweep has already claimed as far,
        # and answers where the end was: the window's start.
        try:
            answer = self._send(
                self._client.update_item,
                TableName=self._table,
                Key=codec.dump({"pk": codec.SCHEDULE, "sk": codec.SWEPT}),
                UpdateExpression="SET #until = :now",
                ConditionExpression="attribute_not_exists(#until) OR #until < :now",
                ExpressionAttributeNames={"#until": "until"},
                ExpressionAttributeValues={":now": {"S": codec.ts(now)}},
                ReturnValues="UPDATED_OLD",
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False, None  # a sweep at this moment or later has the window
            raise translate(exc) from exc
        before = answer.get("Attributes", {}).get("until")
        return True, None if before is None else codec.parse_ts(before["S"])


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
        values[":before"] = {"S": codec.ts(where.expiring_before)}
    if conditions:
        request["FilterExpression"] = " AND ".join(conditions)
        request["ExpressionAttributeValues"] |= values
        if names:
            request["ExpressionAttributeNames"] = names
