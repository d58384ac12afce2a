"""Deploying certwatch: the data stack on moto, infra/deploy.py's steps, and what `chalice package` emits.

The data stack (infra/template.yaml) really deploys on moto's CloudFormation; its outputs are
recorded into a copy of .chalice/config.json; the event source settings Chalice cannot express
are applied to functions on moto's Lambda. ``make package STAGE=prod`` runs once per module
(offline once build/wheelhouse is filled) and its SAM and Terraform output is read as JSON.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from certwatch.aws.cloudformation import deploy_stack, stack_name
from chalicelib.domain.inventory import ACM_EVENT_TYPES
from chalicelib.settings import Settings, stage_environment
from infra import policy as infra_policy
from infra.deploy import RECORDED, configure_event_sources, configure_gateway_responses, record_outputs
from infra.merge_template import GATEWAY_RESPONSES
from tests.e2e.deploy_helpers import make
from tests.support.policy import ROOT, SAM_FUNCTIONS, allows, chalice_functions, policy_file

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import EventSourceMappingConfigurationTypeDef

STAGE = "prod"
REGION = "eu-west-1"  # tests/conftest.py's
ACCOUNT = "123456789012"  # moto's
OUTPUTS = {
    "TableName",
    "CheckQueueUrl",
    "CheckQueueArn",
    "AloneCheckQueueUrl",
    "AloneCheckQueueArn",
    "CheckDeadLetterQueueUrl",
    "NotifyDeadLetterQueueArn",
    "AlertsTopicArn",
    "OpsTopicArn",
    "SlackWebhookParameter",
    "WebhookParameterPath",
}
CHECKER = f"certwatch-{STAGE}-checker"
CHECKER_ALONE = f"certwatch-{STAGE}-checker_alone"
SLACK = f"certwatch-{STAGE}-slack"
WEBHOOKS = f"certwatch-{STAGE}-webhooks"
BUILD = ROOT / "build" / STAGE
WHEELHOUSE_DONE = ROOT / "build" / "wheelhouse" / f".done-{Path(sys.prefix).name}"  # the Makefile's stamp
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


@pytest.fixture
def outputs() -> Iterator[dict[str, str]]:
    """The prod data stack deployed on moto; its outputs."""
    with mock_aws():
        yield deploy_stack(boto3.client("cloudformation"), STAGE)


# --- (a) the data stack -------------------------------------------------------------------------


def test_the_data_stack_deploys_with_every_output(outputs: dict[str, str]) -> None:
    assert set(outputs) >= OUTPUTS
    assert outputs["TableName"] == f"certwatch-{STAGE}"
    assert outputs["CheckQueueUrl"].endswith(f"/certwatch-{STAGE}-checks")
    assert outputs["CheckQueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:certwatch-{STAGE}-checks"
    assert outputs["CheckDeadLetterQueueUrl"].endswith(f"/certwatch-{STAGE}-checks-dlq")
    assert outputs["NotifyDeadLetterQueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:certwatch-{STAGE}-notify-dlq"
    assert outputs["AlertsTopicArn"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:certwatch-{STAGE}-alerts"
    assert outputs["OpsTopicArn"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:certwatch-{STAGE}-ops"
    assert outputs["SlackWebhookParameter"] == Settings.for_stage(STAGE).slack_parameter
    assert outputs["WebhookParameterPath"] == Settings.for_stage(STAGE).webhook_path


def test_the_prod_table_is_protected_from_deletion(outputs: dict[str, str]) -> None:
    table = boto3.client("dynamodb").describe_table(TableName=outputs["TableName"])["Table"]
    assert table["DeletionProtectionEnabled"] is True
    assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} == {"slots", "due", "outbox"}


def test_the_check_queue_redrives_to_its_dead_letter_queue_after_three_receives(outputs: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=outputs["CheckQueueUrl"], AttributeNames=["All"])["Attributes"]
    dead = sqs.get_queue_attributes(QueueUrl=outputs["CheckDeadLetterQueueUrl"], AttributeNames=["QueueArn"])
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dead["Attributes"]["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 3
    assert attributes["SqsManagedSseEnabled"] == "true"


def test_redeploying_changes_nothing(outputs: dict[str, str]) -> None:
    cloudformation = boto3.client("cloudformation")
    dynamodb = boto3.client("dynamodb")
    key = {"pk": {"S": "TOKEN"}, "sk": {"S": "kept"}}
    dynamodb.put_item(TableName=outputs["TableName"], Item=key)
    events = cloudformation.describe_stack_events(StackName=stack_name(STAGE))["StackEvents"]

    assert deploy_stack(cloudformation, STAGE) == outputs

    stack = cloudformation.describe_stacks(StackName=stack_name(STAGE))["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert cloudformation.describe_stack_events(StackName=stack_name(STAGE))["StackEvents"] == events
    assert dynamodb.get_item(TableName=outputs["TableName"], Key=key)["Item"] == key


# What each capability must reach on the deployed stack: (action, which resource).
REACHES = {
    "token-read": [("dynamodb:GetItem", "table")],
    "table-read": [("dynamodb:GetItem", "table"), ("dynamodb:Query", "table"), ("dynamodb:Query", "due index")],
    "table-write": [("dynamodb:UpdateItem", "table"), ("dynamodb:BatchWriteItem", "table")],
    "queue-send": [("sqs:SendMessage", "check queue"), ("sqs:GetQueueUrl", "check queue")],
    "queue-consume": [("sqs:ReceiveMessage", "check queue"), ("sqs:DeleteMessage", "check queue")],
    "topic-publish": [("sns:Publish", "alerts topic")],
    "slack-secret": [("ssm:GetParameter", "slack parameter")],
    "notify-dead-letters": [("sqs:SendMessage", "notify dead-letter queue")],
    "webhook-destinations": [("ssm:GetParametersByPath", "webhook parameters")],
    "webhook-deliveries": [("dynamodb:PutItem", "table"), ("dynamodb:UpdateItem", "table")],
}


@pytest.mark.parametrize("function", sorted(infra_policy.FUNCTIONS))
def test_each_policy_reaches_the_deployed_resources_it_is_for(outputs: dict[str, str], function: str) -> None:
    table_arn = boto3.client("dynamodb").describe_table(TableName=outputs["TableName"])["Table"]["TableArn"]
    arns = {
        "table": table_arn,
        "due index": f"{table_arn}/index/due",
        "check queue": outputs["CheckQueueArn"],
        "alerts topic": outputs["AlertsTopicArn"],
        "slack parameter": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{outputs['SlackWebhookParameter']}",
        "notify dead-letter queue": outputs["NotifyDeadLetterQueueArn"],
        "webhook parameters": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{outputs['WebhookParameterPath']}",
    }
    document = policy_file(STAGE, function)
    for capability in infra_policy.FUNCTIONS[function]:
        for action, resource in REACHES.get(capability, []):
            assert allows(document, action, arns[resource]), f"{function}: {action} on {arns[resource]}"
    # ... and nothing of another stage's
    assert not allows(document, "sns:Publish", outputs["AlertsTopicArn"].replace(f"-{STAGE}-", "-dev-"))


# --- (b) recording the outputs ----------------------------------------------------------------


def test_record_outputs_writes_the_stage_variables_and_keeps_everything_else(
    outputs: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    shutil.copy(ROOT / ".chalice" / "config.json", config)
    before = json.loads(config.read_text())

    variables = record_outputs(outputs, STAGE, config=config)

    recorded = {variable: outputs[output] for output, variable in RECORDED.items()}
    assert recorded == {
        "CERTWATCH_TABLE": f"certwatch-{STAGE}",
        "CERTWATCH_CHECK_QUEUE_URL": outputs["CheckQueueUrl"],
        "CERTWATCH_ALONE_QUEUE_URL": outputs["AloneCheckQueueUrl"],
        "CERTWATCH_TOPIC_ARN": outputs["AlertsTopicArn"],
        "CERTWATCH_SLACK_PARAMETER": f"/certwatch/{STAGE}/slack-webhook-url",
        "CERTWATCH_WEBHOOK_PATH": f"/certwatch/{STAGE}/webhooks",
    }
    expected = json.loads(json.dumps(before))
    expected["stages"][STAGE]["environment_variables"].update(recorded)
    after = json.loads(config.read_text())
    assert after == expected
    assert variables == expected["stages"][STAGE]["environment_variables"]
    # What the functions will read is what the stack made.
    assert stage_environment(STAGE, config)["CERTWATCH_TABLE"] == outputs["TableName"]

    written = config.read_bytes()
    record_outputs(outputs, STAGE, config=config)
    assert config.read_bytes() == written


# --- (c) the event source settings Chalice cannot express --------------------------------------


def _lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def _deployed_functions(outputs: dict[str, str]) -> Any:
    """The checker (with its SQS mapping, as `chalice deploy` leaves it), the Slack and webhooks functions, on moto."""
    role = boto3.client("iam").create_role(
        RoleName="certwatch-test-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    client = boto3.client("lambda")
    arns = {
        name: client.create_function(
            FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler", Code={"ZipFile": _lambda_zip()}
        )["FunctionArn"]
        for name in (CHECKER, CHECKER_ALONE, SLACK, WEBHOOKS)
    }
    # by the function's ARN, as chalice deploy does (moto then finds it by that ARN only, not by name)
    client.create_event_source_mapping(
        EventSourceArn=outputs["CheckQueueArn"],
        FunctionName=arns[CHECKER],
        BatchSize=25,
        MaximumBatchingWindowInSeconds=5,
    )
    client.create_event_source_mapping(
        EventSourceArn=outputs["AloneCheckQueueArn"], FunctionName=arns[CHECKER_ALONE], BatchSize=10
    )
    return client


def _mappings(client: LambdaClient, queue_arn: str) -> list[EventSourceMappingConfigurationTypeDef]:
    return client.list_event_source_mappings(EventSourceArn=queue_arn)["EventSourceMappings"]


def test_configure_event_sources_turns_on_partial_batch_responses_and_the_slack_failure_destination(
    outputs: dict[str, str],
) -> None:
    client = _deployed_functions(outputs)

    changes = configure_event_sources(client, STAGE, outputs)

    (mapping,) = _mappings(client, outputs["CheckQueueArn"])
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 25  # the rest of what chalice deploy set is left alone
    (alone,) = _mappings(client, outputs["AloneCheckQueueArn"])
    assert alone["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    for function in (SLACK, WEBHOOKS):
        invoke = client.get_function_event_invoke_config(FunctionName=function)
        assert invoke["MaximumRetryAttempts"] == 2
        assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == outputs["NotifyDeadLetterQueueArn"]
    assert len(changes) == 4


def test_configure_event_sources_twice_is_harmless(outputs: dict[str, str]) -> None:
    client = _deployed_functions(outputs)
    configure_event_sources(client, STAGE, outputs)
    mappings = _mappings(client, outputs["CheckQueueArn"])

    again = configure_event_sources(client, STAGE, outputs)

    assert [change for change in again if CHECKER in change] == []  # nothing left to change on the mapping
    assert _mappings(client, outputs["CheckQueueArn"]) == mappings
    for function in (SLACK, WEBHOOKS):
        invoke = client.get_function_event_invoke_config(FunctionName=function)
        assert invoke["MaximumRetryAttempts"] == 2
        assert invoke["DestinationConfig"] == {"OnFailure": {"Destination": outputs["NotifyDeadLetterQueueArn"]}}


def test_configure_event_sources_leaves_other_mappings_of_the_checker_alone(outputs: dict[str, str]) -> None:
    client = _deployed_functions(outputs)
    other = boto3.client("sqs").create_queue(QueueName="someone-elses")["QueueUrl"]
    other_arn = boto3.client("sqs").get_queue_attributes(QueueUrl=other, AttributeNames=["QueueArn"])
    client.create_event_source_mapping(EventSourceArn=other_arn["Attributes"]["QueueArn"], FunctionName=CHECKER)
    client.create_event_source_mapping(EventSourceArn=outputs["CheckQueueArn"], FunctionName=SLACK)  # not the checker

    configure_event_sources(client, STAGE, outputs)

    by_source = {
        (m["EventSourceArn"], m["FunctionArn"].rsplit(":", 1)[1]): m.get("FunctionResponseTypes") or []
        for m in client.list_event_source_mappings()["EventSourceMappings"]
    }
    assert by_source == {
        (outputs["CheckQueueArn"], CHECKER): ["ReportBatchItemFailures"],
        (outputs["AloneCheckQueueArn"], CHECKER_ALONE): ["ReportBatchItemFailures"],
        (outputs["CheckQueueArn"], SLACK): [],
        (other_arn["Attributes"]["QueueArn"], CHECKER): [],
    }


# --- (d) chalice package ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def packaged() -> Path:
    """``make package STAGE=prod`` once: build/prod/sam and build/prod/terraform."""
    done = make("package", f"STAGE={STAGE}")
    output = (done.stdout + done.stderr)[-3000:]
    if done.returncode != 0:
        if not WHEELHOUSE_DONE.exists():
            pytest.skip(f"the wheelhouse (build/wheelhouse) could not be downloaded, no network?\n{output}")
        pytest.fail(f"make package STAGE={STAGE} failed ({done.returncode}):\n{output}")
    return BUILD


@pytest.fixture(scope="module")
def sam(packaged: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((packaged / "sam" / "sam.json").read_text())
    return document


@pytest.fixture(scope="module")
def terraform(packaged: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((packaged / "terraform" / "chalice.tf.json").read_text())
    return document


def _function(sam: dict[str, Any], name: str) -> dict[str, Any]:
    resource = sam["Resources"][SAM_FUNCTIONS[name]]
    assert resource["Type"] == "AWS::Serverless::Function"
    properties: dict[str, Any] = resource["Properties"]
    return properties


def _event(sam: dict[str, Any], name: str) -> dict[str, Any]:
    events = _function(sam, name)["Events"]
    assert len(events) == 1, events
    (event,) = events.values()
    return dict(event)


def _settings() -> Settings:
    return Settings.from_env({**stage_environment(STAGE), "CERTWATCH_STAGE": STAGE})


def _rate(value: int, unit: str) -> str:
    return f"rate({value} {unit if value == 1 else unit + 's'})"


def test_the_package_has_every_function_with_its_handler(sam: dict[str, Any]) -> None:
    functions = {name for name, r in sam["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert functions == set(SAM_FUNCTIONS.values())
    for name, function in chalice_functions(STAGE).items():
        assert _function(sam, name)["Handler"] == function.handler


def test_the_package_runs_on_the_python_that_built_it(sam: dict[str, Any]) -> None:
    """The Lambda runtime follows the venv's Python: 3.12's suite packages (and so checks) a 3.12 app."""
    runtimes = {_function(sam, name)["Runtime"] for name in SAM_FUNCTIONS}
    assert runtimes == {f"python{sys.version_info.major}.{sys.version_info.minor}"}


def test_the_schedules(sam: dict[str, Any]) -> None:
    settings = _settings()
    assert _event(sam, "sweep") == {
        "Type": "Schedule",
        "Properties": {"Schedule": _rate(settings.sweep_minutes, "minute")},
    }
    assert _event(sam, "inventory") == {
        "Type": "Schedule",
        "Properties": {"Schedule": _rate(settings.inventory_hours, "hour")},
    }


def test_the_checker_reads_the_check_queue_with_partial_batch_responses(sam: dict[str, Any]) -> None:
    event = _event(sam, "checker")
    assert event["Type"] == "SQS"
    properties = event["Properties"]
    assert properties["Queue"]["Fn::Sub"].endswith(f":certwatch-{STAGE}-checks")
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BatchSize"] == 25
    assert properties["MaximumBatchingWindowInSeconds"] == 5
    assert properties["ScalingConfig"] == {"MaximumConcurrency": 20}


@pytest.mark.parametrize("function", ["slack", "webhooks"])
def test_the_notifiers_listen_to_the_alerts_topic_and_dead_letter_their_failures(
    sam: dict[str, Any], function: str
) -> None:
    event = _event(sam, function)
    assert event["Type"] == "SNS"
    assert event["Properties"]["Topic"]["Fn::Sub"].endswith(f":certwatch-{STAGE}-alerts")
    invoke = _function(sam, function)["EventInvokeConfig"]
    assert invoke["MaximumRetryAttempts"] == 2
    failure = invoke["DestinationConfig"]["OnFailure"]
    assert failure["Type"] == "SQS"
    assert failure["Destination"]["Fn::Sub"].endswith(f":certwatch-{STAGE}-notify-dlq")


def test_acm_events_come_from_eventbridge(sam: dict[str, Any]) -> None:
    event = _event(sam, "acm_events")
    assert event["Type"] == "CloudWatchEvent"
    assert event["Properties"]["Pattern"] == {"source": ["aws.acm"], "detail-type": sorted(ACM_EVENT_TYPES)}


def test_the_rest_api_serves_every_route_of_app_py(sam: dict[str, Any]) -> None:
    from app import app

    paths = sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    served = {(path, method.upper()) for path, methods in paths.items() for method in methods if method != "options"}
    assert served == {(path, method) for path, routes in app.routes.items() for method in routes}
    for path, routes in app.routes.items():
        for method, route in routes.items():
            security = paths[path][method.lower()].get("security")
            assert security == ([{"token_auth": []}] if route.authorizer else None), (method, path)


def test_each_function_has_a_role_of_its_own_with_its_policy_file(sam: dict[str, Any]) -> None:
    roles = {}
    for name in SAM_FUNCTIONS:
        role = _function(sam, name)["Role"]["Fn::GetAtt"]
        assert role[1] == "Arn"
        roles[name] = role[0]
    assert len(set(roles.values())) == len(roles), roles
    for name, role in roles.items():
        resource = sam["Resources"][role]
        assert resource["Type"] == "AWS::IAM::Role"
        (attached,) = resource["Properties"]["Policies"]
        assert attached["PolicyDocument"] == policy_file(STAGE, name), name


def test_the_alone_checker_reads_the_alone_queue_with_partial_batch_responses(sam: dict[str, Any]) -> None:
    event = _event(sam, "checker_alone")
    assert event["Type"] == "SQS"
    properties = event["Properties"]
    assert properties["Queue"]["Fn::Sub"].endswith(f":certwatch-{STAGE}-checks-alone")
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BatchSize"] == 10


def test_the_terraform_output_has_the_same_event_source_settings(terraform: dict[str, Any]) -> None:
    resources = terraform["resource"]
    mappings = {m["function_name"]: m for m in resources["aws_lambda_event_source_mapping"].values()}
    assert set(mappings) == {"${aws_lambda_function.checker.arn}", "${aws_lambda_function.checker_alone.arn}"}
    for mapping in mappings.values():
        assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert resources["aws_lambda_function"]["checker"]["function_name"] == CHECKER
    invokes = resources["aws_lambda_function_event_invoke_config"]
    assert {invoke["function_name"] for invoke in invokes.values()} == {
        "${aws_lambda_function.slack.function_name}",
        "${aws_lambda_function.webhooks.function_name}",
    }
    for invoke in invokes.values():
        assert invoke["maximum_retry_attempts"] == 2
        assert invoke["destination_config"]["on_failure"]["destination"].endswith(f":certwatch-{STAGE}-notify-dlq")
    for name in SAM_FUNCTIONS:
        attached = json.loads(resources["aws_iam_role_policy"][f"{name}_role"]["policy"])
        assert attached == policy_file(STAGE, name), name


@pytest.mark.parametrize("template", ["infra/template.yaml", f"build/{STAGE}/sam/sam.json"])
def test_cfn_lint_passes(request: pytest.FixtureRequest, template: str) -> None:
    if template.startswith("build/"):
        request.getfixturevalue("packaged")
    assert CFN_LINT.exists(), f"{CFN_LINT} is missing: install requirements-dev.txt"
    done = subprocess.run([str(CFN_LINT), template], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_gateway_responses_of_the_deployed_api_answer_in_the_api_error_shape(
    outputs: dict[str, str], tmp_path: Path
) -> None:
    apigateway = boto3.client("apigateway")
    api_id = apigateway.create_rest_api(name="certwatch")["id"]
    root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]  # as chalice deploy leaves it: a route
    apigateway.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    deployed = tmp_path / "deployed"
    deployed.mkdir()
    record = {"resources": [{"name": "rest_api", "resource_type": "rest_api", "rest_api_id": api_id}]}
    (deployed / f"{STAGE}.json").write_text(json.dumps(record))

    changes = configure_gateway_responses(apigateway, STAGE, tmp_path)

    assert len(changes) == len(GATEWAY_RESPONSES)
    unauthorized = apigateway.get_gateway_response(restApiId=api_id, responseType="UNAUTHORIZED")
    assert unauthorized["statusCode"] == "401"
    body = json.loads(unauthorized["responseTemplates"]["application/json"])
    assert body["error"]["code"] == "unauthorized"
    assert configure_gateway_responses(apigateway, "never-deployed", tmp_path) == []


def test_the_packaged_api_answers_its_own_errors_in_the_api_error_shape(sam: dict[str, Any]) -> None:
    responses = sam["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]

    assert responses["UNAUTHORIZED"]["StatusCode"] == "401"
    for kind, answer in responses.items():
        body = json.loads(answer["ResponseTemplates"]["application/json"])
        assert set(body["error"]) == {"code", "message"}, kind
