"""Adapters only the operator uses: the data stack's CloudFormation, the webhook destinations' and
Slack's SSM parameters, the alerts topic's subscriptions.

The CLI, infra/, the lab and the benchmarks call them; no Lambda function does, so they live here,
beside the CLI, and the Lambda bundle (app.py and chalicelib/) does not carry them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from certwatch.aws.destination_admin import SsmDestinationAdmin
    from certwatch.aws.sns_subscriptions import SnsSubscriptions
    from certwatch.aws.ssm_parameters import SsmSecureString
    from chalicelib.deps import Container


def destination_admin(container: Container) -> SsmDestinationAdmin:
    """The stage's webhook destinations as ``certwatch webhook`` adds, lists and removes them."""
    from certwatch.aws.destination_admin import SsmDestinationAdmin

    return SsmDestinationAdmin(container.ssm, container.settings.webhook_path)


def slack_parameter(container: Container) -> SsmSecureString:
    """Where the stage's Slack webhook URL is kept (``certwatch slack`` writes it; the Slack function reads it)."""
    from certwatch.aws.ssm_parameters import SsmSecureString

    return SsmSecureString(container.ssm, container.settings.slack_parameter)


def subscriptions(container: Container) -> SnsSubscriptions:
    """The stage's alerts topic's subscriptions (``certwatch subscribe``)."""
    from certwatch.aws.sns_subscriptions import SnsSubscriptions

    return SnsSubscriptions(container.sns, container.topic_arn)
