"""What every AWS adapter shares (chalicelib/adapters/aws.py): ARNs, throttling codes, pagination."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.aws import Arn, error_code, is_throttling, pages, parse_arn


@pytest.mark.parametrize(
    ("text", "arn"),
    [
        (
            "arn:aws:acm:eu-west-1:123456789012:certificate/0b1c",
            Arn("aws", "acm", "eu-west-1", "123456789012", "certificate/0b1c"),
        ),
        (
            "arn:aws:iam::123456789012:server-certificate/web",
            Arn("aws", "iam", "", "123456789012", "server-certificate/web"),
        ),
        (
            "arn:aws-cn:lambda:cn-north-1:1:function:checker:live",
            Arn("aws-cn", "lambda", "cn-north-1", "1", "function:checker:live"),
        ),
    ],
)
def test_an_arn_reads_as_its_parts_whatever_the_partition(text: str, arn: Arn) -> None:
    assert parse_arn(text) == arn


@pytest.mark.parametrize("text", ["", "certificate/0b1c", "arn:aws:acm:eu-west-1", "urn:aws:acm:r:a:c"])
def test_what_is_no_arn_reads_as_none(text: str) -> None:
    assert parse_arn(text) is None


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "slow down"}}, "AnyOperation")


@pytest.mark.parametrize(
    "code",
    ["Throttling", "ThrottlingException", "TooManyRequestsException", "ProvisionedThroughputExceededException"],
)
def test_each_services_spelling_of_throttling_is_throttling(code: str) -> None:
    assert is_throttling(_error(code))
    assert error_code(_error(code)) == code


def test_a_refusal_is_not_throttling() -> None:
    assert not is_throttling(_error("AccessDeniedException"))


class Listing:
    """A paginated call answering from canned pages, recording what it was asked."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self._answers = list(answers)
        self.asked: list[dict[str, Any]] = []

    def __call__(self, **request: Any) -> dict[str, Any]:
        self.asked.append(dict(request))
        return self._answers.pop(0)


def test_pages_follow_the_token_until_there_is_none() -> None:
    call = Listing({"Items": [1], "NextToken": "a"}, {"Items": [2], "NextToken": "b"}, {"Items": [3]})

    found = [item for page in pages(call, "NextToken", "NextToken", MaxItems=1) for item in page["Items"]]

    assert found == [1, 2, 3]
    assert call.asked == [{"MaxItems": 1}, {"MaxItems": 1, "NextToken": "a"}, {"MaxItems": 1, "NextToken": "b"}]


def test_pages_stop_at_a_token_that_repeats_or_a_page_that_says_it_is_the_last() -> None:
    repeating = Listing({"NextMarker": "m"}, {"NextMarker": "m"})
    last = Listing({"Marker": "m", "IsTruncated": False})

    assert len(list(pages(repeating, "Marker", "NextMarker"))) == 2
    assert len(list(pages(last, "Marker", "Marker"))) == 1
