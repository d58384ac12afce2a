"""Fixtures shared by every test: dummy AWS credentials, a fixed clock, a small private PKI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from lab.inprocess import one_request_at_a_time
from tests.support.pki import Pki, make_pki


@pytest.fixture(autouse=True, scope="session")
def _moto_one_request_at_a_time() -> Iterator[None]:
    """In-process moto answers one request at a time (lab/inprocess.py says why)."""
    with one_request_at_a_time():
        yield


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and region, so nothing can reach a real AWS account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def now() -> datetime:
    """A fixed moment for pure logic (analysis takes ``now``; it never reads the clock)."""
    return datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki()
