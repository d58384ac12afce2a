"""Where the Slack function finds its webhook: SSM, asked once per 5 minutes whether it is there or not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.deps import Container
from chalicelib.settings import Settings


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("ssm")
        asked: list[str] = []
        client.meta.events.register("before-call.ssm.GetParameter", lambda **kwargs: asked.append("GetParameter"))
        client.asked = asked
        yield client


def test_a_missing_webhook_is_looked_up_once_for_a_burst_of_events(ssm: Any) -> None:
    container = Container(Settings.for_stage("dev"), ssm=ssm)

    found = [container.slack_webhook_url() for _ in range(50)]

    assert found == [None] * 50
    assert ssm.asked == ["GetParameter"]


def test_a_stored_webhook_is_read_once_and_kept(ssm: Any) -> None:
    ssm.put_parameter(
        Name="/certwatch/dev/slack-webhook-url", Value="https://hooks.example.com/T/B/x", Type="SecureString"
    )
    container = Container(Settings.for_stage("dev"), ssm=ssm)

    found = {container.slack_webhook_url() for _ in range(5)}

    assert found == {"https://hooks.example.com/T/B/x"}
    assert ssm.asked == ["GetParameter"]
