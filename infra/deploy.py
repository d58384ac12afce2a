"""Deploying certwatch to a stage, in the order that keeps data safe and settings true.

    python infra/deploy.py deploy  --stage prod      # what `make deploy STAGE=prod` runs
    python infra/deploy.py destroy --stage dev [--data]
    python infra/deploy.py package --stage prod --out build/prod [--terraform]

deploy: (1) the data stack from infra/template.yaml (its own stack, so data outlives the app),
(2) its outputs recorded into .chalice/config.json for the stage (the chalice-workshop
recordresources pattern), (3) ``chalice deploy --stage``, (4) what Chalice cannot express:
partial batch responses on the checker's SQS mapping and the failure destination of the Slack
and webhooks functions. Every step is idempotent, so re-running is safe.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_lambda import LambdaClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from certwatch.aws.cloudformation import deploy_stack, stack_name, stack_outputs  # noqa: E402
from chalicelib.adapters.aws import parse_arn  # noqa: E402
from chalicelib.errors import CertwatchError  # noqa: E402
from chalicelib.settings import stage_environment  # noqa: E402
from infra.merge_template import GATEWAY_RESPONSES, NOTIFIERS, gateway_response, merge_template  # noqa: E402

CONFIG = ROOT / ".chalice" / "config.json"
CHALICE = str(Path(sys.executable).parent / "chalice")  # the venv's chalice command
# Stack output -> the environment variable the functions read it from.
RECORDED = {
    "TableName": "CERTWATCH_TABLE",
    "CheckQueueUrl": "CERTWATCH_CHECK_QUEUE_URL",
    "AloneCheckQueueUrl": "CERTWATCH_ALONE_QUEUE_URL",
    "AlertsTopicArn": "CERTWATCH_TOPIC_ARN",
    "SlackWebhookParameter": "CERTWATCH_SLACK_PARAMETER",
    "WebhookParameterPath": "CERTWATCH_WEBHOOK_PATH",
}


def record_outputs(outputs: dict[str, str], stage: str, config: Path = CONFIG) -> dict[str, str]:
    """Write the stack's outputs into the stage's environment variables in .chalice/config.json."""
    document = json.loads(config.read_text())
    stage_config = document.setdefault("stages", {}).setdefault(stage, {})
    variables: dict[str, str] = stage_config.setdefault("environment_variables", {})
    for output, variable in RECORDED.items():
        if output in outputs:
            variables[variable] = outputs[output]
    config.write_text(json.dumps(document, indent=2) + "\n")
    return variables


def configure_event_sources(lambda_client: LambdaClient, stage: str, outputs: dict[str, str]) -> list[str]:
    """The settings `chalice deploy` leaves out; returns what was changed."""
    done = []
    # By the queue, not FunctionName=<name>: AWS takes both, but moto matches only what chalice
    # created the mapping with (the function's ARN).
    paginator = lambda_client.get_paginator("list_event_source_mappings")
    for name, queue in (("checker", outputs["CheckQueueArn"]), ("checker_alone", outputs["AloneCheckQueueArn"])):
        checker = f"certwatch-{stage}-{name}"
        mappings = [
            mapping
            for page in paginator.paginate(EventSourceArn=queue)
            for mapping in page.get("EventSourceMappings", [])
            if _function_name(mapping.get("FunctionArn", "")) == checker
        ]
        if not mappings:
            raise SystemExit(f"{checker} has no event source mapping on {queue}: was it deployed?")
        for mapping in mappings:
            if "ReportBatchItemFailures" not in (mapping.get("FunctionResponseTypes") or []):
                lambda_client.update_event_source_mapping(
                    UUID=mapping["UUID"], FunctionResponseTypes=["ReportBatchItemFailures"]
                )
                done.append(f"{checker}: ReportBatchItemFailures on {mapping['UUID']}")
    for notifier in NOTIFIERS:
        function = f"certwatch-{stage}-{notifier}"
        lambda_client.put_function_event_invoke_config(
            FunctionName=function,
            MaximumRetryAttempts=2,
            DestinationConfig={"OnFailure": {"Destination": outputs["NotifyDeadLetterQueueArn"]}},
        )
        done.append(f"{function}: 2 retries, then {outputs['NotifyDeadLetterQueueArn']}")
    return done


def _function_name(function_arn: str) -> str:
    """The function's name in ``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]``."""
    arn = parse_arn(function_arn)
    parts = [] if arn is None else arn.resource.split(":")
    return parts[1] if len(parts) > 1 else ""


def deployed_rest_api(stage: str, chalice_dir: Path = ROOT / ".chalice") -> tuple[str, str] | None:
    """The REST API id and API Gateway stage `chalice deploy` recorded for ``stage``."""
    try:
        record = json.loads((chalice_dir / "deployed" / f"{stage}.json").read_text())
    except (OSError, ValueError):
        return None
    for resource in record.get("resources", []):
        if resource.get("resource_type") == "rest_api":
            return str(resource["rest_api_id"]), str(resource.get("api_gateway_stage") or "api")
    return None


def configure_gateway_responses(
    apigateway: APIGatewayClient, stage: str, chalice_dir: Path = ROOT / ".chalice"
) -> list[str]:
    """API Gateway's own error answers in the API's JSON shape (the merge template does it for packages)."""
    found = deployed_rest_api(stage, chalice_dir)
    if found is None:
        return []
    api_id, api_stage = found
    done = []
    for kind in GATEWAY_RESPONSES:
        status, body = gateway_response(kind)
        templates = {"application/json": body}
        if status is None:
            apigateway.put_gateway_response(restApiId=api_id, responseType=kind, responseTemplates=templates)
        else:
            apigateway.put_gateway_response(
                restApiId=api_id, responseType=kind, responseTemplates=templates, statusCode=str(status)
            )
        done.append(f"API {api_id}: {kind} answers {status or 'its own status'} {GATEWAY_RESPONSES[kind][1]}")
    apigateway.create_deployment(restApiId=api_id, stageName=api_stage)
    return done


# Settings of the data stack's parameters, read from the stage's environment (its .chalice/config.json
# variables, or the deploying shell's): the certificate alarms (auto: on for prod only) and their threshold.
STACK_PARAMETERS = {
    "CERTWATCH_CERTIFICATE_ALARMS": "CertificateAlarms",
    "CERTWATCH_EXPIRY_ALARM_DAYS": "ExpiryAlarmDays",
}


def stack_parameters(environment: dict[str, str]) -> dict[str, str]:
    """The data stack's parameters the environment sets; SystemExit naming a value the template would refuse."""
    given = {
        parameter: environment[name].strip() for name, parameter in STACK_PARAMETERS.items() if environment.get(name)
    }
    alarms = given.get("CertificateAlarms")
    if alarms is not None and alarms not in {"auto", "on", "off"}:
        raise SystemExit(f"CERTWATCH_CERTIFICATE_ALARMS={alarms!r}: use auto (on for prod only), on or off")
    days = given.get("ExpiryAlarmDays")
    if days is not None and not (days.isdigit() and 1 <= int(days) <= 365):
        raise SystemExit(f"CERTWATCH_EXPIRY_ALARM_DAYS={days!r}: use a whole number of days from 1 to 365")
    return given


def chalice_environment(stage: str) -> dict[str, str]:
    """The deploying process's environment: the stage's settings, since app.py names event sources from them."""
    return {**os.environ, **stage_environment(stage), "CERTWATCH_STAGE": stage}


def deploy(stage: str) -> int:
    import boto3

    session = boto3.session.Session()
    print(f"1/4 data stack {stack_name(stage)} (infra/template.yaml)", flush=True)
    parameters = stack_parameters(chalice_environment(stage))
    outputs = deploy_stack(session.client("cloudformation"), stage, parameters=parameters)
    print("2/4 recording its outputs into .chalice/config.json", flush=True)
    record_outputs(outputs, stage)
    print(f"3/4 chalice deploy --stage {stage}", flush=True)
    subprocess.run([CHALICE, "deploy", "--stage", stage], cwd=ROOT, env=chalice_environment(stage), check=True)
    print("4/4 settings Chalice cannot express", flush=True)
    changes = configure_event_sources(session.client("lambda"), stage, outputs)
    changes += configure_gateway_responses(session.client("apigateway"), stage)
    for change in changes:
        print(f"    {change}", flush=True)
    return 0


def destroy(stage: str, *, data: bool) -> int:
    import boto3

    subprocess.run([CHALICE, "delete", "--stage", stage], cwd=ROOT, env=chalice_environment(stage), check=True)
    if not data:
        print(f"kept the data stack {stack_name(stage)} (pass --data to delete it, with every target and token)")
        return 0
    cloudformation = boto3.client("cloudformation")
    outputs = stack_outputs(cloudformation, stage)
    if stage == "prod":
        boto3.client("dynamodb").update_table(TableName=outputs["TableName"], DeletionProtectionEnabled=False)
    cloudformation.delete_stack(StackName=stack_name(stage))
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack_name(stage))
    print(f"deleted the data stack {stack_name(stage)}")
    return 0


def package(stage: str, out: Path, *, terraform: bool) -> int:
    """`chalice package` with the merge template, for teams that deploy through their own pipelines."""
    out.mkdir(parents=True, exist_ok=True)
    merge = out.parent / f"merge-{stage}.json"
    merge.write_text(json.dumps(merge_template(stage), indent=2) + "\n")
    command = [CHALICE, "package", "--stage", stage]
    if terraform:
        command += ["--pkg-format", "terraform"]
    else:
        command += ["--merge-template", str(merge)]
    subprocess.run([*command, str(out)], cwd=ROOT, env=chalice_environment(stage), check=True)
    if terraform:  # Terraform output takes no merge template: add the same settings to its JSON
        generated = out / "chalice.tf.json"
        generated.write_text(json.dumps(patch_terraform(json.loads(generated.read_text()), stage), indent=2) + "\n")
    print(f"packaged stage {stage} into {out}")
    return 0


def patch_terraform(document: dict[str, Any], stage: str) -> dict[str, Any]:
    """What the merge template adds to SAM output, for `chalice package --pkg-format terraform` output."""
    resources = document.setdefault("resource", {})
    for mapping in resources.get("aws_lambda_event_source_mapping", {}).values():
        if "checker" in json.dumps(mapping.get("function_name", "")):
            mapping["function_response_types"] = ["ReportBatchItemFailures"]
    notify_dlq = (
        f"arn:${{data.aws_partition.chalice.partition}}:sqs:${{data.aws_region.chalice.name}}:"
        f"${{data.aws_caller_identity.chalice.account_id}}:certwatch-{stage}-notify-dlq"
    )
    for notifier in NOTIFIERS:
        resources.setdefault("aws_lambda_function_event_invoke_config", {})[f"{notifier}_failures"] = {
            "function_name": f"${{aws_lambda_function.{notifier}.function_name}}",
            "maximum_retry_attempts": 2,
            "destination_config": {"on_failure": {"destination": notify_dlq}},
        }
    return document


def main(argv: list[str] | None = None) -> int:
    # No abbreviations: `destroy --d` must not mean `destroy --data`.
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    actions = parser.add_subparsers(dest="action", required=True)
    for name in ("deploy", "destroy", "package"):
        action = actions.add_parser(name, allow_abbrev=False)
        action.add_argument("--stage", required=True)
        if name == "destroy":
            action.add_argument("--data", action="store_true", help="also delete the data stack (targets, tokens)")
        if name == "package":
            action.add_argument("--out", type=Path, required=True)
            action.add_argument("--terraform", action="store_true", help="Terraform JSON instead of SAM")
    args = parser.parse_args(argv)
    try:
        if args.action == "deploy":
            return deploy(args.stage)
        if args.action == "destroy":
            return destroy(args.stage, data=args.data)
        return package(args.stage, args.out, terraform=args.terraform)
    except subprocess.CalledProcessError as exc:  # chalice has printed why
        command = " ".join([Path(exc.cmd[0]).name, *exc.cmd[1:]])
        print(f"{args.action} stopped: `{command}` failed (exit status {exc.returncode})", file=sys.stderr)
    except (CertwatchError, BotoCoreError, ClientError) as exc:
        print(f"{args.action} stopped: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
