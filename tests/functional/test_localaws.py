"""The local stack's moto server (lab/localaws.py): one request at a time, transactions that still roll back.

It backs up only the items a transaction touches (moto itself deep-copies the whole table), so
these tests pin what a cancelled transaction must leave behind, and that concurrent transactions
from many threads all land, answered 200. The server runs as the local stack runs it, in a
process of its own (its changes to moto stay out of this one).
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lab.localaws import LocalAwsProcess, Serialised
from tests.support.net import free_port

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        QueryOutputTypeDef,
        TransactWriteItemsOutputTypeDef,
        TransactWriteItemTypeDef,
    )

TABLE = "local-aws-test"


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("local-aws") / "local.log"


@pytest.fixture(scope="module")
def aws(log_file: Path) -> Iterator[LocalAwsProcess]:
    server = LocalAwsProcess(free_port(), log_file)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def dynamodb(aws: LocalAwsProcess) -> Any:
    client = boto3.client(
        "dynamodb",
        endpoint_url=aws.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(max_pool_connections=32, retries={"total_max_attempts": 1}),  # no retry hides a 500
    )
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def put(pk: str, sk: str, **values: str) -> TransactWriteItemTypeDef:
    item = {"pk": {"S": pk}, "sk": {"S": sk}} | {name: {"S": value} for name, value in values.items()}
    return {"Put": {"TableName": TABLE, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}


def get(dynamodb: DynamoDBClient, pk: str, sk: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = dynamodb.get_item(
        TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    ).get("Item")
    return item


def test_a_cancelled_transaction_leaves_every_item_as_it_was(dynamodb: DynamoDBClient) -> None:
    dynamodb.transact_write_items(
        TransactItems=[put("cancel", "kept", v="before"), put("cancel", "updated", v="before")]
    )
    update: TransactWriteItemTypeDef = {
        "Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": "cancel"}, "sk": {"S": "updated"}},
            "UpdateExpression": "SET v = :v",
            "ExpressionAttributeValues": {":v": {"S": "after"}},
        }
    }

    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[put("cancel", "new"), update, put("cancel", "kept", v="again")]  # the last one fails
        )

    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert get(dynamodb, "cancel", "new") is None
    for sk in ("kept", "updated"):
        assert get(dynamodb, "cancel", sk) == {"pk": {"S": "cancel"}, "sk": {"S": sk}, "v": {"S": "before"}}


def test_a_transaction_that_succeeds_writes_all_its_items(dynamodb: DynamoDBClient) -> None:
    dynamodb.transact_write_items(TransactItems=[put("ok", "a", v="1"), put("ok", "b", v="2")])

    assert (get(dynamodb, "ok", "a") or {}).get("v") == {"S": "1"}
    assert (get(dynamodb, "ok", "b") or {}).get("v") == {"S": "2"}


def test_concurrent_writes_and_reads_of_one_partition_are_all_answered(dynamodb: DynamoDBClient) -> None:
    """moto alone raises "dictionary changed size during iteration" (a 500) when a query meets a write."""

    def work(number: int) -> int:
        answer: QueryOutputTypeDef | TransactWriteItemsOutputTypeDef
        if number % 3 == 0:
            answer = dynamodb.query(
                TableName=TABLE,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": "many"}},
                Select="COUNT",
            )
        else:
            answer = dynamodb.transact_write_items(
                TransactItems=[put("many", f"T#{number}", body="x" * 200), put("many", f"U#{number}")]
            )
        return int(answer["ResponseMetadata"]["HTTPStatusCode"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(work, range(600)))
    items = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "many"}},
        Select="COUNT",
    )

    assert statuses == [200] * 600
    assert items["Count"] == 2 * 400


def test_requests_enter_the_application_one_at_a_time_with_their_bodies_read_first() -> None:
    inside, most, bodies = 0, 0, []
    lock = threading.Lock()

    def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        bodies.append(environ["wsgi.input"].read())
        time.sleep(0.005)  # any other request would come in now, were it let in
        with lock:
            inside -= 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    serialised = Serialised(application)

    def call(number: int) -> bytes:
        body = f"request {number}".encode()
        environ = {"wsgi.input": io.BytesIO(body + b"and then the next request"), "CONTENT_LENGTH": str(len(body))}
        return b"".join(serialised(environ, lambda status, headers: None))

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(call, range(64)))

    assert answers == [b"done"] * 64
    assert most == 1
    assert sorted(bodies) == sorted(f"request {n}".encode() for n in range(64))  # no more than each one's own
    assert serialised.stats.requests == 64
    assert "64 requests one at a time" in serialised.stats.summary()


def test_stopped_it_logs_how_many_requests_it_served_and_what_waiting_cost(tmp_path: Path) -> None:
    log_file = tmp_path / "local.log"
    server = LocalAwsProcess(free_port(), log_file)
    try:
        sqs = boto3.client(
            "sqs", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
        )
        sqs.create_queue(QueueName="counted")
        sqs.list_queues()
    finally:
        server.stop()

    assert "moto served 2 requests one at a time" in log_file.read_text()
