"""The HTTP edge: who is calling, reading request bodies, and mapping errors to responses, once.

Every error certwatch raises on purpose is a CertwatchError; ``ERRORS`` maps each type to a
status and code, and every response carries ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec

from chalice.app import AuthResponse, Chalice, Request, Response

from chalicelib.domain.tokens import Principal, redacted, validate_team
from chalicelib.errors import (
    CertwatchError,
    ConfigurationError,
    DuplicateDomainError,
    DuplicateTargetError,
    ForbiddenAddressError,
    InvalidTargetError,
    InvalidValueError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    SourceError,
    StoreError,
    ThrottledError,
    UnauthorizedError,
)
from chalicelib.http.payloads import MAX_BODY_BYTES, refuse_unknown_params
from chalicelib.presentation.documents import error_to_dict
from chalicelib.presentation.schema import fields

if TYPE_CHECKING:
    from chalicelib.services.ports import Tokens

logger = logging.getLogger(__name__)
P = ParamSpec("P")
# API Gateway stops waiting for the function after 29 seconds, whatever the function's timeout.
GATEWAY_TIMEOUT_SECONDS = 29.0

# Most specific first; the first type an error is an instance of decides.
ERRORS: tuple[tuple[type[CertwatchError], int, str], ...] = (
    (InvalidValueError, 400, "invalid_field"),
    (InvalidTargetError, 400, "invalid_field"),
    (UnauthorizedError, 401, "unauthorized"),
    (PermissionDeniedError, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (DuplicateDomainError, 409, "duplicate_domain"),
    (DuplicateTargetError, 409, "duplicate_target"),
    (PayloadTooLargeError, 413, "payload_too_large"),
    (ForbiddenAddressError, 422, "forbidden_address"),
    (ThrottledError, 429, "throttled"),
    (SourceError, 502, "aws_request_failed"),
    (ConfigurationError, 503, "not_configured"),
    (StoreError, 503, "unavailable"),
    (CertwatchError, 500, "internal_error"),
)


def error_response(exc: CertwatchError) -> Response:
    status, code = next((s, c) for kind, s, c in ERRORS if isinstance(exc, kind))
    body = error_to_dict(
        getattr(exc, "code", None) or code,
        str(exc),
        field=exc.field if isinstance(exc, InvalidValueError) and exc.field else None,
        existing_id=exc.existing_id if isinstance(exc, DuplicateTargetError) else None,
    )
    headers: dict[str, str | list[str]] = {"Retry-After": "1"} if status == 429 else {}
    if status >= 500:
        logger.error("request failed: %s (cause: %s)", redacted(str(exc)), redacted(str(exc.__cause__)))
    return Response(body=body, status_code=status, headers=headers)


# Chalice answers a few requests itself, as {"Code": ..., "Message": ...}: these get the API's shape.
_CHALICE_ERRORS = {
    405: ("method_not_allowed", "this path does not take the {method} method; it takes {allow}"),
    415: (
        "unsupported_media_type",
        "send the request body with Content-Type: application/json (POST /targets/bulk also takes text/csv)",
    ),
}


def in_error_shape(response: Response, request: Request | None) -> Response:
    """A response Chalice made itself (405, 415, an unhandled exception's 500) in the API's error shape."""
    body = response.body
    if not isinstance(body, dict) or set(body) != {"Code", "Message"}:
        return response
    code, message = _CHALICE_ERRORS.get(response.status_code, ("internal_error", "an internal error occurred"))
    headers = dict(response.headers)
    message = message.format(method=request.method if request else "this", allow=headers.get("Allow", "none"))
    return Response(body=error_to_dict(code, message), status_code=response.status_code, headers=headers)


def json_api[**P](view: Callable[P, Any]) -> Callable[P, Any]:
    """Wrap a route so a CertwatchError becomes its JSON error response."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        try:
            return view(*args, **kwargs)
        except CertwatchError as exc:
            return error_response(exc)

    return wrapper


def authorize(header: str | None, tokens: Tokens) -> AuthResponse:
    """The built-in authorizer's answer for an Authorization header.

    A valid token yields its team in the context. An invalid one is let through marked
    invalid, so ``require_valid_token`` answers 401 with a JSON body (API Gateway's own
    denial would be a bare 403); no route runs for it. One that cannot be checked (the
    token store is out of reach) is let through marked unknown, for a 503.
    """
    from chalicelib.services.tokens import authenticate  # on the first request: importing app loads no service

    try:
        principal = authenticate(header, tokens)
    except UnauthorizedError as exc:
        return AuthResponse(routes=["*"], principal_id="anonymous", context={"valid": "false", "error": str(exc)})
    except CertwatchError as exc:  # the token store is out of reach: an outage (503), not a bad token
        logger.error("cannot check a token: %s (cause: %s)", exc, exc.__cause__)
        return AuthResponse(routes=["*"], principal_id="anonymous", context={"valid": "unknown", "error": str(exc)})
    context = {"valid": "true", "team": principal.team, "admin": str(principal.admin).lower()}
    return AuthResponse(routes=["*"], principal_id=principal.token_id, context=context)


def require_valid_token(authorizer_context: Mapping[str, Any] | None) -> Response | None:
    """The answer to a token the authorizer refused (401) or could not check (503); None when it may pass."""
    if authorizer_context is None:
        return None
    valid = authorizer_context.get("valid")
    if valid == "false":
        return error_response(UnauthorizedError(str(authorizer_context.get("error") or "invalid token")))
    if valid == "unknown":
        return error_response(StoreError(str(authorizer_context.get("error") or "cannot check the token")))
    return None


def current(app: Chalice) -> Request:
    """The request being handled (Chalice types it as optional: outside a request there is none)."""
    request = app.current_request
    if request is None:
        raise CertwatchError("no request is being handled")
    return request


def principal(request: Request) -> Principal:
    """The caller, as the authorizer established it."""
    context = request.context.get("authorizer") or {}
    if context.get("valid") != "true":
        raise UnauthorizedError("missing or invalid token")
    return Principal(team=context["team"], admin=context.get("admin") == "true", token_id=context["principalId"])


def raw_body(request: Request) -> bytes:
    """The request body, refused above 1 MiB."""
    raw = request.raw_body or b""
    body = raw.encode() if isinstance(raw, str) else raw
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"the request body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} (1 MiB)")
    return body


def params(request: Request, shape: type) -> dict[str, str]:
    """The query parameters of a query string ``shape`` (``chalicelib/presentation/shapes.py``); an
    unknown one is refused (400), not silently ignored, and so is a ``team`` that is no team name
    (even where the operation turns out not to need it)."""
    given = dict(request.query_params or {})
    refuse_unknown_params(given, set(fields(shape)))
    if "team" in given:
        validate_team(given["team"])
    return given


def time_left(request: Request) -> Callable[[], float]:
    """Seconds the request may still work: the function's remaining time, within API Gateway's wait."""
    started = time.monotonic()
    remaining = getattr(request.lambda_context, "get_remaining_time_in_millis", None)

    def left() -> float:
        gateway = GATEWAY_TIMEOUT_SECONDS - (time.monotonic() - started)
        return gateway if remaining is None else min(gateway, remaining() / 1000)

    return left


def content_type(request: Request) -> str:
    return str(request.headers.get("content-type", "application/json"))
