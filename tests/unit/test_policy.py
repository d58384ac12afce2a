"""The hand-written IAM policies (infra/policy.py) against the AWS calls the Lambda code really makes.

Chalice's policy generator reads app.py only, so these tests read the runtime modules of
chalicelib/ instead: every boto3 operation they reference (``client.put_item(...)``, an operation
handed to a helper as ``client.list_certificates`` or ``self._call(self._client.query, ...)``, or
named by string as ``self._call("query", ...)``) is looked up in botocore's service models and turned into the IAM
action it needs. Then: everything needed is granted, nothing granted goes unused, the committed
policy files are what infra/policy.py generates, and every function has its own.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name
from chalice.constants import DEFAULT_HANDLER_NAME

from infra import policy as infra_policy
from tests.support.policy import ROOT, allows, chalice_functions, granted_actions, policy_file

CHALICELIB = ROOT / "chalicelib"
# The services each runtime module talks to (botocore's names).
MODULE_SERVICES: dict[str, tuple[str, ...]] = {
    **{
        f"adapters/dynamo/{name}.py": ("dynamodb",)
        for name in (
            "__init__",
            "codec",
            "table",
            "targets",
            "alerts",
            "outbox",
            "history",
            "holders",
            "deliveries",
            "inventory",
            "tokens",
            "domains",
        )
    },
    "adapters/sqs.py": ("sqs",),
    "adapters/sns.py": ("sns",),
    "adapters/certificates.py": ("acm", "iam"),
    "adapters/discovery.py": ("elbv2", "acm", "apigateway", "apigatewayv2", "cloudfront"),
    "adapters/destinations.py": ("ssm",),
    "adapters/ssm_secrets.py": ("ssm",),  # through powertools' SSMProvider
    "deps.py": ("sqs", "sts"),
    "adapters/aws.py": (),  # reads errors and follows page tokens; the adapters that use it make the calls
}
# Helpers that take the operation as their first argument, the client's method or its name (the DynamoDB
# adapter's _call and _send).
BY_NAME = {"_call", "_send"}
# Where the IAM prefix is not botocore's service name.
IAM_PREFIX = {"elbv2": "elasticloadbalancing"}
# Operations any caller may make: no IAM permission can deny them.
NO_PERMISSION = {("sts", "GetCallerIdentity")}
# A TransactWriteItems request needs the item action of each kind of item it carries.
TRANSACT_WRITE_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# powertools parameter providers -> (service, the methods a module may call -> IAM action).
PROVIDERS = {
    "SSMProvider": (
        "ssm",
        {
            "get": "ssm:GetParameter",
            "get_multiple": "ssm:GetParametersByPath",
            "get_parameters_by_name": "ssm:GetParameters",
        },
    )
}


@dataclass(frozen=True, order=True)
class Need:
    """An IAM action the code needs, and where: the module and line of the call that needs it."""

    action: str
    module: str
    line: int
    call: str  # service and operation, e.g. "dynamodb.TransactWriteItems"

    def __str__(self) -> str:
        return f"{self.action} ({self.call} at chalicelib/{self.module}:{self.line})"


# --- the scanner ------------------------------------------------------------------------------


@cache
def _service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


@cache
def operations(service: str) -> dict[str, str]:
    """The service's operations by their boto3 method name: ``put_item`` -> ``PutItem``."""
    return {xform_name(name): name for name in _service_model(service).operation_names}


def iam_actions(service: str, operation: str, *, transact_items: Iterable[str] = ()) -> set[str]:
    """The IAM actions one operation needs (TransactWriteItems: those of the kinds of items it carries)."""
    if (service, operation) in NO_PERMISSION:
        return set()
    if service in {"apigateway", "apigatewayv2"}:  # API Gateway authorizes by HTTP method and path
        return {f"apigateway:{_service_model(service).operation_model(operation).http['method']}"}
    if service == "sqs" and operation.endswith("Batch"):  # SendMessageBatch is authorized as SendMessage
        return {f"sqs:{operation.removesuffix('Batch')}"}
    if (service, operation) == ("dynamodb", "TransactWriteItems"):
        return {TRANSACT_WRITE_ACTIONS[kind] for kind in transact_items}
    return {f"{IAM_PREFIX.get(service, service)}:{operation}"}


def scan_module(module: str, source: str, services: Iterable[str]) -> list[Need]:
    """The IAM actions one module's source needs, given the services it talks to."""
    services = tuple(services)
    tree = ast.parse(source, filename=module)
    needs: list[Need] = []

    transactions = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and _transaction_call(node)]
    for node in ast.walk(tree):
        method: str | None = None
        if isinstance(node, ast.Attribute):  # client.put_item(...) or _call(client.list_certificates, ...)
            method = node.attr
        elif isinstance(node, ast.Call) and _callee(node) in BY_NAME and node.args:  # self._call("query", ...)
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                method = first.value
        if method is None:
            continue
        line = getattr(node, "lineno", 0)
        for service in services:
            operation = operations(service).get(method)
            if operation is None:
                continue
            items: set[str] = set()
            if operation == "TransactWriteItems":
                call = next((c for c in transactions if _encloses(c, node)), None)
                assert call is not None, f"chalicelib/{module}:{line}: a transaction outside a call"
                items = _transact_item_kinds(call)
                assert items, f"chalicelib/{module}:{line}: cannot tell which items the transaction carries"
            for action in iam_actions(service, operation, transact_items=items):
                needs.append(Need(action, module, line, f"{service}.{operation}"))
    for provider, (service, methods) in PROVIDERS.items():
        uses = [node for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == provider]
        if uses:  # provider.get(...) is what the code calls; get_multiple & co. would need more
            used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)} | {"get"}
            for method, action in methods.items():
                if method in used:
                    needs.append(Need(action, module, uses[0].lineno, f"{service} via powertools {provider}.{method}"))
    return needs


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _transaction_call(node: ast.Call) -> bool:
    if _callee(node) == "transact_write_items":
        return True
    first = node.args[0] if node.args else None
    named = first.attr if isinstance(first, ast.Attribute) else first.value if isinstance(first, ast.Constant) else None
    return _callee(node) in BY_NAME and named == "transact_write_items"


def _encloses(call: ast.AST, node: ast.AST) -> bool:
    return any(inner is node for inner in ast.walk(call))


def _transact_item_kinds(call: ast.Call) -> set[str]:
    """The kinds of item (Put, Update, Delete, ConditionCheck) in the call's TransactItems."""
    kinds: set[str] = set()
    for keyword in call.keywords:
        if keyword.arg != "TransactItems":
            continue
        for node in ast.walk(keyword.value):
            if isinstance(node, ast.Dict):
                kinds |= {
                    key.value
                    for key in node.keys
                    if isinstance(key, ast.Constant) and key.value in TRANSACT_WRITE_ACTIONS
                }
    return kinds


def runtime_modules() -> dict[str, str]:
    """The source of every chalicelib module that runs inside a Lambda function, by path under chalicelib/.

    Recursive: a module in any package of chalicelib/ is scanned, so none escapes the policy check.
    What runs with the operator's own credentials only (certwatch/aws/) is not in chalicelib/.
    """
    modules = {path.relative_to(CHALICELIB).as_posix(): path for path in sorted(CHALICELIB.rglob("*.py"))}
    return {name: path.read_text() for name, path in modules.items()}


def needed(sources: Mapping[str, str], services: Mapping[str, Iterable[str]] = MODULE_SERVICES) -> list[Need]:
    """What the given modules need; a module not in ``services`` talks to no AWS service."""
    return sorted(
        need for module, text in sources.items() for need in scan_module(module, text, services.get(module, ()))
    )


def granted(stage: str) -> dict[str, set[str]]:
    """Every action some function's policy grants in ``stage`` -> the functions granting it."""
    by_action: dict[str, set[str]] = {}
    for function in infra_policy.FUNCTIONS:
        for action in granted_actions(infra_policy.policy(stage, function)):
            by_action.setdefault(action, set()).add(function)
    return by_action


def missing(needs: Iterable[Need], grants: Iterable[str]) -> list[Need]:
    """The needs no grant covers (grants may use IAM wildcards; actions compare case-insensitively)."""
    document = {"Statement": [{"Effect": "Allow", "Action": sorted(grants), "Resource": "*"}]}
    return [need for need in needs if not allows(document, need.action, "*")]


def unused(grants: Iterable[str], needs: Iterable[Need]) -> set[str]:
    """The grants no need asks for (a wildcard grant is never an exact need, so it shows up here)."""
    asked = {need.action.lower() for need in needs}
    return {action for action in grants if action.lower() not in asked}


NEEDS = needed(runtime_modules())
NEEDS_BY_CALL: dict[str, set[str]] = {}
for _need in NEEDS:
    NEEDS_BY_CALL.setdefault(_need.call, set()).add(_need.action)


# --- the scanner itself -------------------------------------------------------------------------


def test_the_scanner_finds_the_calls_every_adapter_makes() -> None:
    found = {(need.module, need.action) for need in NEEDS}
    assert {
        ("adapters/dynamo/table.py", "dynamodb:GetItem"),
        ("adapters/dynamo/table.py", "dynamodb:Query"),  # handed over: self._call(query, ...)
        ("adapters/dynamo/targets.py", "dynamodb:PutItem"),  # carried by a transaction
        ("adapters/dynamo/tokens.py", "dynamodb:PutItem"),  # called
        ("adapters/dynamo/targets.py", "dynamodb:BatchWriteItem"),
        ("adapters/dynamo/outbox.py", "dynamodb:UpdateItem"),
        ("adapters/sqs.py", "sqs:SendMessage"),  # SendMessageBatch
        ("adapters/sns.py", "sns:Publish"),
        ("adapters/certificates.py", "acm:ListCertificates"),  # passed as _call(client.list_certificates, ...)
        ("adapters/certificates.py", "iam:GetServerCertificate"),
        ("adapters/discovery.py", "elasticloadbalancing:DescribeListenerCertificates"),
        ("adapters/discovery.py", "apigateway:GET"),
        ("adapters/discovery.py", "cloudfront:ListDistributions"),
        ("deps.py", "sqs:GetQueueUrl"),
        ("deps.py", "ssm:GetParameter"),  # powertools SSMProvider
        ("adapters/destinations.py", "ssm:GetParametersByPath"),
        ("adapters/dynamo/deliveries.py", "dynamodb:PutItem"),
    } <= found
    assert not any(need.action.startswith("sts:") for need in NEEDS), "GetCallerIdentity needs no permission"


def test_every_module_that_reaches_aws_is_mapped_to_its_services() -> None:
    talking = {
        module
        for module, text in runtime_modules().items()
        if any(word in text for word in ("boto3", "botocore", "aws_lambda_powertools.utilities.parameters"))
    }
    assert talking <= set(MODULE_SERVICES), f"map these modules to their services: {talking - set(MODULE_SERVICES)}"
    assert set(MODULE_SERVICES) <= set(runtime_modules())


def test_every_client_the_composition_root_builds_belongs_to_a_scanned_service() -> None:
    tree = ast.parse(runtime_modules()["deps.py"])
    built = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and _callee(node) == "client"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }
    scanned = {service for services in MODULE_SERVICES.values() for service in services}
    scanned |= {service for service, _ in PROVIDERS.values()}
    assert built == scanned


@pytest.mark.parametrize(
    ("service", "operation", "actions"),
    [
        ("sqs", "SendMessageBatch", {"sqs:SendMessage"}),
        ("apigateway", "GetDomainNames", {"apigateway:GET"}),
        ("apigatewayv2", "GetDomainNames", {"apigateway:GET"}),
        ("sts", "GetCallerIdentity", set()),
        ("elbv2", "DescribeListeners", {"elasticloadbalancing:DescribeListeners"}),
        ("dynamodb", "Query", {"dynamodb:Query"}),
    ],
)
def test_operations_map_to_the_documented_iam_actions(service: str, operation: str, actions: set[str]) -> None:
    assert iam_actions(service, operation) == actions


def test_a_transaction_needs_the_actions_of_the_items_it_carries() -> None:
    assert NEEDS_BY_CALL["dynamodb.TransactWriteItems"] == {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }


FAKE_SCAN = """
class Reporter:
    def everything(self):
        return self._client.scan(TableName="certwatch-dev")
"""


def test_a_new_call_without_a_grant_is_reported_missing() -> None:
    sources = {**runtime_modules(), "reports.py": FAKE_SCAN}
    needs = needed(sources, {**MODULE_SERVICES, "reports.py": ("dynamodb",)})
    gaps = set(missing(needs, granted("prod"))) - set(missing(NEEDS, granted("prod")))
    assert [(need.action, need.module, need.line) for need in gaps] == [("dynamodb:Scan", "reports.py", 4)]


def test_a_new_operation_named_by_string_is_reported_missing() -> None:
    source = 'class S:\n    def f(self):\n        return self._call("describe_table", TableName="t")\n'
    gaps = missing(scan_module("fake.py", source, ("dynamodb",)), granted("prod"))
    assert [need.action for need in gaps] == ["dynamodb:DescribeTable"]


def test_a_condition_check_in_a_transaction_needs_its_own_action() -> None:
    source = "def f(client):\n    client.transact_write_items(TransactItems=[{'ConditionCheck': {}}, {'Put': {}}])\n"
    assert {need.action for need in scan_module("fake.py", source, ("dynamodb",))} == {
        "dynamodb:ConditionCheckItem",
        "dynamodb:PutItem",
    }


def test_a_grant_nobody_calls_is_reported_unused() -> None:
    assert unused({"dynamodb:Scan", "dynamodb:Query", "sqs:*"}, NEEDS) == {"dynamodb:Scan", "sqs:*"}


# --- (a) everything the code needs is granted -------------------------------------------------


@pytest.mark.parametrize("stage", infra_policy.STAGES)
def test_every_action_the_code_needs_is_granted(stage: str) -> None:
    gaps = missing(NEEDS, granted(stage))
    assert not gaps, "not granted to any function:\n" + "\n".join(map(str, gaps))


# --- (b) nothing is granted that no code uses --------------------------------------------------


def _code_grants() -> list[Any]:
    pairs = sorted(
        {
            (capability, action)
            for stage in infra_policy.STAGES
            for capability, stanzas in infra_policy.capabilities(stage).items()
            if capability not in infra_policy.SERVICE_SIDE
            for action in granted_actions({"Statement": stanzas})
        }
    )
    return [
        pytest.param(
            capability,
            action,
            id=f"{capability}:{action}",
        )
        for capability, action in pairs
    ]


@pytest.mark.parametrize(("capability", "action"), _code_grants())
def test_every_action_granted_for_code_is_called_by_some_code(capability: str, action: str) -> None:
    assert not unused({action}, NEEDS), f"capability {capability} grants {action}, which no runtime module calls"


def test_every_capability_is_given_to_some_function_and_service_side_ones_exist() -> None:
    known = set(infra_policy.capabilities("dev"))
    given = {name for names in infra_policy.FUNCTIONS.values() for name in names}
    assert given == known
    assert known >= infra_policy.SERVICE_SIDE


# --- (c) the committed files are what infra/policy.py generates ---------------------------------


@pytest.mark.parametrize("stage", infra_policy.STAGES)
@pytest.mark.parametrize("function", sorted(infra_policy.FUNCTIONS))
def test_the_committed_policy_file_is_the_generated_one(stage: str, function: str) -> None:
    assert policy_file(stage, function) == infra_policy.policy(stage, function), (
        f".chalice/{infra_policy.file_name(stage, function)} drifted: run `make policies`"
    )


def test_no_stray_policy_files() -> None:
    committed = {path.name for path in (ROOT / ".chalice").glob("policy-*.json")}
    generated = {infra_policy.file_name(s, f) for s in infra_policy.STAGES for f in infra_policy.FUNCTIONS}
    assert committed == generated


def test_write_all_writes_exactly_the_committed_files(tmp_path: Path) -> None:
    for path in infra_policy.write_all(tmp_path):
        assert path.read_text() == (ROOT / ".chalice" / path.name).read_text(), path.name


def test_the_chalice_config_gives_every_function_its_own_policy_file() -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config.get("autogen_policy") is False
    assert set(config["stages"]) == set(infra_policy.STAGES)
    for stage in infra_policy.STAGES:
        settings = config["stages"][stage]
        assert settings.get("autogen_policy") is False, stage
        functions = settings["lambda_functions"]
        assert set(functions) == set(infra_policy.FUNCTIONS), stage
        for function, values in functions.items():
            assert values.get("iam_policy_file") == infra_policy.file_name(stage, function), (stage, function)
            assert values.get("autogen_policy") is False, (stage, function)


@pytest.mark.parametrize("stage", infra_policy.STAGES)
def test_chalice_gives_each_function_a_role_with_its_own_policy_file(stage: str) -> None:
    built = chalice_functions(stage)
    files = {name: function.policy_file for name, function in built.items()}
    assert files == {name: ROOT / ".chalice" / infra_policy.file_name(stage, name) for name in built}


# --- (d) the policies are for the functions app.py defines --------------------------------------


def test_the_functions_with_policies_are_the_functions_app_py_defines() -> None:
    from app import app

    defined = {source.name for source in app.event_sources}
    defined |= {authorizer.name for authorizer in app.builtin_auth_handlers}
    defined |= {function.name for function in app.pure_lambda_functions}
    if app.routes:
        defined.add(DEFAULT_HANDLER_NAME)  # every HTTP route runs in Chalice's one REST API function
    assert set(infra_policy.FUNCTIONS) == defined
    assert set(infra_policy.FUNCTIONS) == set(chalice_functions("prod"))


# --- what Lambda itself does with each role -----------------------------------------------------


def _log_cases() -> list[Any]:
    return [
        pytest.param(
            stage,
            function,
            id=f"{stage}-{function}",
        )
        for stage in infra_policy.STAGES
        for function in sorted(infra_policy.FUNCTIONS)
    ]


@pytest.mark.parametrize(("stage", "function"), _log_cases())
def test_each_function_may_write_its_own_logs(stage: str, function: str) -> None:
    name = chalice_functions(stage)[function].function_name
    group = f"arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/{name}"
    stream = f"{group}:log-stream:2026/11/27/[$LATEST]0123456789abcdef"
    document = infra_policy.policy(stage, function)
    assert allows(document, "logs:CreateLogGroup", group)
    assert allows(document, "logs:CreateLogStream", f"{group}:*") or allows(document, "logs:CreateLogStream", group)
    assert allows(document, "logs:PutLogEvents", stream)
    other = chalice_functions("dev" if stage != "dev" else "prod")[function].function_name
    elsewhere = f"arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/{other}:log-stream:x"
    assert not allows(document, "logs:PutLogEvents", elsewhere)


# --- the webhooks function: what it may touch, and what not ----------------------------------------


@pytest.mark.parametrize("stage", infra_policy.STAGES)
def test_the_webhooks_function_reads_destinations_and_writes_only_delivery_records(stage: str) -> None:
    document = infra_policy.policy(stage, "webhooks")
    table = f"arn:aws:dynamodb:eu-west-1:123456789012:table/certwatch-{stage}"
    path = f"arn:aws:ssm:eu-west-1:123456789012:parameter/certwatch/{stage}/webhooks"
    assert allows(document, "ssm:GetParametersByPath", path)
    for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"):
        assert allows(document, action, table)
    (records,) = [s for s in document["Statement"] if "dynamodb:PutItem" in s["Action"]]
    assert records["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["WEBHOOK#*"]}}
    # It adds no destination, reads no Slack secret, and queries, deletes or publishes nothing.
    assert not allows(document, "ssm:PutParameter", f"{path}/wh_000000000000")
    assert not allows(document, "ssm:GetParameter", f"{path.rsplit('/', 1)[0]}/slack-webhook-url")
    for action in ("dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:Scan", "sns:Publish"):
        assert not allows(document, action, table), action
    # ... and nothing of another stage's
    other = "dev" if stage != "dev" else "prod"
    assert not allows(document, "ssm:GetParametersByPath", path.replace(f"/{stage}/", f"/{other}/"))
