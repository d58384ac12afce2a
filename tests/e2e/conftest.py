"""Fixtures of the HTTP API tests: Chalice's test client, in-memory stacks as the app's container, TLS servers.

What they build is in tests/support/api.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client

from app import app
from lab.certs import make_cert
from lab.servers import TlsServer
from tests.support.api import EXPIRED, HEALTHY, ROOT, LoopbackTls, Stacks
from tests.support.pki import Pki


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """Chalice's test client on the ``local`` stage, reading the project's .chalice/config.json."""
    with Client(app, stage_name="local", project_dir=str(ROOT)) as built:
        yield built


@pytest.fixture
def stacks(pki: Pki) -> Iterator[Stacks]:
    built = Stacks(pki)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture(scope="module")
def tls(pki: Pki) -> Iterator[LoopbackTls]:
    now = datetime.now(UTC)
    healthy = make_cert(HEALTHY, issuer=pki.intermediate, days=90)
    expired = make_cert(
        EXPIRED, issuer=pki.intermediate, not_before=now - timedelta(days=120), not_after=now - timedelta(days=2)
    )
    with contextlib.ExitStack() as stack:
        servers = LoopbackTls(
            healthy=stack.enter_context(TlsServer([healthy, pki.intermediate])),
            expired=stack.enter_context(TlsServer([expired, pki.intermediate])),
        )
        yield servers
