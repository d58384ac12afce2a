"""Print the CloudFormation fragment `chalice package --merge-template` merges into its output.

What Chalice cannot express itself, for one stage:
- the checkers' SQS event sources report partial batch failures (ReportBatchItemFailures), so one
  poisoned message is retried alone;
- the Slack and webhooks functions retry an event twice, then send it to the notify dead-letter
  queue (their failure destination) instead of dropping it;
- API Gateway's own answers (no token, no such route, throttled) carry the API's JSON error shape.

    python infra/merge_template.py prod > build/merge-prod.json
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_apigateway.literals import GatewayResponseTypeType

# The functions the alerts topic invokes (Chalice's name -> its logical id in SAM output): each
# retries an event twice, then hands it to the notify dead-letter queue.
NOTIFIERS = {"slack": "Slack", "webhooks": "Webhooks"}

# API Gateway answers some requests itself (no Authorization header, no such route): give those
# the same JSON error shape the functions use. Fixed texts: API Gateway's own messages can repeat
# the request's Authorization header, the caller's whole token. None keeps API Gateway's status.
# The text names no path: API Gateway's template would repeat the request's, a token pasted there included.
NO_ROUTE = (
    404,
    "not_found",
    "no route matches this method and path; the API's paths and their methods are listed at GET /openapi.json",
)
GATEWAY_RESPONSES: dict[GatewayResponseTypeType, tuple[int | None, str, str]] = {
    "UNAUTHORIZED": (401, "unauthorized", "missing Authorization header; send Authorization: Bearer <token>"),
    "MISSING_AUTHENTICATION_TOKEN": NO_ROUTE,
    # This API signs nothing with SigV4: API Gateway reads an Authorization header as a broken
    # signature only on a request that no route (or method) matched.
    "INVALID_SIGNATURE": NO_ROUTE,
    "ACCESS_DENIED": (403, "forbidden", "access denied"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "unsupported_media_type", "send the body with Content-Type: application/json"),
    "REQUEST_TOO_LARGE": (413, "payload_too_large", "the request body is over the limit"),
    "THROTTLED": (429, "throttled", "too many requests; retry shortly"),
    "DEFAULT_4XX": (None, "refused", "API Gateway refused the request"),
    "DEFAULT_5XX": (502, "gateway_error", "the API failed to answer; retry shortly"),
}


def gateway_response(kind: GatewayResponseTypeType) -> tuple[int | None, str]:
    """The status (None: API Gateway's own) and JSON body API Gateway answers for a response type."""
    status, code, message = GATEWAY_RESPONSES[kind]
    return status, json.dumps({"error": {"code": code, "message": message}})


def gateway_responses() -> dict[str, dict[str, object]]:
    """SAM's GatewayResponses for the REST API: JSON bodies like {"error": {"code": ..., "message": ...}}."""
    responses: dict[str, dict[str, object]] = {}
    for kind in GATEWAY_RESPONSES:
        status, body = gateway_response(kind)
        responses[kind] = {"ResponseTemplates": {"application/json": body}}
        if status is not None:
            responses[kind]["StatusCode"] = str(status)
    return responses


def merge_template(stage: str) -> dict[str, object]:
    notify_dlq = f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:certwatch-{stage}-notify-dlq"
    return {
        "Resources": {
            **{
                resource: {
                    "Properties": {
                        "Events": {
                            f"{resource}SqsEventSource": {
                                "Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
                            }
                        }
                    }
                }
                for resource in ("Checker", "CheckerAlone")  # the checks queue's, and the alone queue's
            },
            "RestAPI": {"Properties": {"GatewayResponses": gateway_responses()}},
            **{
                function: {
                    "Properties": {
                        "EventInvokeConfig": {
                            "MaximumRetryAttempts": 2,
                            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": {"Fn::Sub": notify_dlq}}},
                        }
                    }
                }
                for function in NOTIFIERS.values()
            },
        }
    }


if __name__ == "__main__":
    print(json.dumps(merge_template(sys.argv[1] if len(sys.argv) > 1 else "dev"), indent=2))
