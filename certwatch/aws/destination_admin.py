"""Adding and removing webhook destinations in SSM Parameter Store: the operator's side, never a Lambda function's.

Run with the operator's credentials by `certwatch webhook add|remove` (and by the local stack at
start); the webhooks function only reads (destinations.py), so its role cannot write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import error_code
from chalicelib.adapters.destinations import SsmDestinations, destination_to_json, parameter_name
from chalicelib.domain.webhooks import Destination
from chalicelib.errors import NotFoundError, StoreError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


class SsmDestinationAdmin:
    """Writes destinations under ``path`` as SecureStrings; reads them through SsmDestinations (no cache)."""

    def __init__(self, client: SSMClient, path: str) -> None:
        self._client = client
        self._path = path

    def add(self, destination: Destination) -> str:
        """Store a new destination; the parameter's name."""
        name = parameter_name(self._path, destination.id)
        self._send(
            self._client.put_parameter,
            Name=name,
            Value=destination_to_json(destination),
            Type="SecureString",
            Overwrite=False,
            Description=f"certwatch webhook {destination.id} ({destination.format.value})",
        )
        return name

    def destinations(self) -> list[Destination]:
        return SsmDestinations(self._client, self._path, max_age=0).destinations()

    def get(self, destination_id: str) -> Destination:
        for destination in self.destinations():
            if destination.id == destination_id:
                return destination
        raise NotFoundError(f"no webhook {destination_id!r}: `certwatch webhook list` shows this stage's")

    def remove(self, destination_id: str) -> None:
        self.get(destination_id)
        self._send(self._client.delete_parameter, Name=parameter_name(self._path, destination_id))

    def _send[**P](self, operation: Callable[P, object], *args: P.args, **request: P.kwargs) -> None:
        """One request (a method of the client: botocore names it after the operation, ``put_parameter``)."""
        try:
            operation(*args, **request)
        except ClientError as exc:  # the code only: a message could repeat what was sent
            raise StoreError(f"SSM {operation.__name__} failed: {error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"SSM could not be reached: {type(exc).__name__}") from exc
