"""The TLS adapter reads the served chain on both supported Pythons: 3.13's public API, 3.12's private one."""

from __future__ import annotations

import socket
import ssl
import sys

import pytest

from chalicelib.checks.tlsprobe import TlsProbe, _private_served_chain, _served_chain, client_context
from chalicelib.domain.endpoints import parse_target
from lab.certs import make_cert
from lab.servers import TlsServer
from tests.functional.helpers import Servers
from tests.support.pki import Pki

NAME = "chain.tlsprobe.test"


@pytest.fixture(scope="module")
def chained(pki: Pki, servers: Servers) -> tuple[TlsServer, list[bytes]]:
    """A server sending leaf and intermediate, and the DER it sends."""
    leaf = make_cert(NAME, issuer=pki.intermediate)
    server = servers.start(TlsServer([leaf, pki.intermediate]))
    return server, [leaf.der, pki.intermediate.der]


def test_the_served_chain_is_read_leaf_first(chained: tuple[TlsServer, list[bytes]]) -> None:
    server, sent = chained

    handshake = TlsProbe().handshake(parse_target(f"tls://{NAME}:{server.port}"), "127.0.0.1", timeout=5)

    assert list(handshake.served) == sent


def test_the_private_reading_gives_what_the_public_api_gives(chained: tuple[TlsServer, list[bytes]]) -> None:
    """Runs 3.12's path on every Python; on 3.13 it is checked against the public API."""
    server, sent = chained
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
        client_context().wrap_socket(sock, server_hostname=NAME) as tls,
    ):
        assert _private_served_chain(tls) == sent
        assert _served_chain(tls) == sent


def test_the_suite_runs_the_chain_reading_this_python_uses() -> None:
    """3.12 has no public get_unverified_chain: there every handshake in the suite takes the private path."""
    assert hasattr(ssl.SSLSocket, "get_unverified_chain") == (sys.version_info >= (3, 13))
