"""The CloudFormation adapter: deploy ``infra/template.yaml`` for a stage and read its outputs.

Used by ``certwatch infra deploy`` (a real account), by the local stack (moto's server) and by
the tests (moto in-process), so all three run the very same template.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError, WaiterError

from chalicelib.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef, StackTypeDef

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"


def stack_name(stage: str) -> str:
    return f"certwatch-{stage}-data"


def deploy_stack(
    cloudformation: CloudFormationClient,
    stage: str,
    *,
    template: Path = TEMPLATE,
    parameters: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Create or update the stage's data stack, wait for it, and return its outputs.

    ``parameters`` set the template's parameters beside Stage; one not given keeps the value the
    stack has (its default when the stack is new), as a redeploy should.
    """
    name = stack_name(stage)
    body = template.read_text()
    given = {"Stage": stage, **(parameters or {})}
    values: list[ParameterTypeDef] = [{"ParameterKey": key, "ParameterValue": value} for key, value in given.items()]
    existing = _existing(cloudformation, name)
    if existing is not None:
        kept = [p["ParameterKey"] for p in existing.get("Parameters", []) if p.get("ParameterKey", "") not in given]
        values += [{"ParameterKey": key, "UsePreviousValue": True} for key in kept]
    try:
        if existing is not None:
            try:
                cloudformation.update_stack(StackName=name, TemplateBody=body, Parameters=values)
            except ClientError as exc:
                if "No updates are to be performed" not in str(exc):
                    raise
                return stack_outputs(cloudformation, stage)
            cloudformation.get_waiter("stack_update_complete").wait(StackName=name)
        else:
            cloudformation.create_stack(StackName=name, TemplateBody=body, Parameters=values)
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


def _existing(cloudformation: CloudFormationClient, name: str) -> StackTypeDef | None:
    """The stack's description, None when there is none (or it was deleted)."""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError:
        return None
    if not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE":
        return None
    return stacks[0]
