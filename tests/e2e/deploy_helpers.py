"""What the deploy tests share: running a make target offline, moto's API import gap, and reading a stage back.

``moto_imports_chalice_swagger`` is test-only and must never move into the product: it bridges a
gap of moto's API Gateway, not of ours. ``wiring`` reads a deployed stage back the way an operator
checks it with the AWS CLI: by names and ARNs, leaving out what changes on every call (ids of
API Gateway resources, revision ids, timestamps).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from moto.apigateway.models import APIGatewayBackend

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import FunctionConfigurationTypeDef
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / "build" / "wheelhouse"


class Clients:
    """boto3 clients of the AWS being inspected, one per service a deploy touches, each made once."""

    def __init__(self, session: Session, endpoint: str | None = None) -> None:
        self._session = session
        self._endpoint = endpoint

    @cached_property
    def apigateway(self) -> APIGatewayClient:
        return self._session.client("apigateway", endpoint_url=self._endpoint)

    @cached_property
    def cloudformation(self) -> CloudFormationClient:
        return self._session.client("cloudformation", endpoint_url=self._endpoint)

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return self._session.client("dynamodb", endpoint_url=self._endpoint)

    @cached_property
    def events(self) -> EventBridgeClient:
        return self._session.client("events", endpoint_url=self._endpoint)

    @cached_property
    def iam(self) -> IAMClient:
        return self._session.client("iam", endpoint_url=self._endpoint)

    @cached_property
    def lambda_(self) -> LambdaClient:
        return self._session.client("lambda", endpoint_url=self._endpoint)

    @cached_property
    def sns(self) -> SNSClient:
        return self._session.client("sns", endpoint_url=self._endpoint)

    @cached_property
    def sqs(self) -> SQSClient:
        return self._session.client("sqs", endpoint_url=self._endpoint)


def make(*arguments: str, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run ``make`` in the project with offline packaging credentials; the make of a calling make is not inherited."""
    found = shutil.which("make")
    if found is None:
        pytest.fail("make is not installed; the project's targets are how it builds and packages")
    environment = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "AWS_PROFILE"}}
    environment |= {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "packaging",
        "AWS_SECRET_ACCESS_KEY": "packaging",
    }
    environment.pop("AWS_SESSION_TOKEN", None)
    environment |= env or {}
    # The venv (and so the Python) running these tests packages: under `make test PYTHON_VERSION=3.12`
    # that is .venv-3.12, whose Lambda runtime and wheels differ from 3.13's.
    venv = [f"VENV={sys.prefix}", f"PYTHON_VERSION={sys.version_info.major}.{sys.version_info.minor}"]
    with one_build_at_a_time():
        return subprocess.run(
            [found, *arguments, *venv], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout
        )


@contextlib.contextmanager
def one_build_at_a_time() -> Iterator[None]:
    """Hold the project's build lock: tests in parallel workers (pytest -n) fill build/ and package in turn."""
    lock = ROOT / "build" / ".tests.lock"
    lock.parent.mkdir(exist_ok=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield


def wheelhouse() -> Path:
    """``make wheelhouse``: the Lambda runtime's wheels, downloaded once, so packaging needs no index."""
    done = make("wheelhouse")
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-3000:]
        pytest.fail(f"make wheelhouse failed ({done.returncode}); it needs PyPI once:\n{output}")
    return WHEELHOUSE


# --- moto's gap: its API Gateway imports only OpenAPI 3 -----------------------------------------


@contextlib.contextmanager
def moto_imports_chalice_swagger() -> Iterator[None]:
    """Let moto's API Gateway (in this process, e.g. behind ThreadedMotoServer) take what `chalice deploy` sends.

    A moto gap, bridged here and never in the product: AWS imports Swagger 2.0 and OpenAPI 3,
    while moto 5's import_rest_api and put_rest_api refuse Swagger 2.0, read ``info.description``
    unconditionally, and skip the document's authorizers and ``security``. Chalice sends Swagger
    2.0 with a custom (Lambda) authorizer, so the document is converted to OpenAPI 3.0.1 and the
    authorizers are applied as AWS's importer applies them.
    """
    original_put = APIGatewayBackend.put_rest_api

    def put_rest_api(
        self: APIGatewayBackend, function_id: str, api_doc: dict[str, Any], fail_on_warnings: bool, mode: str = "merge"
    ) -> Any:
        document = _as_openapi3(api_doc)
        api = original_put(self, function_id, document, fail_on_warnings, mode)
        _apply_authorizers(self, function_id, document)
        return api

    def import_rest_api(self: APIGatewayBackend, api_doc: dict[str, Any], fail_on_warnings: bool) -> Any:
        document = _as_openapi3(api_doc)
        api = self.create_rest_api(name=document["info"]["title"], description=document["info"]["description"])
        return put_rest_api(self, api.id, document, fail_on_warnings)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(APIGatewayBackend, "put_rest_api", put_rest_api)
        patch.setattr(APIGatewayBackend, "import_rest_api", import_rest_api)
        yield


def _as_openapi3(document: dict[str, Any]) -> dict[str, Any]:
    """Swagger 2.0 -> OpenAPI 3.0.1, as far as moto reads it: the version, info.description, the security schemes."""
    if "swagger" not in document:
        return document
    converted = {k: v for k, v in document.items() if k not in {"swagger", "securityDefinitions"}}
    converted["openapi"] = "3.0.1"
    converted["info"] = {"description": "", **document.get("info", {})}
    converted["components"] = {"securitySchemes": document.get("securityDefinitions", {})}
    return converted


def _apply_authorizers(backend: APIGatewayBackend, api_id: str, document: dict[str, Any]) -> None:
    """Create each ``x-amazon-apigateway-authorizer`` (replacing one of the same name) and set it on its methods."""
    created = {}
    for name, scheme in document.get("components", {}).get("securitySchemes", {}).items():
        spec = scheme.get("x-amazon-apigateway-authorizer")
        if spec is None:
            continue
        for old in backend.get_authorizers(api_id):
            if old.name == name and old.id is not None:
                backend.delete_authorizer(api_id, old.id)
        created[name] = backend.create_authorizer(
            api_id,
            name,
            spec["type"].upper(),
            authorizer_uri=spec.get("authorizerUri"),
            identity_source=f"method.request.header.{scheme.get('name', 'Authorization')}",
            authorizer_result_ttl=spec.get("authorizerResultTtlInSeconds"),
        ).id
    api = backend.get_rest_api(api_id)
    for path, methods in document.get("paths", {}).items():
        resource = api.get_resource_for_path(path)
        for method_type, method_doc in methods.items():
            for requirement in method_doc.get("security") or []:
                for name in set(requirement) & set(created):
                    method = backend.get_method(api_id, resource.id, method_type.upper())
                    method.authorization_type = "CUSTOM"
                    method.authorizer_id = created[name]


# --- reading a stage back ---------------------------------------------------------------------


def wiring(aws: Clients, stage: str) -> dict[str, Any]:
    """Everything of ``stage`` an operator checks after a deploy, by name; equal before and after a no-op redeploy."""
    prefix = f"certwatch-{stage}"
    lambda_ = aws.lambda_
    functions = {
        f["FunctionName"]: f
        for page in lambda_.get_paginator("list_functions").paginate()
        for f in page["Functions"]
        if f["FunctionName"] == prefix or f["FunctionName"].startswith(f"{prefix}-")
    }
    stack = aws.cloudformation.describe_stacks(StackName=f"{prefix}-data")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return {
        "stack": {"status": stack["StackStatus"], "outputs": outputs},
        "functions": {name: _function(aws, f) for name, f in sorted(functions.items())},
        "mappings": [
            {key: m.get(key) for key in ("EventSourceArn", "FunctionArn", *MAPPING_SETTINGS)}
            for m in lambda_.list_event_source_mappings(EventSourceArn=outputs["CheckQueueArn"])["EventSourceMappings"]
        ],
        "rules": _rules(aws, prefix),
        "subscriptions": sorted(
            (s["Protocol"], s["Endpoint"])
            for s in aws.sns.list_subscriptions_by_topic(TopicArn=outputs["AlertsTopicArn"])["Subscriptions"]
        ),
        "apis": _apis(aws),
    }


MAPPING_SETTINGS = ("BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "ScalingConfig")


def _function(aws: Clients, function: FunctionConfigurationTypeDef) -> dict[str, Any]:
    name = function["FunctionName"]
    role_name = function["Role"].rsplit("/", 1)[1]
    iam = aws.iam
    policies = {
        policy: iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]
        for policy in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    }
    try:
        invoke = aws.lambda_.get_function_event_invoke_config(FunctionName=name)
        invoke_config = {k: invoke.get(k) for k in ("MaximumRetryAttempts", "DestinationConfig")}
    except aws.lambda_.exceptions.ResourceNotFoundException:
        invoke_config = None
    return {
        "arn": function["FunctionArn"],
        "handler": function["Handler"],
        "runtime": function["Runtime"],
        "timeout": function["Timeout"],
        "memory": function["MemorySize"],
        "code": function["CodeSha256"],
        "environment": function.get("Environment", {}).get("Variables", {}),
        "role": function["Role"],
        "role_policies": policies,
        "invoke_config": invoke_config,
        "invokers": _invokers(aws, name),
    }


def _invokers(aws: Clients, function_name: str) -> list[tuple[str, str | None]]:
    """Who the function's resource policy lets invoke it: (service principal, source ARN)."""
    lambda_ = aws.lambda_
    try:
        policy = json.loads(lambda_.get_policy(FunctionName=function_name)["Policy"])
    except lambda_.exceptions.ResourceNotFoundException:
        return []
    found = []
    for statement in policy["Statement"]:
        principal = statement["Principal"]
        service = principal.get("Service") if isinstance(principal, dict) else principal
        source = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn")
        found.append((str(service), source))
    return sorted(found, key=repr)


def _rules(aws: Clients, prefix: str) -> dict[str, Any]:
    events = aws.events
    found = {}
    for rule in events.list_rules(NamePrefix=prefix)["Rules"]:
        targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        found[rule["Name"]] = {
            "arn": rule["Arn"],
            "schedule": rule.get("ScheduleExpression"),
            "pattern": json.loads(rule["EventPattern"]) if rule.get("EventPattern") else None,
            "state": rule.get("State"),
            "targets": sorted(t["Arn"] for t in targets),
        }
    return found


def _apis(aws: Clients) -> dict[str, Any]:
    apigateway = aws.apigateway
    found = {}
    for api in apigateway.get_rest_apis()["items"]:
        api_id = api["id"]
        authorizers = {a["id"]: a for a in apigateway.get_authorizers(restApiId=api_id)["items"]}
        routes = {}
        for resource in apigateway.get_resources(restApiId=api_id)["items"]:
            for method in resource.get("resourceMethods") or {}:
                detail = apigateway.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=method)
                authorizer = authorizers.get(detail.get("authorizerId") or "")
                routes[f"{method} {resource['path']}"] = {
                    "authorization": detail.get("authorizationType"),
                    "authorizer": None if authorizer is None else authorizer["name"],
                    "integration": detail.get("methodIntegration", {}).get("uri"),
                }
        found[api["name"]] = {
            "id": api_id,
            "routes": routes,
            "authorizers": {
                a["name"]: {k: a.get(k) for k in ("type", "authorizerUri", "identitySource")}
                for a in authorizers.values()
            },
            "gateway_responses": {
                r["responseType"]: {"status": r.get("statusCode"), "templates": r.get("responseTemplates")}
                for r in apigateway.get_gateway_responses(restApiId=api_id)["items"]
            },
            "stages": sorted(s["stageName"] for s in apigateway.get_stages(restApiId=api_id)["item"]),
        }
    return found


def leftovers(aws: Clients) -> dict[str, list[str]]:
    """What is left in the account of anything a deploy creates (after a reset, everything is a leftover)."""
    stacks = aws.cloudformation.list_stacks()["StackSummaries"]
    return {
        "functions": [f["FunctionName"] for f in aws.lambda_.list_functions()["Functions"]],
        "event source mappings": [m["UUID"] for m in aws.lambda_.list_event_source_mappings()["EventSourceMappings"]],
        "roles": [r["RoleName"] for r in aws.iam.list_roles()["Roles"]],
        "rules": [r["Name"] for r in aws.events.list_rules()["Rules"]],
        "apis": [a["name"] for a in aws.apigateway.get_rest_apis()["items"]],
        "stacks": [s["StackName"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"],
        "tables": aws.dynamodb.list_tables()["TableNames"],
        "queues": aws.sqs.list_queues().get("QueueUrls", []),
        "topics": [t["TopicArn"] for t in aws.sns.list_topics()["Topics"]],
        "subscriptions": [s["SubscriptionArn"] for s in aws.sns.list_subscriptions()["Subscriptions"]],
    }
