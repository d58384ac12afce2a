"""moto's AWS as the functional tests use it: the data stack of infra/template.yaml deployed, and clients on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AwsStack:
    """moto's AWS with the stage ``test`` of infra/template.yaml deployed, and clients on it."""

    outputs: dict[str, str]
    cloudformation: Any
    dynamodb: Any

    @property
    def table(self) -> str:
        return self.outputs["TableName"]
