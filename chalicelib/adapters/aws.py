"""What every AWS adapter shares: an error's code, throttling, ARNs and pagination.

Each adapter still decides what an error means for its callers (a failure recorded, a
``ThrottledError``, a ``StoreError``); this module only reads what AWS answered, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

# The codes AWS services answer when they throttle a caller (each service spells it its own way).
THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
    }
)


def error_code(exc: ClientError) -> str:
    """The code of an AWS error answer (``ConditionalCheckFailedException``, ``AccessDenied``, ...)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def is_throttling(exc: ClientError) -> bool:
    """Whether the service refused the request because of its rate: the caller may retry later."""
    return error_code(exc) in THROTTLING


@dataclass(frozen=True, slots=True)
class Arn:
    """An Amazon Resource Name: ``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE``."""

    partition: str
    service: str
    region: str  # empty for a global service (IAM, CloudFront)
    account: str
    resource: str


def parse_arn(text: str) -> Arn | None:
    """The parts of an ARN; None for text that is no ARN."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return Arn(*parts[1:])


def pages[Page: Mapping[str, Any]](
    call: Callable[..., Page], request_token: str, response_token: str, **request: Any
) -> Iterator[Page]:
    """Every page of a paginated call, following the token until there is none (or it repeats).

    A page is what ``call`` answers, typed as the service's stubs type it (a TypedDict).

    ``response_token`` names where a page says how to get the next one (``NextToken``,
    ``NextMarker``, DynamoDB's ``LastEvaluatedKey``), ``request_token`` where the next request
    carries it. A page that says ``IsTruncated: false`` is the last one.
    """
    while True:
        page = call(**request)
        yield page
        token = page.get(response_token)
        if not token or token == request.get(request_token) or page.get("IsTruncated") is False:
            return
        request[request_token] = token
