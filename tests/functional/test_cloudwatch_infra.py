"""The data stack's CloudWatch parts on moto: the dashboard is made, and make deploy's stack parameters reach it.

moto's CloudFormation skips alarms (tests/unit/test_infra.py reads them from the template, and
cfn-lint checks them); it does create the dashboard.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from certwatch.aws.cloudformation import deploy_stack, stack_name
from infra.deploy import stack_parameters


def _parameters(cloudformation: Any) -> dict[str, str]:
    (stack,) = cloudformation.describe_stacks(StackName=stack_name("dev"))["Stacks"]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


def test_the_stage_gets_its_dashboard_and_keeps_the_alarm_settings_make_deploy_passed() -> None:
    given = stack_parameters({"CERTWATCH_CERTIFICATE_ALARMS": "on", "CERTWATCH_EXPIRY_ALARM_DAYS": " 21 "})
    with mock_aws():
        cloudformation = boto3.client("cloudformation")
        deploy_stack(cloudformation, "dev", parameters=given)
        (stack,) = cloudformation.describe_stacks(StackName=stack_name("dev"))["Stacks"]
        dashboards = boto3.client("cloudwatch").list_dashboards()["DashboardEntries"]
        body = boto3.client("cloudwatch").get_dashboard(DashboardName="certwatch-dev")["DashboardBody"]
        deploy_stack(cloudformation, "dev")
        kept = _parameters(cloudformation)
        deploy_stack(cloudformation, "dev", parameters={"ExpiryAlarmDays": "30"})
        later = _parameters(cloudformation)

    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters == {"Stage": "dev", "CertificateAlarms": "on", "ExpiryAlarmDays": "21"}
    assert kept == parameters  # a redeploy without the settings keeps them
    assert later == {**parameters, "ExpiryAlarmDays": "30"}
    assert [d["DashboardName"] for d in dashboards] == ["certwatch-dev"]
    assert 'stage=\\"dev\\"' in json.dumps(json.loads(body))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CERTWATCH_CERTIFICATE_ALARMS", "yes"),
        ("CERTWATCH_EXPIRY_ALARM_DAYS", "0"),
        ("CERTWATCH_EXPIRY_ALARM_DAYS", "x"),
    ],
)
def test_a_setting_the_template_would_refuse_stops_make_deploy_naming_it(variable: str, value: str) -> None:
    with pytest.raises(SystemExit, match=f"{variable}='{value}'"):
        stack_parameters({variable: value})


def test_unset_settings_leave_the_templates_defaults() -> None:
    assert stack_parameters({"CERTWATCH_CERTIFICATE_ALARMS": ""}) == {}
