"""Loopback networking for tests: a resolver that knows no name, a port that refuses, a port that is free."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any


def no_dns(host: str, *args: Any) -> list[Any]:
    """A getaddrinfo stand-in that knows no name: a test that forgets to pin one fails as dns, offline."""
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@contextlib.contextmanager
def closed_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port bound on ``host`` but never listened on: connecting to it is refused, and nobody else gets it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        yield int(sock.getsockname()[1])


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
