"""The adapters only the operator's commands use, on moto: the topic's subscriptions, the Slack webhook's parameter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from certwatch import aws as operator_aws
from certwatch.aws.sns_subscriptions import SnsSubscriptions
from certwatch.aws.ssm_parameters import SsmSecureString
from chalicelib.deps import Container
from chalicelib.settings import Settings


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def topics(aws: None) -> tuple[Any, str, str]:
    sns = boto3.client("sns")
    return sns, sns.create_topic(Name="certwatch-dev-alerts")["TopicArn"], sns.create_topic(Name="other")["TopicArn"]


def test_an_email_subscription_keeps_its_filter_and_is_listed_and_removed(topics: tuple[Any, str, str]) -> None:
    sns, topic, _ = topics
    subscriptions = SnsSubscriptions(sns, topic)

    made = subscriptions.subscribe_email("oncall@example.com", {"severity": ["critical"], "team": ["web"]})

    assert made.arn.startswith(f"{topic}:")
    assert made.pending is False  # moto confirms at once; AWS would send a confirmation email
    assert subscriptions.list() == [made]
    assert subscriptions.remove(made.arn) is True
    assert subscriptions.list() == []


def test_a_subscription_of_another_topic_or_none_at_all_is_not_removed(topics: tuple[Any, str, str]) -> None:
    sns, topic, other = topics
    elsewhere = SnsSubscriptions(sns, other).subscribe_email("x@example.com", {"severity": ["info"]})
    never = f"{topic}:0b1c2d3e-0000-4000-8000-000000000000"

    subscriptions = SnsSubscriptions(sns, topic)

    assert subscriptions.remove(elsewhere.arn) is False
    assert subscriptions.remove(never) is False
    assert [s.arn for s in SnsSubscriptions(sns, other).list()] == [elsewhere.arn]


def test_the_webhook_parameter_is_a_secure_string_replaced_and_deleted_once(aws: None) -> None:
    ssm = boto3.client("ssm")
    parameter = SsmSecureString(ssm, "/certwatch/dev/slack-webhook-url")

    parameter.put("https://hooks.example.com/T/B/first")
    parameter.put("https://hooks.example.com/T/B/second")

    stored = ssm.get_parameter(Name=parameter.name, WithDecryption=True)["Parameter"]
    assert (stored["Type"], stored["Value"]) == ("SecureString", "https://hooks.example.com/T/B/second")
    assert parameter.delete() is True
    assert parameter.delete() is False


def test_the_operator_builds_them_for_its_stage(aws: None) -> None:
    container = Container(
        Settings.for_stage("dev"), topic_arn="arn:aws:sns:eu-west-1:123456789012:certwatch-dev-alerts"
    )

    assert operator_aws.slack_parameter(container).name == "/certwatch/dev/slack-webhook-url"
    operator_aws.slack_parameter(container).put("https://hooks.example.com/T/B/x")
    assert container.slack_webhook_url() == "https://hooks.example.com/T/B/x"  # what the Slack function reads
    assert isinstance(operator_aws.subscriptions(container), SnsSubscriptions)
