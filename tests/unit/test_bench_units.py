"""The meter's capacity units follow DynamoDB's documented rules for item sizes and rounding."""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws

from bench.units import Index, Meter, item_size, read_units, write_units


def test_an_item_is_its_names_and_values() -> None:
    # "pk" (2) + "a#1" (3), "n" (1) + 123 (2 digits of a pair each, plus one: 3), "ok" (2) + true (1)
    assert item_size({"pk": {"S": "a#1"}, "n": {"N": "123"}, "ok": {"BOOL": True}}) == 12
    # a map: 3 bytes, then per element 1 byte, its name and its value
    assert item_size({"m": {"M": {"k": {"S": "vv"}}}}) == 1 + 3 + 1 + 1 + 2


def test_a_write_is_one_unit_per_kilobyte_of_the_larger_image() -> None:
    small, big = {"pk": {"S": "x"}}, {"pk": {"S": "x"}, "doc": {"S": "y" * 1500}}
    assert write_units(None, small) == 1
    assert write_units(big, small) == 2  # charged on the item before, the larger
    assert write_units(small, None) == 1


def test_a_read_is_one_unit_per_four_kilobytes_halved_when_eventually_consistent() -> None:
    assert read_units([100], consistent=True) == 1
    assert read_units([3000, 3000], consistent=True) == 2  # a query sums its items, then rounds
    assert read_units([4097], consistent=False) == 1.0


KEYS_ONLY = Index.described(
    {
        "KeySchema": [{"AttributeName": "due_shard"}, {"AttributeName": "next_check_at"}],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    }
)
TABLE_KEY = ("pk", "sk")


def _target(**extra: str) -> dict[str, Any]:
    return {"pk": {"S": "team#a"}, "sk": {"S": "target#1"}, **{name: {"S": value} for name, value in extra.items()}}


def test_an_index_costs_nothing_when_its_entry_does_not_change() -> None:
    before = _target(due_shard="3", next_check_at="2026-12-07T10:00", note="old")
    after = _target(due_shard="3", next_check_at="2026-12-07T10:00", note="new")  # not projected: no write
    assert KEYS_ONLY.write_units(before, after, TABLE_KEY) == 0
    assert KEYS_ONLY.write_units(_target(), _target(note="x"), TABLE_KEY) == 0  # not in the sparse index


def test_an_index_key_change_is_a_delete_and_a_put() -> None:
    before = _target(due_shard="3", next_check_at="2026-12-07T10:00")
    after = _target(due_shard="3", next_check_at="2026-12-07T16:00")
    assert KEYS_ONLY.write_units(before, after, TABLE_KEY) == 2
    assert KEYS_ONLY.write_units(None, after, TABLE_KEY) == 1  # entering the index
    assert KEYS_ONLY.write_units(before, None, TABLE_KEY) == 1  # leaving it
    assert KEYS_ONLY.write_units(before, _target(), TABLE_KEY) == 1  # its key attribute removed


def test_an_index_projecting_everything_is_rewritten_by_any_change_at_its_entrys_size() -> None:
    everything = Index.described({"KeySchema": [{"AttributeName": "outbox"}], "Projection": {"ProjectionType": "ALL"}})
    before, after = _target(outbox="1", doc="y" * 1500), _target(outbox="1", doc="z" * 1500)
    assert everything.write_units(before, after, TABLE_KEY) == 2  # one put of a 2 KB entry
    assert everything.entry(after, TABLE_KEY) == after
    include = Index.described(
        {
            "KeySchema": [{"AttributeName": "outbox"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["state"]},
        }
    )
    assert include.entry(_target(outbox="1", state="s", doc="d"), TABLE_KEY) == _target(outbox="1", state="s")


def test_the_meter_adds_the_index_writes_a_request_causes() -> None:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "due_shard", "next_check_at")
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "due",
                    "KeySchema": [
                        {"AttributeName": "due_shard", "KeyType": "HASH"},
                        {"AttributeName": "next_check_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
        )
        meter = Meter(peek=boto3.client("dynamodb", region_name="us-east-1")).attach(dynamodb)
        key = {"pk": {"S": "team#a"}, "sk": {"S": "target#1"}}
        dynamodb.put_item(TableName="t", Item={**key, "due_shard": {"S": "3"}, "next_check_at": {"S": "10:00"}})
        assert meter.writes["PutItem"] == 1 + 1  # the item, and its entry in the index

        def update(expression: str, value: str) -> None:
            dynamodb.update_item(
                TableName="t", Key=key, UpdateExpression=expression, ExpressionAttributeValues={":v": {"S": value}}
            )

        update("SET note = :v", "unprojected")
        assert meter.writes["UpdateItem"] == 1
        update("SET next_check_at = :v", "16:00")
        assert meter.writes["UpdateItem"] == 1 + 1 + 2  # the index's old entry deleted, the new one put
