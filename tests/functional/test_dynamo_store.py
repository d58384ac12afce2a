"""What only the DynamoDB store has to show: index queries, error translation, the template's deploy."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from certwatch.aws.cloudformation import deploy_stack, stack_name
from chalicelib.adapters.dynamo import DUE_SHARDS, SLOT_INDEX, DynamoStore, codec
from chalicelib.adapters.dynamo.table import BATCH_ATTEMPTS
from chalicelib.domain.endpoints import endpoint_from_parts
from chalicelib.domain.models import Endpoint, Protocol, Status
from chalicelib.domain.schedule import Slot, Window, first_moment, phase_ranges
from chalicelib.domain.targets import (
    ResultSummary,
    Target,
    TargetChanges,
    TargetFilter,
    TargetSpec,
    encode_cursor,
)
from chalicelib.domain.tokens import TokenRecord
from chalicelib.errors import ConfigurationError, InvalidValueError, NotFoundError, StoreError, ThrottledError
from tests.support import reports
from tests.support.aws import AwsStack

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

_numbers = itertools.count(1)


def new_target(
    team: str, now: datetime, *, scheduled_at: datetime | None = None, paused: bool = False, **labels: str
) -> Target:
    number = next(_numbers)
    return Target(
        id=f"tg_{number:012x}{secrets.token_hex(4)}",
        team=team,
        spec=TargetSpec(endpoint=endpoint_from_parts(f"host{number}.example.com", 443), labels=labels),
        created_at=now,
        updated_at=now,
        scheduled_at=now if scheduled_at is None else scheduled_at,
        paused=paused,
    )


def new_team() -> str:
    return f"team-{uuid.uuid4().hex[:12]}"


class RecordingClient[C]:
    """A boto3 client that passes every call on and records the operation and its arguments."""

    def __init__(self, client: C) -> None:
        self._client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @property
    def as_client(self) -> C:
        """This recorder, where the client it wraps is asked for: it answers every call the client does."""
        return cast(C, self)

    @property
    def operations(self) -> list[str]:
        return [operation for operation, _ in self.calls]

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return attribute(*args, **kwargs)

        return call


class BulkLoader:
    """A client to seed many targets with: the store's transactions become batch writes.

    moto deep-copies the table for every transaction, so thousands of ``create_target`` calls
    would take minutes; the items written are still exactly the ones the store builds.
    """

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table
        self._pending: list[dict[str, Any]] = []
        self._written: list[dict[str, Any]] = []

    @property
    def as_client(self) -> DynamoDBClient:
        """This loader, where a client is asked for: the store's transactions are all it is sent."""
        return cast("DynamoDBClient", self)

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        for action in TransactItems:
            (kind, request), *_ = action.items()
            assert kind == "Put", kind
            self._pending.append(request["Item"])
        return {}

    def flush(self) -> None:
        self._batch([{"PutRequest": {"Item": item}} for item in self._pending])
        self._written += self._pending
        self._pending = []

    def remove_all(self) -> None:
        self._batch([{"DeleteRequest": {"Key": {"pk": i["pk"], "sk": i["sk"]}}} for i in self._written])
        self._written = []

    def _batch(self, requests: list[WriteRequestTypeDef]) -> None:
        for start in range(0, len(requests), 25):
            answer = self._client.batch_write_item(RequestItems={self._table: requests[start : start + 25]})
            assert not answer.get("UnprocessedItems")


class Interleaver:
    """A client that runs another writer's action just before its n-th request (0-based)."""

    def __init__(self, client: DynamoDBClient, before_request: int, action: Callable[[], object]) -> None:
        self._client = client
        self._before = before_request
        self._action = action
        self._requests = 0
        self.ran = False

    @property
    def as_client(self) -> DynamoDBClient:
        """This interleaver, where the client it wraps is asked for: it answers every call the client does."""
        return cast("DynamoDBClient", self)

    def run_if_pending(self) -> None:
        if not self.ran:
            self.ran = True
            self._action()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._requests == self._before:
                self.run_if_pending()
            self._requests += 1
            return attribute(*args, **kwargs)

        return call


@pytest.fixture
def store(aws_stack: AwsStack) -> DynamoStore:
    return DynamoStore(aws_stack.dynamodb, aws_stack.table)


# --- the slots index -----------------------------------------------------------------------------


def test_the_sweep_queries_each_shard_of_the_slots_index_for_its_windows(
    aws_stack: AwsStack, store: DynamoStore, now: datetime
) -> None:
    team = new_team()
    targets = [new_target(team, now, scheduled_at=now - timedelta(minutes=n)) for n in range(40)]
    for target in targets:
        store.create_target(target)
    recorder = RecordingClient(aws_stack.dynamodb)

    windows = ((now - timedelta(hours=1), now), (now - timedelta(hours=3), now - timedelta(hours=2)))
    due = list(DynamoStore(recorder.as_client, aws_stack.table).due_targets(*windows))

    assert sorted((t, i, m) for t, i, m in due if t == team) == sorted(
        (team, t.id, first_moment(t.scheduled_at)) for t in targets
    )
    assert set(recorder.operations) == {"query"}
    assert all(arguments["IndexName"] == SLOT_INDEX for _, arguments in recorder.calls)
    shards = {arguments["ExpressionAttributeValues"][":shard"]["S"] for _, arguments in recorder.calls}
    assert shards == {str(shard) for shard in range(DUE_SHARDS)}
    # Per shard: one single-key query per interval found and one that finds no more, then the windows' ranges.
    probes = [a for _, a in recorder.calls if a.get("Limit") == 1]
    ranges = [a for _, a in recorder.calls if a.get("Limit") != 1]
    per_period = sum(len(phase_ranges(6 * 3600, *window)) for window in windows)  # every target here: 6-hourly
    assert len(ranges) == (len(probes) - DUE_SHARDS) * per_period


def test_the_sweep_queries_shards_of_the_slots_index_at_once(aws_stack: AwsStack, now: datetime) -> None:
    pair = threading.Barrier(2, timeout=5)
    alone: list[str] = []

    class Pairing(RecordingClient[Any]):
        """Each shard's first Query waits (5 s at most) until another shard's first Query is made too."""

        def query(self, **request: Any) -> Any:
            if request.get("Limit") == 1 and ":past" not in request["ExpressionAttributeValues"]:
                try:
                    pair.wait()
                except threading.BrokenBarrierError:
                    alone.append(request["ExpressionAttributeValues"][":shard"]["S"])
            return self.__getattr__("query")(**request)  # recorded and passed on

    client = Pairing(aws_stack.dynamodb)

    list(DynamoStore(client.as_client, aws_stack.table).due_targets((now - timedelta(hours=1), now)))

    first = [a for _, a in client.calls if a.get("Limit") == 1 and ":past" not in a["ExpressionAttributeValues"]]
    assert len(first) == DUE_SHARDS
    assert alone == [], "the shards were queried one after another"


def test_no_operation_of_the_store_scans_the_table(aws_stack: AwsStack, now: datetime) -> None:
    recorder = RecordingClient(aws_stack.dynamodb)
    store = DynamoStore(recorder.as_client, aws_stack.table)
    team = new_team()
    target = new_target(team, now, env="prod")
    token = TokenRecord(secrets.token_hex(6), team, False, "f" * 64, now)

    store.create_target(target)
    store.get_target(team, target.id)
    store.list_targets(team, limit=5, cursor=None, where=TargetFilter(label=("env", "prod")))
    store.update_target(team, target.id, TargetChanges(paused=True), now)
    store.update_target(team, target.id, TargetChanges(paused=False), now)
    store.save_result(team, target.id, ResultSummary(Status.OK, 90, now, (), now), reports.report(now))
    store.get_result(team, target.id)
    list(store.due_targets((now - timedelta(hours=1), now)))
    store.claim_window(now + timedelta(days=7000))
    store.put_token(token)
    store.get_token(token.token_id)
    store.list_tokens()
    store.delete_token(token.token_id)
    store.delete_target(team, target.id)

    assert "scan" not in recorder.operations
    assert set(recorder.operations) <= {
        "get_item",
        "query",
        "update_item",
        "transact_write_items",
        "put_item",
        "delete_item",
    }


def test_among_3000_targets_the_due_ones_are_found_exactly(aws_stack: AwsStack, now: datetime) -> None:
    teams = [new_team() for _ in range(3)]
    loader = BulkLoader(aws_stack.dynamodb, aws_stack.table)
    seeding = DynamoStore(loader.as_client, aws_stack.table)
    window = (now - timedelta(minutes=15), now)
    expected = set()
    for number in range(3000):
        # Anchored over a day around now, a known few paused, three exactly at the window's end.
        scheduled_at = now + timedelta(seconds=(number * 7919) % 86400 - 43200)
        if number in (5, 6, 7):
            scheduled_at = now
        target = new_target(teams[number % 3], now, scheduled_at=scheduled_at, paused=number % 11 == 0)
        seeding.create_target(target)
        slot = Slot.of(target.scheduled_at, target.spec.check_interval_minutes)
        if not target.paused and slot.latest(now) > window[0]:
            expected.add((target.team, target.id, slot.latest(now)))
    loader.flush()
    try:
        due = [found for found in store_of(aws_stack).due_targets(window) if found[0] in teams]

        assert len(due) == len(set(due))
        assert set(due) == expected
        assert 100 < len(expected) < 300  # a quarter hour of 6 hours: about 1 in 24
    finally:
        loader.remove_all()


def store_of(aws_stack: AwsStack) -> DynamoStore:
    return DynamoStore(aws_stack.dynamodb, aws_stack.table)


def test_a_sweeps_claim_moves_the_targets_still_on_the_due_index_onto_their_slots(
    aws_stack: AwsStack, store: DynamoStore, now: datetime
) -> None:
    # The version before slots kept each target's next check on the ``due`` index (due_shard, next_check_at).
    start = _after_every_claim(aws_stack, now)  # the windows are the table's, not a team's
    assert store.claim_window(start) is not None
    end = start + timedelta(minutes=15)
    team = new_team()
    legacy = {
        "in the window": start + timedelta(minutes=5),
        "later": end + timedelta(hours=2),
        "before the window": start - timedelta(hours=3),
    }
    targets = {}
    for name, next_check_at in legacy.items():
        target = new_target(team, now)
        store.create_target(target)
        aws_stack.dynamodb.update_item(
            TableName=aws_stack.table,
            Key={"pk": {"S": f"TEAM#{team}"}, "sk": {"S": f"T#{target.id}"}},
            UpdateExpression="SET due_shard = :shard, next_check_at = :next, leased_until = :next"
            " REMOVE scheduled_at, slot_shard, slot",
            ExpressionAttributeValues={":shard": {"S": "1"}, ":next": {"S": codec.ts(next_check_at)}},
        )
        targets[name] = target
    assert store.get_target(team, targets["later"].id).scheduled_at == legacy["later"]  # read as anchored there
    assert [i for t, i, _ in store.due_targets((start, end)) if t == team] == []

    assert store.claim_window(end) == Window(start)

    for name, target in targets.items():
        key = {"pk": {"S": f"TEAM#{team}"}, "sk": {"S": f"T#{target.id}"}}
        item = aws_stack.dynamodb.get_item(TableName=aws_stack.table, Key=key)["Item"]
        assert not {"due_shard", "next_check_at", "leased_until"} & set(item), name
    moved = {name: store.get_target(team, t.id).scheduled_at for name, t in targets.items()}
    assert moved == {"in the window": legacy["in the window"], "later": legacy["later"], "before the window": end}
    # The one due before the window (its check lost, or queued by the version before) at the window's end:
    # this sweep's to queue, unless it was checked lately.
    assert sorted(i for t, i, _ in store.due_targets((start, end)) if t == team) == sorted(
        [targets["in the window"].id, targets["before the window"].id]
    )
    assert [i for t, i, _ in store.due_targets((end, end + timedelta(hours=3))) if t == team] == [targets["later"].id]


def test_a_sweeps_claim_stands_when_moving_targets_off_the_due_index_fails(
    aws_stack: AwsStack, store: DynamoStore, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    team = new_team()
    target = new_target(team, now)
    store.create_target(target)
    key = {"pk": {"S": f"TEAM#{team}"}, "sk": {"S": f"T#{target.id}"}}
    aws_stack.dynamodb.update_item(  # on the due index, its next check not a moment at all
        TableName=aws_stack.table,
        Key=key,
        UpdateExpression="SET due_shard = :shard, next_check_at = :next REMOVE scheduled_at, slot_shard, slot",
        ExpressionAttributeValues={":shard": {"S": "2"}, ":next": {"S": "soon"}},
    )
    try:
        start = _after_every_claim(aws_stack, now)
        assert store.claim_window(start) is not None
        assert store.claim_window(start + timedelta(minutes=15)) == Window(start)  # the sweep goes on
        assert "moving targets off the due index onto their slots failed" in caplog.text
    finally:
        aws_stack.dynamodb.delete_item(TableName=aws_stack.table, Key=key)  # the next test's moves are its own


def _after_every_claim(aws_stack: AwsStack, now: datetime) -> datetime:
    """A day after where the table's sweeps claimed up to (another test's far-future claims included)."""
    key = {"pk": {"S": codec.SCHEDULE}, "sk": {"S": codec.SWEPT}}
    item = aws_stack.dynamodb.get_item(TableName=aws_stack.table, Key=key).get("Item")
    return max(now, codec.sweeps(codec.load(item)).until if item else now) + timedelta(days=1)


def test_a_cursor_for_another_kind_of_row_is_refused(store: DynamoStore, now: datetime) -> None:
    team = new_team()
    store.create_target(new_target(team, now))

    for position in ({"sk": "R#tg_000000000001abcdef01"}, {"sk": "U#https://x:443#"}, {"sk": 7}, {"after": "tg_1"}):
        with pytest.raises(InvalidValueError):
            store.list_targets(team, limit=5, cursor=encode_cursor(position), where=TargetFilter())


# --- stored reports ------------------------------------------------------------------------------


def test_a_result_is_stored_in_the_report_format_not_as_the_api_document(
    store: DynamoStore, aws_stack: AwsStack, now: datetime
) -> None:
    team = new_team()
    target = new_target(team, now)
    store.create_target(target)
    report = reports.everything(now)
    store.save_result(team, target.id, ResultSummary.of(report), report)

    key = {"pk": {"S": f"TEAM#{team}"}, "sk": {"S": f"R#{target.id}"}}
    item = aws_stack.dynamodb.get_item(TableName=aws_stack.table, Key=key)["Item"]

    assert "document" not in item
    assert json.loads(item["report"]["S"])["format"] == 2


# --- concurrent writers, request by request -------------------------------------------------------


@pytest.mark.parametrize("first", ["edit", "check"])
def test_a_writer_landing_between_the_requests_of_another_loses_nothing(
    aws_stack: AwsStack, store: DynamoStore, now: datetime, first: str
) -> None:
    team = new_team()
    writer, other = (_edit, _check) if first == "edit" else (_check, _edit)
    for before_request in range(3):
        target = new_target(team, now, env="old")
        store.create_target(target)
        interleaver = Interleaver(aws_stack.dynamodb, before_request, functools.partial(other, store, target, now))

        writer(DynamoStore(interleaver.as_client, aws_stack.table), target, now)
        interleaver.run_if_pending()  # the writer made fewer requests than that

        assert store.get_target(team, target.id) == dataclasses.replace(
            target,
            spec=dataclasses.replace(target.spec, labels={"env": "prod"}, notes="edited"),
            updated_at=now + timedelta(minutes=1),
            latest=_latest(now),
        )
        assert store.get_result(team, target.id) == reports.report(now, host=target.endpoint.host)


def _edit(store: DynamoStore, target: Target, now: datetime) -> None:
    changes = TargetChanges(labels={"env": "prod"}, notes="edited")
    store.update_target(target.team, target.id, changes, now + timedelta(minutes=1))


def _check(store: DynamoStore, target: Target, now: datetime) -> None:
    report = reports.report(now, host=target.endpoint.host)
    store.save_result(target.team, target.id, _latest(now), report)


def _latest(now: datetime) -> ResultSummary:
    return ResultSummary(Status.WARNING, 14, now + timedelta(days=14), ("expires_soon",), now)


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ProvisionedThroughputExceededException", ThrottledError),
        ("ThrottlingException", ThrottledError),
        ("RequestLimitExceeded", ThrottledError),
        ("ResourceNotFoundException", ConfigurationError),
        ("InternalServerError", StoreError),
        ("ValidationException", StoreError),
        ("AccessDeniedException", StoreError),
    ],
)
def test_client_errors_become_certwatch_errors(code: str, error: type[Exception], now: datetime) -> None:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    store = DynamoStore(client, "certwatch-test")
    target = new_target("team", now)
    token = TokenRecord("0123456789ab", "team", False, "0" * 64, now)
    latest = ResultSummary(Status.OK, 90, now, (), now)
    actions: list[tuple[str, Callable[[], object]]] = [
        ("get_item", lambda: store.get_target("team", target.id)),
        ("query", lambda: store.list_targets("team", limit=5, cursor=None, where=TargetFilter())),
        ("query", lambda: list(store.due_targets((now - timedelta(hours=1), now)))),
        ("transact_write_items", lambda: store.create_target(target)),
        ("update_item", lambda: store.update_target("team", target.id, TargetChanges(notes="n"), now)),
        ("transact_write_items", lambda: store.save_result("team", target.id, latest, reports.report(now))),
        ("get_item", lambda: store.get_result("team", target.id)),
        ("get_item", lambda: store.delete_target("team", target.id)),
        ("put_item", lambda: store.put_token(token)),
        ("get_item", lambda: store.get_token(token.token_id)),
        ("query", store.list_tokens),
        ("delete_item", lambda: store.delete_token(token.token_id)),
    ]
    with Stubber(client) as stubber:
        for operation, action in actions:
            stubber.add_client_error(operation, service_error_code=code, http_status_code=400)

            with pytest.raises(error) as caught:
                action()

            assert type(caught.value) is error, operation
            assert isinstance(caught.value.__cause__, ClientError), operation
        stubber.assert_no_pending_responses()


def test_a_missing_table_is_a_configuration_error(aws_stack: AwsStack, now: datetime) -> None:
    store = DynamoStore(aws_stack.dynamodb, "certwatch-nowhere")

    with pytest.raises(ConfigurationError):
        store.get_target("team", "tg_000000000001abcdef01")
    with pytest.raises(ConfigurationError):
        list(store.due_targets((now - timedelta(hours=1), now)))
    with pytest.raises(ConfigurationError):
        store.claim_window(now)


@pytest.mark.parametrize(
    ("operation", "reason", "error"),
    [
        ("save_result", "ConditionalCheckFailed", NotFoundError),
        ("delete_target", "ConditionalCheckFailed", NotFoundError),
        pytest.param(
            "save_result",
            "TransactionConflict",
            ThrottledError,
        ),
        pytest.param("save_result", "ThrottlingError", ThrottledError),
        pytest.param(
            "save_result",
            "ProvisionedThroughputExceeded",
            ThrottledError,
        ),
        pytest.param(
            "delete_target",
            "TransactionConflict",
            ThrottledError,
        ),
    ],
)
def test_a_cancelled_transaction_is_not_found_only_when_the_target_is_gone(
    aws_stack: AwsStack, now: datetime, operation: str, reason: str, error: type[Exception]
) -> None:
    """DynamoDB cancels a transaction also on a conflicting write or throttling; only a failed condition means gone.

    A check landing while the API edits the same target is cancelled with TransactionConflict: read
    as NotFoundError, the checker drops the result as if the target had been deleted.
    """
    team = new_team()
    target = new_target(team, now)
    DynamoStore(aws_stack.dynamodb, aws_stack.table).create_target(target)
    stored = aws_stack.dynamodb.get_item(
        TableName=aws_stack.table, Key={"pk": {"S": f"TEAM#{team}"}, "sk": {"S": f"T#{target.id}"}}
    )["Item"]
    client = boto3.client("dynamodb", region_name="eu-west-1")
    store = DynamoStore(client, aws_stack.table)
    reasons = [{"Code": reason}] + [{"Code": "None"}] * (1 if operation == "save_result" else 2)
    if operation == "save_result":
        summary = ResultSummary(Status.OK, 90, now, (), now)
        act = functools.partial(store.save_result, team, target.id, summary, reports.report(now))
    else:
        act = functools.partial(store.delete_target, team, target.id)

    with Stubber(client) as stubber:
        if operation == "delete_target":
            stubber.add_response("get_item", {"Item": stored})
        stubber.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            http_status_code=400,
            modeled_fields={"CancellationReasons": reasons},
        )
        with pytest.raises(error):
            act()


def test_an_edit_meeting_an_ongoing_transaction_is_retryable(now: datetime) -> None:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    store = DynamoStore(client, "certwatch-test")

    with Stubber(client) as stubber:
        stubber.add_client_error("update_item", service_error_code="TransactionConflictException")
        with pytest.raises(ThrottledError):
            store.update_target("team", "tg_000000000001abcdef01", TargetChanges(notes="n"), now)


# --- the template ---------------------------------------------------------------------------------


def test_the_data_stack_deploys_twice_and_the_second_time_changes_nothing(
    aws_stack: AwsStack, store: DynamoStore, now: datetime
) -> None:
    token = TokenRecord(secrets.token_hex(6), new_team(), True, "e" * 64, now, "survivor")
    store.put_token(token)
    recorder = RecordingClient(aws_stack.cloudformation)

    outputs = deploy_stack(recorder.as_client, "test")

    assert outputs == aws_stack.outputs
    assert "create_stack" not in recorder.operations
    (stack,) = aws_stack.cloudformation.describe_stacks(StackName=stack_name("test"))["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert store.get_token(token.token_id) == token
    assert set(outputs) >= {"TableName", "CheckQueueUrl", "AlertsTopicArn"}


def test_a_target_stored_with_a_name_todays_rules_refuse_still_reads(store: DynamoStore, now: datetime) -> None:
    # IDNA 2003 accepted emoji domains ("xn--ls8h.la"), IDNA 2008 does not: stored data is read as stored.
    team = new_team()
    endpoint = Endpoint("xn--ls8h.la", 443, Protocol.HTTPS)
    target = dataclasses.replace(new_target(team, now), spec=TargetSpec(endpoint=endpoint))
    store.create_target(target)

    assert store.get_target(team, target.id).endpoint == endpoint
    page = store.list_targets(team, limit=10, cursor=None, where=TargetFilter())
    assert [t.id for t in page.items] == [target.id]
    store.delete_target(team, target.id)


def test_a_target_stored_before_its_uniqueness_key_was_recorded_is_deleted_whole(
    store: DynamoStore, aws_stack: AwsStack, now: datetime
) -> None:
    # As an earlier version stored a tls:// target: no unique_key on the item, and a uniqueness
    # item keyed by the scheme as given (today's key for implicit TLS reads https://).
    team = new_team()
    endpoint = Endpoint("legacy.example.com", 9443, Protocol.TLS)
    target = dataclasses.replace(new_target(team, now), spec=TargetSpec(endpoint=endpoint))
    store.create_target(target)
    client, table, partition = aws_stack.dynamodb, aws_stack.table, {"S": f"TEAM#{team}"}
    client.update_item(
        TableName=table, Key={"pk": partition, "sk": {"S": f"T#{target.id}"}}, UpdateExpression="REMOVE unique_key"
    )
    client.delete_item(TableName=table, Key={"pk": partition, "sk": {"S": f"U#{target.key}"}})
    legacy = "U#tls://legacy.example.com:9443#"
    client.put_item(TableName=table, Item={"pk": partition, "sk": {"S": legacy}, "target_id": {"S": target.id}})

    store.delete_target(team, target.id)

    left = client.query(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": partition}
    )["Items"]
    assert left == [], "the legacy uniqueness item would block registering this endpoint as tls:// again"


@pytest.mark.parametrize("refusals", [1, 3, 4])
def test_what_a_batch_write_leaves_unprocessed_is_asked_again_a_few_times_then_throttled(
    store: DynamoStore, aws_stack: AwsStack, now: datetime, monkeypatch: pytest.MonkeyPatch, refusals: int
) -> None:
    team = new_team()
    target = new_target(team, now)
    store.create_target(target)
    client, table, partition = aws_stack.dynamodb, aws_stack.table, {"S": f"TEAM#{team}"}
    for fingerprint in ("aa", "bb", "cc"):
        client.put_item(TableName=table, Item={"pk": partition, "sk": {"S": f"H#{target.id}#{fingerprint}"}})
    real, asked = client.batch_write_item, []

    def throttled(**request: Any) -> Any:  # DynamoDB under pressure: nothing processed, all of it handed back
        asked.append(request)
        if len(asked) <= refusals:
            return {"UnprocessedItems": request["RequestItems"]}
        return real(**request)

    monkeypatch.setattr(client, "batch_write_item", throttled)
    monkeypatch.setattr("chalicelib.adapters.dynamo.table.time.sleep", lambda seconds: None)

    if refusals < BATCH_ATTEMPTS:
        store.delete_target(team, target.id)
        assert len(asked) == refusals + 1
    else:  # not asked again without end: the caller hears it is throttled
        with pytest.raises(ThrottledError, match="items undeleted"):
            store.delete_target(team, target.id)
        assert len(asked) == BATCH_ATTEMPTS
    left = client.query(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": partition}
    )["Items"]
    assert len(left) == (0 if refusals < BATCH_ATTEMPTS else 3)


def test_what_a_batch_read_leaves_unread_is_asked_again_then_throttled(
    store: DynamoStore, aws_stack: AwsStack, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = new_team()
    targets = [new_target(team, now) for _ in range(3)]
    for target in targets:
        store.create_target(target)
    client, asked = aws_stack.dynamodb, []
    real: Any = client.batch_get_item

    def one_at_a_time(**request: Any) -> Any:  # DynamoDB reads the first key and hands the rest back
        asked.append(request)
        ((table, wanted),) = request["RequestItems"].items()
        answer = real(RequestItems={table: {**wanted, "Keys": wanted["Keys"][:1]}})
        if wanted["Keys"][1:]:
            answer["UnprocessedKeys"] = {table: {**wanted, "Keys": wanted["Keys"][1:]}}
        return answer

    monkeypatch.setattr(client, "batch_get_item", one_at_a_time)
    monkeypatch.setattr("chalicelib.adapters.dynamo.table.time.sleep", lambda seconds: None)
    refs = [(team, target.id) for target in targets]
    assert set(store.get_targets(refs)) == set(refs)
    assert len(asked) == 3

    more = [new_target(team, now) for _ in range(BATCH_ATTEMPTS + 1 - len(targets))]
    for target in more:
        store.create_target(target)
    asked.clear()
    with pytest.raises(ThrottledError, match="targets unread"):
        store.get_targets(refs + [(team, target.id) for target in more])
    assert len(asked) == BATCH_ATTEMPTS
