"""Fixtures of the functional tests: engines that never reach real DNS, and loopback servers stopped for sure."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.functional.helpers import Engines, Servers

if TYPE_CHECKING:
    from tests.conftest import Pki


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
