"""DynamoDB's capacity units of each request, computed from the items it reads and writes.

moto answers every request with a fixed ConsumedCapacity, not AWS's size-based one, so this
meter computes the units by DynamoDB's documented rules, from the items themselves:

- An item's size is the sum of its attribute names' and values' lengths (a string its UTF-8
  bytes, a number about one byte per two significant digits plus one, a binary its bytes, a
  boolean or null one byte, a list or map 3 bytes plus one per element plus its elements).
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
- A write costs one write unit per 1 KB of the item written, rounded up per item; PutItem,
  UpdateItem and DeleteItem are charged on the larger of the item before and after (a failed
  condition still costs its units); every item of a transaction costs twice. A strongly
  consistent read costs one read unit per 4 KB (an eventually consistent one half as much),
  rounded up per item for GetItem, on the sum of the items' sizes for a Query.
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html

The item before and after a write are read with a GetItem of a client of the meter's own (so
neither is counted), before the request and after its answer: exact when no one else writes
the same item meanwhile. Every request that takes it is also sent with
``ReturnConsumedCapacity=TOTAL``, so against AWS ``reported`` is DynamoDB's own figure (on moto
it is moto's fixed one).
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

_TAKES_CAPACITY = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
}


def value_size(value: dict[str, Any]) -> int:
    """The bytes DynamoDB counts for one attribute value (in its wire form, ``{"S": ...}``)."""
    (kind, data), *_ = value.items()
    match kind:
        case "S":
            return len(str(data).encode())
        case "N":
            return _number_size(str(data))
        case "B":
            return len(data) if isinstance(data, bytes) else math.ceil(len(data) * 3 / 4)
        case "BOOL" | "NULL":
            return 1
        case "SS":
            return sum(len(s.encode()) for s in data)
        case "NS":
            return sum(_number_size(n) for n in data)
        case "BS":
            return sum(len(b) for b in data)
        case "L":
            return 3 + sum(1 + value_size(v) for v in data)
        case "M":
            return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in data.items())
    raise ValueError(f"unknown attribute type {kind}")


def _number_size(text: str) -> int:
    digits = Decimal(text).normalize().as_tuple().digits
    return math.ceil(len(digits) / 2) + 1


def item_size(item: dict[str, Any] | None) -> int:
    """An item's size: its attribute names and values."""
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def write_units(before: dict[str, Any] | None, after: dict[str, Any] | None) -> int:
    """A write of one item: 1 KB units of the larger of the item before and after, at least one."""
    return max(1, math.ceil(max(item_size(before), item_size(after)) / 1024))


@dataclass(frozen=True)
class Index:
    """A global secondary index as the table describes it: its key, and the attributes it projects
    besides the keys (None: all of them)."""

    key: tuple[str, ...]
    projects: frozenset[str] | None

    @classmethod
    def described(cls, index: dict[str, Any]) -> Index:
        projection = index["Projection"]
        kind = projection.get("ProjectionType", "ALL")
        projects = None if kind == "ALL" else frozenset(projection.get("NonKeyAttributes", ()))
        return cls(tuple(k["AttributeName"] for k in index["KeySchema"]), projects)

    def entry(self, item: dict[str, Any] | None, table_key: Sequence[str]) -> dict[str, Any] | None:
        """What the index holds of ``item``: None when the item lacks the index's key (a sparse index)."""
        if item is None or any(name not in item for name in self.key):
            return None
        if self.projects is None:
            return item
        kept = {*table_key, *self.key, *self.projects}
        return {name: value for name, value in item.items() if name in kept}

    def write_units(self, before: dict[str, Any] | None, after: dict[str, Any] | None, table_key: Sequence[str]) -> int:
        """The units a write of one item costs this index."""
        old, new = self.entry(before, table_key), self.entry(after, table_key)
        if old == new:
            return 0
        units = [max(1, math.ceil(item_size(entry) / 1024)) for entry in (old, new) if entry is not None]
        if old is not None and new is not None and any(old[name] != new[name] for name in self.key):
            return sum(units)  # the old entry deleted, the new one put
        return max(units)


def read_units(sizes: list[int], *, consistent: bool) -> float:
    """A read of items totalling ``sizes``: 4 KB units, halved when eventually consistent."""
    units = max(1, math.ceil(sum(sizes) / 4096))
    return units if consistent else units / 2


@dataclass
class Meter:
    """Write and read units of every DynamoDB request a client sends, by operation."""

    peek: Any  # a DynamoDB client of the meter's own: the item before and after each write
    writes: Counter[str] = field(default_factory=Counter)
    reads: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    requests: Counter[str] = field(default_factory=Counter)
    reported: float = 0.0  # the units DynamoDB's ConsumedCapacity said (moto's fixed figure on moto)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _keys: dict[str, list[str]] = field(default_factory=dict)  # each table's key attributes, read once
    _indexes: dict[str, list[Index]] = field(default_factory=dict)  # and its global secondary indexes

    def attach(self, client: Any) -> Meter:
        client.meta.events.register("provide-client-params.dynamodb.*", self._ask_capacity)
        client.meta.events.register("before-call.dynamodb.*", self._before)
        client.meta.events.register("after-call.dynamodb.*", self._after)
        return self

    def snapshot(self) -> tuple[float, float, int]:
        """(write units, read units, requests) so far: subtract two to meter a stretch."""
        with self._lock:
            return sum(self.writes.values()), sum(self.reads.values()), sum(self.requests.values())

    def _ask_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in _TAKES_CAPACITY:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        request = json.loads(params["body"] or b"{}")
        context["units_consistent"] = bool(request.get("ConsistentRead"))
        written = self._written(model.name, request)
        if written is not None:
            for table in {table for table, _, _ in written}:
                self._describe(table)
            context["units_written"] = [(table, key, self._item(table, key), twice) for table, key, twice in written]

    def _after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        name = model.name
        writes = 0
        for table, key, before, twice in context.get("units_written", ()):
            after = self._item(table, key)
            units = write_units(before, after)
            writes += 2 * units if twice else units
            writes += sum(index.write_units(before, after, self._keys[table]) for index in self._indexes[table])
        reads = 0.0
        if name == "GetItem":
            reads = read_units([item_size(parsed.get("Item"))], consistent=_consistent(context))
        elif name in ("Query", "Scan"):
            sizes = [item_size(item) for item in parsed.get("Items", [])]
            reads = read_units(sizes, consistent=_consistent(context))
        elif name == "BatchGetItem":
            found = [item for items in parsed.get("Responses", {}).values() for item in items]
            reads = sum(read_units([item_size(item)], consistent=False) for item in found)
        consumed = parsed.get("ConsumedCapacity") or []
        reported = sum(c.get("CapacityUnits", 0.0) for c in (consumed if isinstance(consumed, list) else [consumed]))
        with self._lock:
            self.requests[name] += 1
            self.writes[name] += writes
            self.reads[name] += reads
            self.reported += reported

    def _written(self, name: str, request: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]] | None:
        """(table, key, in a transaction) of each item a request writes; None for a read."""
        match name:
            case "PutItem":
                return [(request["TableName"], self._key_of(request["TableName"], request["Item"]), False)]
            case "UpdateItem" | "DeleteItem":
                return [(request["TableName"], request["Key"], False)]
            case "TransactWriteItems":
                found = []
                for entry in request["TransactItems"]:
                    ((kind, part),) = entry.items()
                    key = self._key_of(part["TableName"], part["Item"]) if kind == "Put" else part["Key"]
                    found.append((part["TableName"], key, True))
                return found
            case "BatchWriteItem":
                return [
                    (
                        table,
                        self._key_of(table, w["PutRequest"]["Item"])
                        if "PutRequest" in w
                        else w["DeleteRequest"]["Key"],
                        False,
                    )
                    for table, entries in request["RequestItems"].items()
                    for w in entries
                ]
        return None

    def _key_of(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        self._describe(table)
        return {name: item[name] for name in self._keys[table]}

    def _describe(self, table: str) -> None:
        if table not in self._keys:
            described = self.peek.describe_table(TableName=table)["Table"]
            self._keys[table] = [k["AttributeName"] for k in described["KeySchema"]]
            self._indexes[table] = [Index.described(i) for i in described.get("GlobalSecondaryIndexes", ())]

    def _item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.peek.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return item


def _consistent(context: dict[str, Any]) -> bool:
    return bool(context.get("units_consistent"))
