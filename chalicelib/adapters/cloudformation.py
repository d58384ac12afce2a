"""The CloudFormation adapter: deploy ``infra/template.yaml`` for a stage and read its outputs.

Used by ``certwatch infra deploy`` (a real account), by the local stack (moto's server) and by
the tests (moto in-process), so all three run the very same template.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError, WaiterError

from chalicelib.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"


def stack_name(stage: str) -> str:
    return f"certwatch-{stage}-data"


def deploy_stack(cloudformation: CloudFormationClient, stage: str, *, template: Path = TEMPLATE) -> dict[str, str]:
    """Create or update the stage's data stack, wait for it, and return its outputs."""
    name = stack_name(stage)
    body = template.read_text()
    parameters: list[ParameterTypeDef] = [{"ParameterKey": "Stage", "ParameterValue": stage}]
    try:
        if _exists(cloudformation, name):
            try:
                cloudformation.update_stack(StackName=name, TemplateBody=body, Parameters=parameters)
            except ClientError as exc:
                if "No updates are to be performed" not in str(exc):
                    raise
                return stack_outputs(cloudformation, stage)
            cloudformation.get_waiter("stack_update_complete").wait(StackName=name)
        else:
            cloudformation.create_stack(StackName=name, TemplateBody=body, Parameters=parameters)
            cloudformation.get_waiter("stack_create_complete").wait(StackName=name)
    except (ClientError, WaiterError) as exc:
        raise ConfigurationError(f"deploying stack {name} failed: {exc}") from exc
    return stack_outputs(cloudformation, stage)


def stack_outputs(cloudformation: CloudFormationClient, stage: str) -> dict[str, str]:
    """The outputs of the stage's data stack (TableName, CheckQueueUrl, AlertsTopicArn, ...)."""
    name = stack_name(stage)
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        raise ConfigurationError(f"stack {name} not found: deploy it with `certwatch infra deploy`") from exc
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def _exists(cloudformation: CloudFormationClient, name: str) -> bool:
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError:
        return False
    return bool(stacks) and stacks[0]["StackStatus"] != "DELETE_COMPLETE"
