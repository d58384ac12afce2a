"""The DynamoDB and SQS adapters when AWS does not answer at all: a StoreError (503 at the API).

Real clients against real sockets: a port nobody listens on (connection refused) and a server
that accepts and never says a word (read timeout).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from chalicelib.adapters.dynamo import DynamoStore
from chalicelib.adapters.sqs import SqsCheckQueue
from chalicelib.domain.alerts import AlertState
from chalicelib.domain.endpoints import endpoint_from_parts
from chalicelib.domain.models import Status
from chalicelib.domain.targets import ResultSummary, Target, TargetChanges, TargetFilter, TargetSpec
from chalicelib.domain.tokens import issue
from chalicelib.errors import StoreError
from lab.servers import SilentServer
from tests.support import reports
from tests.support.net import closed_port

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TARGET = Target(
    id="tg_000000000000deadbeef",
    team="alpha",
    spec=TargetSpec(endpoint=endpoint_from_parts("a.example.com", 443)),
    created_at=NOW,
    updated_at=NOW,
    scheduled_at=NOW,
)
SUMMARY = ResultSummary(status=Status.OK, days_left=30, not_after=NOW + timedelta(days=30), codes=(), checked_at=NOW)


@pytest.fixture(params=["refused", "silent"])
def endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "refused":
        with closed_port() as port:
            yield f"http://127.0.0.1:{port}"
    else:
        with SilentServer() as server:
            yield f"http://127.0.0.1:{server.port}"


# One attempt each, soon given up: a client of the endpoint that never answers.
ONCE = Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=1)


STORE_CALLS: dict[str, Callable[[DynamoStore], object]] = {
    "create_target": lambda store: store.create_target(TARGET),
    "get_target": lambda store: store.get_target("alpha", TARGET.id),
    "get_targets": lambda store: store.get_targets([("alpha", TARGET.id)]),
    "list_targets": lambda store: store.list_targets("alpha", limit=5, cursor=None, where=TargetFilter()),
    "update_target": lambda store: store.update_target("alpha", TARGET.id, TargetChanges(notes="n"), NOW),
    "delete_target": lambda store: store.delete_target("alpha", TARGET.id),
    "save_result": lambda store: store.save_result("alpha", TARGET.id, SUMMARY, reports.report(NOW)),
    "claim_window": lambda store: store.claim_window(NOW),
    "due_targets": lambda store: list(store.due_targets((NOW - timedelta(minutes=15), NOW))),
    "put_alert_state": lambda store: store.put_alert_state("alpha", TARGET.id, AlertState()),
    "put_token": lambda store: store.put_token(issue("alpha", admin=False, now=NOW)[1]),
    "get_token": lambda store: store.get_token("000000000000"),
}


@pytest.mark.parametrize("call", sorted(STORE_CALLS))
def test_the_dynamodb_store_turns_no_answer_into_a_store_error(endpoint: str, call: str) -> None:
    store = DynamoStore(boto3.client("dynamodb", endpoint_url=endpoint, config=ONCE), "certwatch-test")

    with pytest.raises(StoreError, match="DynamoDB unreachable") as raised:
        STORE_CALLS[call](store)

    assert isinstance(raised.value.__cause__, BotoCoreError)
    assert endpoint not in str(raised.value)


def test_the_check_queue_turns_no_answer_into_a_store_error(endpoint: str) -> None:
    queue = SqsCheckQueue(
        boto3.client("sqs", endpoint_url=endpoint, config=ONCE), f"{endpoint}/123456789012/certwatch-test-checks"
    )

    with pytest.raises(StoreError, match="SQS unreachable") as raised:
        queue.enqueue([("alpha", TARGET.id)])

    assert isinstance(raised.value.__cause__, BotoCoreError)
