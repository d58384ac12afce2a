"""A SecureString the functions read from SSM Parameter Store, through powertools' cached SSMProvider.

The provider keeps the value ``max_age`` seconds; this adapter keeps its absence as long, so a
burst of events asks SSM once whether it is there, not once an event. The value is a secret:
it is never logged (the operator writes it with ``certwatch slack``: ssm_parameters.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider


class SsmSecret:
    """One SecureString by name, its value and its absence each cached ``max_age`` seconds."""

    def __init__(
        self, provider: SSMProvider, name: str, *, max_age: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._provider = provider
        self._name = name
        self._max_age = max_age
        self._clock = clock
        self._absent_until = 0.0

    def value(self) -> str | None:
        """The parameter's value; None while there is none (SSM is asked again ``max_age`` seconds later)."""
        if self._clock() < self._absent_until:
            return None
        try:
            return str(self._provider.get(self._name, decrypt=True, max_age=self._max_age))
        except GetParameterError:
            self._absent_until = self._clock() + self._max_age
            return None
