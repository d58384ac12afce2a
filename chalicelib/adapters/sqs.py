"""The SQS adapter: asking the checker functions to check targets soon."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import StoreError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

BATCH = 10  # SendMessageBatch takes at most ten messages


def check_message(team: str, target_id: str) -> str:
    return json.dumps({"team": team, "id": target_id}, separators=(",", ":"))


class SqsCheckQueue:
    """Sends (team, target id) pairs to the check queue, ten to a request."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url
        self.requests = 0

    def enqueue(self, refs: Sequence[tuple[str, str]]) -> None:
        for start in range(0, len(refs), BATCH):
            chunk = refs[start : start + BATCH]
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(i), "MessageBody": check_message(team, tid)} for i, (team, tid) in enumerate(chunk)
            ]
            try:
                answer = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except ClientError as exc:
                raise StoreError(f"cannot queue checks: {exc}") from exc
            except BotoCoreError as exc:  # no answer at all: connection refused or reset, timeout
                raise StoreError(f"cannot queue checks: SQS unreachable: {type(exc).__name__}") from exc
            self.requests += 1
            failed = answer.get("Failed") or []
            if failed:
                raise StoreError(f"cannot queue {len(failed)} checks: {failed[0].get('Message', failed[0])}")
