"""Fixtures of the functional tests: engines that never reach real DNS, and loopback servers stopped for sure."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.functional.helpers import Engines, Servers
from tests.support.aws import AwsStack
from tests.support.pki import Pki


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    """Servers shared by the tests of one module (started once: certificates and threads are not free)."""
    with contextlib.ExitStack() as stack:
        yield Servers(stack)


@pytest.fixture
def engines(pki: Pki) -> Iterator[Engines]:
    """Engines trusting the test PKI's root only; names resolve through pins, never through real DNS."""
    built = Engines(pki.trust)
    yield built
    built.close()


@pytest.fixture(scope="module")
def aws_stack() -> Iterator[AwsStack]:
    """The real data stack on moto, deployed once per module (a deploy costs ~1.5 s): share it, one team per test."""
    import boto3  # here, not at the top: most functional tests need neither boto3 nor moto
    from moto import mock_aws

    from certwatch.aws.cloudformation import deploy_stack

    # The autouse credentials fixture is function-scoped, so it is not active yet at module scope.
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            patch.setenv(name, value)
        with mock_aws():
            cloudformation = boto3.client("cloudformation")
            outputs = deploy_stack(cloudformation, "test")
            yield AwsStack(outputs, cloudformation, boto3.client("dynamodb"))
