"""Chalice's local server answering what API Gateway answers itself as a deployment configures it.

API Gateway refuses some requests before any function runs (no such route, no Authorization
header); a deployment sets those answers to the API's JSON error shape (GATEWAY_RESPONSES in
infra/merge_template.py). Chalice's local server and its test client imitate API Gateway's
defaults instead, one of which repeats the caller's whole Authorization header. This server sends
the configured answers, and ``deployed_refusal`` gives them to the tests' in-process client.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalice.local import ChaliceRequestHandler, LocalDevServer, LocalGatewayException, create_local_server

from chalicelib.domain.tokens import redacted
from infra.merge_template import gateway_response

if TYPE_CHECKING:
    from mypy_boto3_apigateway.literals import GatewayResponseTypeType

# (status, x-amzn-ErrorType) of chalice.local's refusals -> the gateway response type API Gateway uses.
_KINDS: dict[tuple[int, str], GatewayResponseTypeType] = {
    (403, "UnauthorizedException"): "MISSING_AUTHENTICATION_TOKEN",  # no route or method matched
    (401, "UnauthorizedException"): "UNAUTHORIZED",  # no Authorization header
    (403, "AccessDeniedException"): "ACCESS_DENIED",  # the authorizer denied
}


class _GatewayResponses(ChaliceRequestHandler):
    def __getattr__(self, name: str) -> Any:
        # http.server answers a method it has no do_<METHOD> for (TRACE, QUERY, ...) with an HTML 501;
        # every method reaches the routes instead, which answer 404 (no such path) or 405.
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        # Each request line goes to stderr, path and query included: a token pasted there is cut to its id.
        super().log_message("%s", redacted(format % args))

    def _send_error_response(self, error: LocalGatewayException) -> None:
        status, body = deployed_refusal(error.CODE, error.headers)
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": error.headers.get("x-amzn-RequestId", "")}
        self._send_http_response(status, headers, body)


def deployed_refusal(status: int, headers: Mapping[str, str]) -> tuple[int, str]:
    """The status and body a deployment answers for a request Chalice's gateway refused with ``status``."""
    kind = _KINDS.get((status, headers.get("x-amzn-ErrorType", "")))
    configured, body = gateway_response(kind or ("DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"))
    return configured or status, body


def local_api_server(app: Any, config: Any, host: str, port: int) -> LocalDevServer:
    """``chalice local``'s server for ``app`` on host:port (0: any free port), with the deployment's gateway answers."""
    server = create_local_server(app, config, host, port)
    server.server.RequestHandlerClass = functools.partial(_GatewayResponses, app_object=app, config=config)
    return server
