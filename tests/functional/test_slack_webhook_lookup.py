"""Where the Slack function finds its webhook: SSM, asked once per 5 minutes whether it is there or not."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws

from chalicelib.deps import Container
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


@dataclass
class Ssm:
    """moto's SSM, and the GetParameter requests its client sent."""

    client: SSMClient
    asked: list[str] = field(default_factory=list)


@pytest.fixture
def ssm() -> Iterator[Ssm]:
    with mock_aws():
        ssm = Ssm(boto3.client("ssm"))
        ssm.client.meta.events.register(
            "before-call.ssm.GetParameter", lambda **kwargs: ssm.asked.append("GetParameter")
        )
        yield ssm


def test_a_missing_webhook_is_looked_up_once_for_a_burst_of_events(ssm: Ssm) -> None:
    container = Container(Settings.for_stage("dev"), ssm=ssm.client)

    found = [container.slack_webhook_url() for _ in range(50)]

    assert found == [None] * 50
    assert ssm.asked == ["GetParameter"]


def test_a_stored_webhook_is_read_once_and_kept(ssm: Ssm) -> None:
    ssm.client.put_parameter(
        Name="/certwatch/dev/slack-webhook-url", Value="https://hooks.example.com/T/B/x", Type="SecureString"
    )
    container = Container(Settings.for_stage("dev"), ssm=ssm.client)

    found = {container.slack_webhook_url() for _ in range(5)}

    assert found == {"https://hooks.example.com/T/B/x"}
    assert ssm.asked == ["GetParameter"]
