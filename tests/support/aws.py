"""moto's AWS as the tests use it: the data stack of infra/template.yaml deployed, and clients on it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_acm import ACMClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_ssm import SSMClient


@dataclass(frozen=True)
class AwsStack:
    """moto's AWS with the stage ``test`` of infra/template.yaml deployed, and clients on it."""

    outputs: dict[str, str]
    cloudformation: CloudFormationClient
    dynamodb: DynamoDBClient

    @property
    def table(self) -> str:
        return self.outputs["TableName"]


class LocalClients:
    """boto3 clients of a moto server on this machine (the local stack's), with its dummy credentials."""

    def __init__(self, port: int) -> None:
        import boto3

        self._session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
        )
        self._url = f"http://127.0.0.1:{port}"

    def acm(self) -> ACMClient:
        return self._session.client("acm", endpoint_url=self._url)

    def dynamodb(self) -> DynamoDBClient:
        return self._session.client("dynamodb", endpoint_url=self._url)

    def sns(self) -> SNSClient:
        return self._session.client("sns", endpoint_url=self._url)

    def ssm(self) -> SSMClient:
        return self._session.client("ssm", endpoint_url=self._url)


CERTWATCH = str(Path(sys.executable).parent / "certwatch")


@contextlib.contextmanager
def local_stage_on_moto() -> Iterator[int]:
    """A moto server on a free loopback port with the local stage's data stack deployed: its port."""
    import boto3
    from moto.server import ThreadedMotoServer

    from certwatch.aws.cloudformation import deploy_stack

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = boto3.client(
            "cloudformation",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        deploy_stack(client, "local")
        yield port
    finally:
        server.stop()


def certwatch_local(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    """``certwatch ARGS --local`` against the local stage on moto at ``port``."""
    env = {**os.environ, "CERTWATCH_LOCAL_AWS_PORT": str(port)}
    return subprocess.run([CERTWATCH, *args, "--local"], capture_output=True, text=True, env=env, timeout=60)
