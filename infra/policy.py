"""The hand-written IAM policies of certwatch's Lambda functions, one per function and stage.

Chalice's policy generator reads only app.py and misses every call made in chalicelib/, so
``autogen_policy`` is off and these policies are written into ``.chalice/`` instead:

    python infra/policy.py            # writes .chalice/policy-<stage>-<function>.json for every stage

Each function gets the actions it calls, on the resources of its stage only;
tests/unit/test_policy.py checks them against the boto3 calls the code makes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

CHALICE_DIR = Path(__file__).resolve().parent.parent / ".chalice"
STAGES = ("dev", "prod", "local")

# What each function may do, as named capabilities (see ``capabilities``).
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "api_handler": ("logs", "table-read", "table-write", "queue-send", "topic-publish", "discovery", "acm-read"),
    "token_auth": ("logs", "token-read"),
    "sweep": ("logs", "table-read", "table-write", "queue-send", "topic-publish", "ct-key"),
    "checker": ("logs", "table-read", "table-write", "topic-publish", "queue-consume", "alone-send"),
    "checker_alone": ("logs", "table-read", "table-write", "topic-publish", "alone-consume"),
    "slack": ("logs", "slack-secret", "notify-dead-letters"),
    "webhooks": ("logs", "webhook-destinations", "webhook-deliveries", "notify-dead-letters"),
    "inventory": ("logs", "table-read", "table-write", "topic-publish", "acm-read", "iam-read"),
    "acm_events": ("logs", "table-read", "table-write", "topic-publish", "acm-read"),
}

# Permissions Lambda itself uses with a function's role, which no code of ours calls.
SERVICE_SIDE = {"logs", "queue-consume", "alone-consume", "notify-dead-letters"}


def capabilities(stage: str) -> dict[str, list[dict[str, Any]]]:
    """Every capability's statements for ``stage`` (resources named as infra/template.yaml names them)."""
    table = f"arn:aws:dynamodb:*:*:table/certwatch-{stage}"
    queue = f"arn:aws:sqs:*:*:certwatch-{stage}-checks"
    alone = f"arn:aws:sqs:*:*:certwatch-{stage}-checks-alone"
    return {
        # The API's function is certwatch-<stage>; the others certwatch-<stage>-<name>.
        "logs": [
            _allow(
                ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                [
                    f"arn:aws:logs:*:*:log-group:/aws/lambda/certwatch-{stage}",
                    f"arn:aws:logs:*:*:log-group:/aws/lambda/certwatch-{stage}:*",
                    f"arn:aws:logs:*:*:log-group:/aws/lambda/certwatch-{stage}-*",
                ],
            )
        ],
        "token-read": [_allow(["dynamodb:GetItem"], table)],
        "table-read": [
            _allow(["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"], [table, f"{table}/index/*"])
        ],
        "table-write": [
            _allow(
                [
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:BatchWriteItem",
                ],
                table,
            )
        ],
        "queue-send": [_allow(["sqs:SendMessage", "sqs:GetQueueUrl"], queue)],
        "queue-consume": [
            _allow(
                ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
                queue,
            )
        ],
        # A batch's stragglers, handed over to be checked alone (SendMessageBatch needs sqs:SendMessage).
        "alone-send": [_allow(["sqs:SendMessage", "sqs:GetQueueUrl"], alone)],
        "alone-consume": [
            _allow(
                ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
                alone,
            )
        ],
        "topic-publish": [_allow(["sns:Publish"], f"arn:aws:sns:*:*:certwatch-{stage}-alerts")],
        "slack-secret": [
            _allow(["ssm:GetParameter"], f"arn:aws:ssm:*:*:parameter/certwatch/{stage}/slack-webhook-url")
        ],
        "ct-key": [_allow(["ssm:GetParameter"], f"arn:aws:ssm:*:*:parameter/certwatch/{stage}/certspotter-api-key")],
        "notify-dead-letters": [_allow(["sqs:SendMessage"], f"arn:aws:sqs:*:*:certwatch-{stage}-notify-dlq")],
        # Read only: destinations are written by the operator's `certwatch webhook add`.
        "webhook-destinations": [
            _allow(
                ["ssm:GetParametersByPath"],
                [
                    f"arn:aws:ssm:*:*:parameter/certwatch/{stage}/webhooks",
                    f"arn:aws:ssm:*:*:parameter/certwatch/{stage}/webhooks/*",
                ],
            )
        ],
        # The delivery records only (their partition key starts WEBHOOK#): no target, token or result.
        "webhook-deliveries": [
            {
                **_allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], table),
                "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["WEBHOOK#*"]}},
            }
        ],
        # Listing has no resource to scope to; describing is scoped to certificates.
        "acm-read": [
            _allow(["acm:ListCertificates"], "*"),
            _allow(["acm:DescribeCertificate", "acm:ListTagsForCertificate"], "arn:aws:acm:*:*:certificate/*"),
        ],
        "iam-read": [
            _allow(["iam:ListServerCertificates"], "*"),
            _allow(["iam:GetServerCertificate"], "arn:aws:iam::*:server-certificate/*"),
        ],
        "discovery": [
            _allow(
                [
                    "elasticloadbalancing:DescribeLoadBalancers",
                    "elasticloadbalancing:DescribeListeners",
                    "elasticloadbalancing:DescribeListenerCertificates",
                    "cloudfront:ListDistributions",
                ],
                "*",
            ),
            _allow(["apigateway:GET"], ["arn:aws:apigateway:*::/domainnames", "arn:aws:apigateway:*::/domainnames/*"]),
        ],
    }


def policy(stage: str, function: str) -> dict[str, Any]:
    """The policy document of one function in one stage."""
    known = capabilities(stage)
    statements = [statement for name in FUNCTIONS[function] for statement in known[name]]
    return {"Version": "2012-10-17", "Statement": statements}


def file_name(stage: str, function: str) -> str:
    return f"policy-{stage}-{function}.json"


def write_all(directory: Path = CHALICE_DIR) -> list[Path]:
    written = []
    for stage in STAGES:
        for function in FUNCTIONS:
            path = directory / file_name(stage, function)
            path.write_text(json.dumps(policy(stage, function), indent=2) + "\n")
            written.append(path)
    return written


def _allow(actions: list[str], resources: str | list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": resources}


if __name__ == "__main__":
    for path in write_all():
        print(path.relative_to(CHALICE_DIR.parent), file=sys.stderr)
