"""Commands found by name: reading a command line imports no command, so ``certwatch X --help`` starts fast."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]


def handler(module: str, name: str) -> Handler:
    """The function ``name`` of ``module``, imported when the command runs."""

    def run(args: argparse.Namespace) -> int:
        command: Handler = getattr(importlib.import_module(module), name)
        return command(args)

    run.__qualname__ = f"{module}.{name}"
    return run
