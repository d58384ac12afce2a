"""How long an API request may still work: the function's remaining time, within API Gateway's 29 s."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from chalice.app import Request

from chalicelib.http.api import GATEWAY_TIMEOUT_SECONDS, time_left


def request_with(context: Any) -> Request:
    return cast(Request, SimpleNamespace(lambda_context=context))


def test_a_function_about_to_time_out_leaves_what_it_has_left() -> None:
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 4_500)

    assert time_left(request_with(context))() == 4.5


def test_a_function_with_time_to_spare_still_stops_where_api_gateway_stops_waiting() -> None:
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 900_000)

    left = time_left(request_with(context))()

    assert 0 < left <= GATEWAY_TIMEOUT_SECONDS == 29.0


def test_without_a_lambda_context_api_gateway_is_the_limit() -> None:
    assert 0 < time_left(request_with(None))() <= GATEWAY_TIMEOUT_SECONDS
