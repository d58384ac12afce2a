"""Requests to the one table: a call with its failures translated, an item by key, a Query page after page."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import THROTTLING, error_code, pages
from chalicelib.adapters.dynamo.codec import dump, load
from chalicelib.errors import ConfigurationError, StoreError, ThrottledError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# BatchGetItem's most keys a request.
BATCH_GET_KEYS = 100
# Batch requests: how often what DynamoDB left unprocessed is asked again, a while later each time.
BATCH_ATTEMPTS = 4

# Besides throttling: a transaction that met another one in flight, to be retried the same way.
_RETRYABLE = THROTTLING | {"TransactionConflictException", "TransactionInProgressException"}
# A transaction cancelled for any of these reasons can simply be retried.
_RETRYABLE_CANCELLATIONS = {
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
}


class Table:
    """One DynamoDB table and a boto3 client; every record kind's requests go through here."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _get_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        key = dump({"pk": pk, "sk": sk})
        answer = self._call(self._client.get_item, TableName=self._table, Key=key, ConsistentRead=True)
        item = answer.get("Item")
        return None if item is None else load(item)

    def _get_items(self, keys: Sequence[tuple[str, str]], *, consistent: bool, what: str) -> Iterator[dict[str, Any]]:
        """The items of (pk, sk) ``keys`` that exist, in any order, BATCH_GET_KEYS to a BatchGetItem; ThrottledError
        naming ``what`` when DynamoDB leaves some unread (the one batched read)."""
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), BATCH_GET_KEYS):
            chunk = [dump({"pk": pk, "sk": sk}) for pk, sk in unique[start : start + BATCH_GET_KEYS]]
            request = {self._table: {"Keys": chunk, "ConsistentRead": consistent}}
            for answer in self._batched(self._client.batch_get_item, request, "UnprocessedKeys", what):
                yield from (load(item) for item in answer.get("Responses", {}).get(self._table, []))

    def _query(self, **request: Any) -> Iterator[dict[str, Any]]:
        """Every item a Query finds, read page after page as the caller goes (the one pagination loop)."""
        query = self._client.query
        for page in pages(lambda **r: self._call(query, **r), "ExclusiveStartKey", "LastEvaluatedKey", **request):
            yield from (load(item) for item in page.get("Items", []))

    def _batched(self, operation: Callable[..., Any], items: dict[str, Any], left: str, what: str) -> Iterator[Any]:
        """Each answer of a batch request (BatchGetItem, BatchWriteItem) of ``items``, what DynamoDB left
        unprocessed (the answer's ``left``) asked again after a backoff; ThrottledError naming ``what`` when
        some is still left after BATCH_ATTEMPTS requests (the one loop over unprocessed items)."""
        pending = items
        for attempt in range(BATCH_ATTEMPTS):
            if attempt:
                time.sleep(0.05 * 2**attempt)
            answer = self._call(operation, RequestItems=pending)
            yield answer
            pending = answer.get(left) or {}
            if not pending:
                return
        raise ThrottledError(f"DynamoDB left some {what}; retry")

    def _call[**P, R](self, operation: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """One request (a method of the client), every failure translated into certwatch's errors."""
        try:
            return self._send(operation, *args, **kwargs)
        except ClientError as exc:
            raise translate(exc) from exc

    def _send[**P, R](self, operation: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """One request; DynamoDB's own refusals stay ClientError, for the caller to read their codes.

        A request that got no answer at all (connection refused or reset, timeout: botocore's
        BotoCoreError) is an outage: StoreError, which the API answers 503.
        """
        try:
            return operation(*args, **kwargs)
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB unreachable: {type(exc).__name__}") from exc


def condition_failed(exc: ClientError) -> bool:
    """Whether a single write was refused by its condition."""
    return error_code(exc) == "ConditionalCheckFailedException"


def cancelled_by_condition(exc: ClientError) -> set[int]:
    """Positions of the transaction's items whose condition failed (empty unless it was only that)."""
    if error_code(exc) != "TransactionCanceledException":
        return set()
    reasons = [str(r.get("Code") or "None") for r in exc.response.get("CancellationReasons", [])]
    if any(code in _RETRYABLE_CANCELLATIONS for code in reasons):
        return set()
    return {position for position, code in enumerate(reasons) if code == "ConditionalCheckFailed"}


def translate(exc: ClientError) -> Exception:
    code = error_code(exc)
    reasons = {str(r.get("Code")) for r in exc.response.get("CancellationReasons", [])}
    if code in _RETRYABLE or reasons & _RETRYABLE_CANCELLATIONS:
        return ThrottledError("the data store is throttling requests; retry shortly")
    if code == "ResourceNotFoundException":
        return ConfigurationError("the DynamoDB table does not exist: deploy the data stack, or set CERTWATCH_TABLE")
    return StoreError(f"DynamoDB failed: {code or exc}")
