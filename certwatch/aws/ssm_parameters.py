"""A SecureString parameter in SSM Parameter Store, written and removed by the operator (``certwatch slack``).

The functions read the Slack webhook URL through powertools' cached SSMProvider (chalicelib/deps.py);
no Lambda function calls this module. The value is a secret: it is never returned, printed or logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chalicelib.adapters.aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


class SsmSecureString:
    """One SecureString parameter by name; takes a boto3 SSM client."""

    def __init__(self, client: SSMClient, name: str) -> None:
        self._client = client
        self.name = name

    def put(self, value: str) -> None:
        """Store ``value``, replacing what was there."""
        self._client.put_parameter(Name=self.name, Value=value, Type="SecureString", Overwrite=True)

    def delete(self) -> bool:
        """Delete the parameter; False when there was none."""
        try:
            self._client.delete_parameter(Name=self.name)
        except ClientError as exc:
            if error_code(exc) != "ParameterNotFound":
                raise
            return False
        return True
