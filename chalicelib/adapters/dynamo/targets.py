"""Targets, their latest results, the ``slots`` index the sweep reads and the sweeps' claims."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.dynamo.holders import HolderItems
from chalicelib.adapters.dynamo.table import cancelled_by_condition, condition_failed, translate
from chalicelib.domain.alerts import Holder
from chalicelib.domain.cadence import Sighting
from chalicelib.domain.models import TargetReport
from chalicelib.domain.schedule import Slot, Window, claim, phase_ranges
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
    reschedules,
)
from chalicelib.errors import DuplicateTargetError, InvalidValueError, NotFoundError, ThrottledError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, UpdateTypeDef

logger = logging.getLogger(__name__)

SLOT_INDEX = "slots"
# The index that held each target's next check before slots (moved on each check: 2 write units). Read only to
# move the targets still on it onto their slots, a few thousand a sweep, soonest first; a later release drops it.
DUE_INDEX = "due"
MOVES_PER_SWEEP = 5000
# The sweep's shards of the slots index queried at once (each shard's intervals, then its windows' ranges, in turn).
SHARD_READERS = 8
CLAIM_ATTEMPTS = 5


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

    def get_targets(self, refs: Sequence[tuple[str, str]], *, consistent: bool = True) -> dict[tuple[str, str], Target]:
        found: dict[tuple[str, str], Target] = {}
        keys = [(codec.TEAM + team, codec.TARGET + target_id) for team, target_id in refs]
        for item in self._get_items(keys, consistent=consistent, what="targets unread"):
            target = codec.target(item)
            found[(target.team, target.id)] = target
        return found

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
            removes += ["slot_shard", *codec.LEGACY_SCHEDULE]  # off the index: not swept
        elif reschedules(changes):  # as apply_changes says: its slot starts now (put on it below)
            sets["scheduled_at"] = codec.ts(now)
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
        target = codec.target(codec.load(answer["Attributes"]))
        if reschedules(changes) and not target.paused:  # unless paused, anchored anew or given an interval since
            condition = "scheduled_at = :anchor AND check_interval_minutes = :interval AND paused = :paused"
            self._put_on_slot(target, condition, {":paused": False})
        return target

    def _put_on_slot(self, target: Target, condition: str, given: Mapping[str, Any] | None = None) -> None:
        """Put the target on the slot of its anchor and interval, off the ``due`` index if it was on it: if
        ``condition`` (with the values ``given``) holds, else another write changed its schedule meanwhile and put
        it where it belongs."""
        values = dict(given or {}) | {f":{name}": value for name, value in codec.slot_attributes(target).items()}
        values |= {":anchor": codec.ts(target.scheduled_at), ":interval": target.spec.check_interval_minutes}
        try:
            self._send(
                self._client.update_item,
                TableName=self._table,
                Key=codec.dump({"pk": codec.TEAM + target.team, "sk": codec.TARGET + target.id}),
                UpdateExpression="SET scheduled_at = :anchor, slot_shard = :slot_shard, slot = :slot REMOVE "
                + ", ".join(codec.LEGACY_SCHEDULE),
                ConditionExpression=condition,
                ExpressionAttributeValues={name: codec.attribute(value) for name, value in values.items()},
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise translate(exc) from exc

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
        *,
        sightings: Sequence[Sighting] = (),
    ) -> None:
        try:
            self._send(
                self._client.transact_write_items,
                TransactItems=[
                    {"Update": self._summary_update(team, target_id, summary)},
                    {"Put": {"TableName": self._table, "Item": self._result_item(team, target_id, summary, report)}},
                    *(self._first_sighting(team, target_id, s) for s in sightings),
                ],
            )
        except ClientError as exc:
            if 0 in cancelled_by_condition(exc):  # the target item's condition: it does not exist
                raise NotFoundError(f"no target {target_id}") from exc
            raise translate(exc) from exc

    def save_summary(self, team: str, target_id: str, summary: ResultSummary) -> None:
        # One plain write of the target's item, its full result kept, no index key moved: 1 write unit.
        try:
            self._send(self._client.update_item, **self._summary_update(team, target_id, summary))
        except ClientError as exc:
            if condition_failed(exc):
                raise NotFoundError(f"no target {target_id}") from exc
            raise translate(exc) from exc

    def refresh_result(self, team: str, target_id: str, summary: ResultSummary, report: TargetReport) -> None:
        # Two plain writes, the report first: half the units of the transaction save_result sends.
        item = self._result_item(team, target_id, summary, report)
        self._call(self._client.put_item, TableName=self._table, Item=item)
        try:
            self.save_summary(team, target_id, summary)
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

    def _summary_update(self, team: str, target_id: str, summary: ResultSummary) -> UpdateTypeDef:
        """The update of a target's item to a check's summary (unless it was deleted); its slot stays."""
        values = codec.summary_attributes(summary)
        names = {f"#{i}": name for i, name in enumerate(values)}
        sets = ", ".join(f"#{i} = :{i}" for i in range(len(values)))
        removes = [name for name in codec.SUMMARY_OPTIONAL if name not in values]
        for offset, name in enumerate(removes, start=len(values)):
            names[f"#{offset}"] = name
        expression = f"SET {sets}"
        if removes:
            expression += " REMOVE " + ", ".join(f"#{i}" for i in range(len(values), len(names)))
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

    def due_targets(self, *windows: tuple[datetime, datetime]) -> Iterator[tuple[str, str, datetime]]:
        # The shards are independent: SHARD_READERS of them are queried at once, each shard's Queries in turn.
        def in_shard(shard: str) -> list[tuple[str, str, datetime]]:
            return list(self._due_in(shard, windows))

        with ThreadPoolExecutor(max_workers=SHARD_READERS, thread_name_prefix="certwatch-shard") as pool:
            for found in pool.map(in_shard, map(str, range(codec.DUE_SHARDS))):
                yield from found

    def _due_in(self, shard: str, windows: Sequence[tuple[datetime, datetime]]) -> Iterator[tuple[str, str, datetime]]:
        """The targets of one shard with a moment of their slot in ``windows``, and the latest such moment."""
        for period in self._periods(shard):
            for after, until in windows:
                for low, high in phase_ranges(period, after, until):
                    found = self._query(
                        TableName=self._table,
                        IndexName=SLOT_INDEX,
                        KeyConditionExpression="slot_shard = :shard AND slot BETWEEN :low AND :high",
                        ExpressionAttributeValues={
                            ":shard": {"S": shard},
                            ":low": {"S": codec.slot_key(Slot(period, low))},
                            ":high": {"S": codec.slot_key(Slot(period, high))},
                        },
                    )
                    for item in found:  # the index holds the keys only
                        moment = codec.slot_of_key(item["slot"]).latest(until)
                        yield item["pk"].removeprefix(codec.TEAM), item["sk"].removeprefix(codec.TARGET), moment

    def _periods(self, shard: str) -> Iterator[int]:
        """The intervals (seconds) of a shard's slots, each found with one Query of a single key past the last."""
        past = ""
        while True:
            condition, values = "slot_shard = :shard", {":shard": {"S": shard}}
            if past:
                condition += " AND slot > :past"
                values[":past"] = {"S": past}
            answer = self._call(
                self._client.query,
                TableName=self._table,
                IndexName=SLOT_INDEX,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                Limit=1,
            )
            if not answer.get("Items"):
                return
            period = codec.slot_of_key(codec.load(answer["Items"][0])["slot"]).period
            yield period
            past = codec.slot_key(Slot(period, codec.LAST_PHASE))  # past every phase of the period

    def claim_window(self, now: datetime) -> Window | None:
        # The sweeps' state is read, then written with the condition that no sweep wrote it meanwhile.
        for _ in range(CLAIM_ATTEMPTS):
            item = self._get_item(codec.SCHEDULE, codec.SWEPT)
            before = None if item is None else codec.sweeps(item)
            claimed = claim(before, now)
            if claimed is None:
                return None  # a sweep at this moment or later has the window
            after, window = claimed
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
            if item is not None:
                condition = {
                    "ConditionExpression": "#until = :until",
                    "ExpressionAttributeNames": {"#until": "until"},
                    "ExpressionAttributeValues": {":until": {"S": item["until"]}},
                }
            try:
                self._send(
                    self._client.put_item, TableName=self._table, Item=codec.dump(codec.sweeps_item(after)), **condition
                )
            except ClientError as exc:
                if condition_failed(exc):
                    continue  # another sweep claimed meanwhile: as far as this one, or not
                raise translate(exc) from exc
            try:
                self._move_onto_slots(window.since, now)
            except Exception:  # the next sweep moves them; this one's window stands, and what is on slots
                logger.exception("moving targets off the due index onto their slots failed")
            return window
        raise ThrottledError("sweeps kept claiming at once; retry")

    def _move_onto_slots(self, since: datetime, now: datetime) -> None:
        """Move targets still on the ``due`` index onto their slots, soonest first: anchored at the next check it
        held, or at now if that was before this sweep's window (a moment at its end: this sweep queues it, unless
        it was checked within FIRST_GRACE)."""
        per_shard = MOVES_PER_SWEEP // codec.DUE_SHARDS
        found: list[tuple[str, str, datetime]] = []
        for shard in map(str, range(codec.DUE_SHARDS)):
            request = {
                "TableName": self._table,
                "IndexName": DUE_INDEX,
                "KeyConditionExpression": "due_shard = :shard",
                "ExpressionAttributeValues": {":shard": {"S": shard}},
                "Limit": per_shard,
            }
            for item in itertools.islice(self._query(**request), per_shard):
                team, target_id = item["pk"].removeprefix(codec.TEAM), item["sk"].removeprefix(codec.TARGET)
                found.append((team, target_id, codec.parse_ts(item["next_check_at"])))
        if not found:
            return
        targets = self.get_targets([(team, target_id) for team, target_id, _ in found])
        moves = [
            replace(target, scheduled_at=next_check_at if next_check_at > since else now)
            for team, target_id, next_check_at in found
            if (target := targets.get((team, target_id))) is not None
        ]
        # Unless an edit moved it meanwhile (paused, resumed, a new interval: each takes it off the due index).
        condition = "attribute_exists(due_shard) AND check_interval_minutes = :interval"
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda target: self._put_on_slot(target, condition), moves))


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
