"""infra/template.yaml read as data: what moto's CloudFormation cannot show (alarms, PITR) and what the code relies on.

The template uses CloudFormation's short-form intrinsics (``!Ref``, ``!Sub``, ``!If`` ...); the
loader below turns them into their long form, and ``resolved`` evaluates the few that depend on
the Stage parameter, so each property can be checked as a stage would get it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from chalicelib.adapters.dynamo import DUE_INDEX, OUTBOX_INDEX, SLOT_INDEX
from infra.merge_template import merge_template
from tests.support.policy import chalice_functions

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
STAGES = ("prod", "dev")
# The alarms on the checker's and relays' own metrics (chalicelib/adapters/telemetry.py).
CERTIFICATE_ALARMS = {
    "CertificateExpiryAlarm": ("SoonestExpiryDays", "Minimum", None),
    "CertificatesCriticalAlarm": ("ChecksByStatus", "Sum", "critical"),
    "EndpointsUnreachableAlarm": ("ChecksByStatus", "Sum", "error"),
    "EventsFailedAlarm": ("EventsFailed", "Sum", None),
}


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    """A SafeLoader that reads ``!Ref x`` as ``{"Ref": "x"}``, ``!GetAtt a.b`` as ``{"Fn::GetAtt": ["a", "b"]}``, ..."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if suffix in {"Ref", "Condition"}:
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    document = yaml.load(path.read_text(), Loader=_CfnLoader)
    assert isinstance(document, dict)
    return document


def resolved(value: Any, stage: str, template: dict[str, Any]) -> Any:
    """``value`` as CloudFormation would see it for ``stage``: Stage refs, Subs of Stage, conditions.

    What needs a deployed stack (other resources' Ref and GetAtt) stays as written.
    """
    if isinstance(value, list):
        return [resolved(item, stage, template) for item in value]
    if not isinstance(value, dict):
        return value
    if value.keys() == {"Ref"} and value["Ref"] == "Stage":
        return stage
    if value.keys() == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"].replace("${Stage}", stage)
        assert "${" not in text, f"cannot resolve {text!r} without a stack"
        return text
    if value.keys() == {"Fn::Equals"}:
        left, right = resolved(value["Fn::Equals"], stage, template)
        return left == right
    if value.keys() == {"Fn::If"}:
        condition, then, otherwise = value["Fn::If"]
        holds = resolved(template["Conditions"][condition], stage, template)
        return resolved(then if holds else otherwise, stage, template)
    return {key: resolved(item, stage, template) for key, item in value.items()}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The template's resources of one type, by logical id -> Properties."""
    return {
        name: resource.get("Properties", {})
        for name, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def test_the_loader_reads_short_form_intrinsics(template: dict[str, Any]) -> None:
    assert template["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    redrive = template["Resources"]["CheckQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["CheckDeadLetterQueue", "Arn"]}
    assert resolved({"Fn::Sub": "certwatch-${Stage}"}, "dev", template) == "certwatch-dev"


# --- the table ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_backups_and_deletion_protection_follow_is_prod(template: dict[str, Any], stage: str) -> None:
    table = resolved(template["Resources"]["Table"]["Properties"], stage, template)
    assert table["TableName"] == f"certwatch-{stage}"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": stage == "prod"}
    assert table["DeletionProtectionEnabled"] is (stage == "prod")
    assert table["SSESpecification"] == {"SSEEnabled": True}


def test_pitr_and_deletion_protection_are_conditions_not_constants(template: dict[str, Any]) -> None:
    table = template["Resources"]["Table"]["Properties"]
    is_prod = {"Fn::If": ["IsProd", True, False]}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] == is_prod
    assert table["DeletionProtectionEnabled"] == is_prod


def _index(template: dict[str, Any], name: str) -> dict[str, Any]:
    table = template["Resources"]["Table"]["Properties"]
    found = [index for index in table["GlobalSecondaryIndexes"] if index["IndexName"] == name]
    assert len(found) == 1, f"no single index {name}"
    index: dict[str, Any] = found[0]
    return index


@pytest.mark.parametrize(
    ("name", "hash_key", "range_key", "projection"),
    [
        # The sweep reads only each due target's table keys (pk, sk) and slot from it.
        (SLOT_INDEX, "slot_shard", "slot", "KEYS_ONLY"),
        # Read only to move what is left on it onto slots.
        (DUE_INDEX, "due_shard", "next_check_at", "KEYS_ONLY"),
        # The outbox is drained from the index itself: the notification must be projected.
        (OUTBOX_INDEX, "outbox_status", "outbox_at", "ALL"),
    ],
)
def test_the_indexes_the_code_queries_exist_with_its_projection(
    template: dict[str, Any], name: str, hash_key: str, range_key: str, projection: str
) -> None:
    index = _index(template, name)
    assert index["KeySchema"] == [
        {"AttributeName": hash_key, "KeyType": "HASH"},
        {"AttributeName": range_key, "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": projection}
    table = template["Resources"]["Table"]["Properties"]
    defined = {item["AttributeName"]: item["AttributeType"] for item in table["AttributeDefinitions"]}
    assert defined[hash_key] == defined[range_key] == "S"  # the store writes fixed-width text timestamps


def test_the_table_keys_are_pk_and_sk(template: dict[str, Any]) -> None:
    table = template["Resources"]["Table"]["Properties"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    # Every defined attribute is a key of the table or of an index (CloudFormation refuses others).
    keyed = {k["AttributeName"] for k in table["KeySchema"]}
    keyed |= {k["AttributeName"] for index in table["GlobalSecondaryIndexes"] for k in index["KeySchema"]}
    assert {item["AttributeName"] for item in table["AttributeDefinitions"]} == keyed


# --- encryption ----------------------------------------------------------------------------------


def test_every_topic_is_encrypted(template: dict[str, Any]) -> None:
    topics = resources(template, "AWS::SNS::Topic")
    assert set(topics) == {"AlertsTopic", "OpsTopic"}
    for name, topic in topics.items():
        assert topic.get("KmsMasterKeyId"), name


def test_every_queue_is_encrypted(template: dict[str, Any]) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    assert set(queues) == {"CheckQueue", "AloneCheckQueue", "CheckDeadLetterQueue", "NotifyDeadLetterQueue"}
    for name, queue in queues.items():
        assert queue.get("SqsManagedSseEnabled") is True or queue.get("KmsMasterKeyId"), name


def test_the_topic_alarms_publish_to_is_not_under_the_aws_managed_key(template: dict[str, Any]) -> None:
    targets = {
        action["Ref"]
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        for action in alarm.get("AlarmActions", [])
    }
    for name in targets:
        key = template["Resources"][name]["Properties"].get("KmsMasterKeyId")
        assert key != "alias/aws/sns", f"{name}: CloudWatch cannot use the AWS managed key aws/sns"


# --- queues ---------------------------------------------------------------------------------------


def test_the_check_queue_hands_poison_messages_to_its_dead_letter_queue(template: dict[str, Any]) -> None:
    queue = template["Resources"]["CheckQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["CheckDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 3,
    }
    dead = template["Resources"]["CheckDeadLetterQueue"]["Properties"]
    # A dead letter keeps its original enqueue time: the DLQ must keep messages longer than the source.
    assert dead["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize(("queue_name", "function"), [("CheckQueue", "checker"), ("AloneCheckQueue", "checker_alone")])
def test_each_check_queue_outlasts_six_timeouts_of_its_function(
    template: dict[str, Any], stage: str, queue_name: str, function: str
) -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    timeout = config["stages"][stage]["lambda_functions"][function]["lambda_timeout"]
    queue = template["Resources"][queue_name]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * timeout  # what AWS advises for a Lambda event source


def test_the_alone_queue_hands_poison_messages_to_the_checks_dead_letter_queue(template: dict[str, Any]) -> None:
    queue = template["Resources"]["AloneCheckQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["CheckDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 3,
    }


# --- alarms ---------------------------------------------------------------------------------------


def _dead_letter_queues(template: dict[str, Any], stage: str) -> set[str]:
    """Every queue something dead-letters into: redrive targets, and the Slack function's failure destination."""
    found = {
        queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for queue in resources(template, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in queue
    }
    merge: Any = merge_template(stage)
    slack = merge["Resources"]["Slack"]["Properties"]
    destination = slack["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::Sub"]
    by_name = {
        resolved(queue["QueueName"], stage, template): name
        for name, queue in resources(template, "AWS::SQS::Queue").items()
    }
    found.add(by_name[destination.rsplit(":", 1)[1]])
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_the_depth_of_every_dead_letter_queue_is_alarmed(template: dict[str, Any], stage: str) -> None:
    watched = set()
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        if alarm["Namespace"] == "AWS/SQS":
            assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
            assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
            assert alarm["Threshold"] == 0  # one dead letter is already worth a look
            (dimension,) = alarm["Dimensions"]
            assert dimension["Name"] == "QueueName"
            assert dimension["Value"]["Fn::GetAtt"][1] == "QueueName"
            watched.add(dimension["Value"]["Fn::GetAtt"][0])
    assert watched == _dead_letter_queues(template, stage) == {"CheckDeadLetterQueue", "NotifyDeadLetterQueue"}


@pytest.mark.parametrize("stage", STAGES)
def test_the_checker_and_sweep_errors_are_alarmed(template: dict[str, Any], stage: str) -> None:
    named = set()
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        if alarm["Namespace"] == "AWS/Lambda":
            assert alarm["MetricName"] == "Errors"
            (dimension,) = resolved(alarm["Dimensions"], stage, template)
            assert dimension["Name"] == "FunctionName"
            named.add(dimension["Value"])
    assert named == {f"certwatch-{stage}-checker", f"certwatch-{stage}-sweep"}
    # ... the very names Chalice gives those functions
    deployed = {function.function_name for function in chalice_functions(stage).values()}
    assert named <= deployed


def test_every_alarm_notifies_the_ops_topic(template: dict[str, Any]) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 4 + len(CERTIFICATE_ALARMS)
    assert template["Resources"]["OpsTopic"]["Type"] == "AWS::SNS::Topic"
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "OpsTopic"}], name
        assert alarm.get("TreatMissingData") == "notBreaching", name  # no data means nothing failed


@pytest.mark.parametrize("stage", STAGES)
def test_alarm_names_carry_the_stage(template: dict[str, Any], stage: str) -> None:
    for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        assert re.fullmatch(rf"certwatch-{stage}-[a-z-]+", resolved(alarm["AlarmName"], stage, template)), name


# --- outputs ----------------------------------------------------------------------------------------


def test_the_outputs_deploy_py_records_exist(template: dict[str, Any]) -> None:
    from infra.deploy import RECORDED

    assert set(RECORDED) <= set(template["Outputs"])
    assert {"CheckQueueArn", "NotifyDeadLetterQueueArn"} <= set(template["Outputs"])  # configure_event_sources


# --- the alarms and dashboard on certwatch's own metrics ---------------------------------------------


def _condition_holds(template: dict[str, Any], name: str, stage: str, alarms: str) -> bool:
    """A condition of the template for a stage and a CertificateAlarms parameter (Or, And, Equals, Condition)."""

    def evaluate(node: Any) -> Any:
        if isinstance(node, dict) and node.keys() == {"Ref"}:
            return {"Stage": stage, "CertificateAlarms": alarms}[node["Ref"]]
        if isinstance(node, dict) and node.keys() == {"Condition"}:
            return evaluate(template["Conditions"][node["Condition"]])
        if isinstance(node, dict) and node.keys() == {"Fn::Equals"}:
            left, right = (evaluate(part) for part in node["Fn::Equals"])
            return left == right
        if isinstance(node, dict) and node.keys() == {"Fn::Or"}:
            return any(evaluate(part) for part in node["Fn::Or"])
        if isinstance(node, dict) and node.keys() == {"Fn::And"}:
            return all(evaluate(part) for part in node["Fn::And"])
        return node

    return bool(evaluate(template["Conditions"][name]))


@pytest.mark.parametrize(
    ("stage", "alarms", "wanted"),
    [("prod", "auto", True), ("dev", "auto", False), ("dev", "on", True), ("prod", "off", False)],
)
def test_the_certificate_alarms_are_on_for_prod_unless_a_stage_says_otherwise(
    template: dict[str, Any], stage: str, alarms: str, wanted: bool
) -> None:
    for name in CERTIFICATE_ALARMS:
        condition = template["Resources"][name]["Condition"]
        assert _condition_holds(template, condition, stage, alarms) is wanted, name
    assert template["Parameters"]["CertificateAlarms"]["Default"] == "auto"


@pytest.mark.parametrize("stage", STAGES)
def test_the_certificate_alarms_read_what_the_functions_emit_for_the_stage_alone(
    template: dict[str, Any], stage: str
) -> None:
    from chalicelib.adapters import telemetry

    for name, (metric, statistic, status) in CERTIFICATE_ALARMS.items():
        alarm = template["Resources"][name]["Properties"]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (telemetry.NAMESPACE, metric, statistic)
        dimensions = {d["Name"]: d["Value"] for d in resolved(alarm["Dimensions"], stage, template)}
        # telemetry's second dimension set: the service and the stage (and a check's status)
        assert dimensions == {"service": "certwatch", "stage": stage, **({"status": status} if status else {})}, name
        assert alarm["Period"] >= 300, name
    expiry = template["Resources"]["CertificateExpiryAlarm"]["Properties"]
    assert expiry["Threshold"] == {"Ref": "ExpiryAlarmDays"}
    assert expiry["ComparisonOperator"] == "LessThanThreshold"
    # six hours: the default check interval, so every target's latest check is in one period
    assert expiry["Period"] == 6 * 3600 == 60 * 360


def test_the_dashboard_is_json_once_substituted_and_shows_each_metric_the_functions_emit(
    template: dict[str, Any],
) -> None:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    values = {
        "AWS::Region": "eu-west-1",
        "Stage": "prod",
        "ExpiryAlarmDays": "14",
        "CheckDeadLetterQueue.QueueName": "certwatch-prod-checks-dlq",
        "NotifyDeadLetterQueue.QueueName": "certwatch-prod-notify-dlq",
    }
    text = re.sub(r"\$\{([^}]+)\}", lambda m: values[m[1]], body)

    dashboard = json.loads(text)

    shown = json.dumps(dashboard)
    for metric in ("SoonestExpiryDays", "ChecksByStatus", "EventsDelivered", "EventsFailed"):
        assert f'MetricName=\\"{metric}\\"' in shown, metric
    assert all(w["properties"]["region"] == "eu-west-1" for w in dashboard["widgets"])
