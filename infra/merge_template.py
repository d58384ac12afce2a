"""Print the CloudFormation fragment `chalice package --merge-template` merges into its output.

What Chalice cannot express itself, for one stage:
- the checker's SQS event source reports partial batch failures (ReportBatchItemFailures), so one
  poisoned message is retried alone;
- the Slack function retries an event twice, then sends it to the notify dead-letter queue
  (its failure destination) instead of dropping it;
- API Gateway's own answers (no token, no such route, throttled) carry the API's JSON error shape.

    python infra/merge_template.py prod > build/merge-prod.json
"""

from __future__ import annotations

import json
import sys

# API Gateway answers some requests itself (no Authorization header, no such route): give those
# the same JSON error shape the functions use.
GATEWAY_RESPONSES = {
    "UNAUTHORIZED": (401, "unauthorized", "missing Authorization header; send Authorization: Bearer <token>"),
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found", "no such route"),
    "ACCESS_DENIED": (403, "forbidden", "access denied"),
    "THROTTLED": (429, "throttled", "too many requests; retry shortly"),
    "DEFAULT_5XX": (502, "gateway_error", "the API failed to answer; retry shortly"),
}


def gateway_responses() -> dict[str, dict[str, object]]:
    """SAM's GatewayResponses for the REST API: JSON bodies like {"error": {"code": ..., "message": ...}}."""
    return {
        kind: {
            "StatusCode": str(status),
            "ResponseTemplates": {"application/json": json.dumps({"error": {"code": code, "message": message}})},
        }
        for kind, (status, code, message) in GATEWAY_RESPONSES.items()
    }


def merge_template(stage: str) -> dict[str, object]:
    notify_dlq = f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:certwatch-{stage}-notify-dlq"
    return {
        "Resources": {
            "Checker": {
                "Properties": {
                    "Events": {
                        "CheckerSqsEventSource": {"Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}}
                    }
                }
            },
            "RestAPI": {"Properties": {"GatewayResponses": gateway_responses()}},
            "Slack": {
                "Properties": {
                    "EventInvokeConfig": {
                        "MaximumRetryAttempts": 2,
                        "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": {"Fn::Sub": notify_dlq}}},
                    }
                }
            },
        }
    }


if __name__ == "__main__":
    print(json.dumps(merge_template(sys.argv[1] if len(sys.argv) > 1 else "dev"), indent=2))
