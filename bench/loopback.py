"""Loopback TLS endpoints for the benchmarks: a zoo of chains served from child processes.

The servers run in processes of their own, so a benchmark's CPU figures are the checker's alone.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

from lab.authority import revocation_extensions
from lab.certs import Issued, make_ca, make_cert
from lab.servers import TlsServer

# The mix of certificate states the servers present (cycled over the endpoints).
KINDS = ("healthy", "healthy", "healthy", "expiring", "expired", "wrong-name", "self-signed", "no-intermediate")
DOMAIN = "bench.test"


@dataclass(frozen=True)
class Zoo:
    """The endpoints being served: names (``hostN.bench.test``), ports, and the root they chain to."""

    root: Issued
    ports: list[int]
    intermediate: Issued

    @property
    def names(self) -> list[str]:
        return [host(i) for i in range(len(self.ports))]

    def targets(self) -> list[str]:
        return [f"tls://{name}:{port}" for name, port in zip(self.names, self.ports, strict=True)]


def host(index: int) -> str:
    return f"host{index}.{DOMAIN}"


def _chain(kind: str, index: int, inter: Issued, now: datetime, revocation: dict[str, str]) -> list[Issued]:
    name = host(index)
    day = timedelta(days=1)
    if revocation:  # healthy leaves that name where to ask about them
        named = revocation_extensions(revocation.get("crl"), revocation.get("ocsp"))
        return [make_cert(name, issuer=inter, extensions=named), inter]
    if kind == "expiring":
        return [make_cert(name, issuer=inter, not_before=now - 80 * day, not_after=now + 5 * day), inter]
    if kind == "expired":
        return [make_cert(name, issuer=inter, not_before=now - 90 * day, not_after=now - day), inter]
    if kind == "wrong-name":
        return [make_cert(f"elsewhere.{DOMAIN}", issuer=inter), inter]
    if kind == "self-signed":
        return [make_cert(name)]
    if kind == "no-intermediate":
        return [make_cert(name, issuer=inter)]
    return [make_cert(name, issuer=inter), inter]


def _serve(chains: list[list[tuple[bytes, bytes]]], legacy: bool, ports: Connection, stop: Connection) -> None:
    """Child process: one TlsServer per chain; sends the ports back, serves until told to stop."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    servers = []
    for chain in chains:
        key = load_pem_private_key(chain[0][1], password=None)
        server = TlsServer([der for der, _ in chain], key)  # type: ignore[arg-type]
        if not legacy:
            server.context.minimum_version = ssl.TLSVersion.TLSv1_2
        servers.append(server.start())
    ports.send([s.port for s in servers])
    stop.recv()
    for server in servers:
        server.stop()


@contextlib.contextmanager
def serving(
    endpoints: int, processes: int = 2, revocation: dict[str, str] | None = None, *, legacy: bool = True
) -> Iterator[Zoo]:
    """Serve ``endpoints`` chains of the KINDS mix from ``processes`` child processes.

    With ``revocation`` (``{"crl": URL}`` and/or ``{"ocsp": URL}``) every endpoint serves a
    healthy leaf that names those URLs, so every check asks about revocation. The servers accept
    TLS 1.0 and 1.1 too unless ``legacy`` is False (then TLS 1.2 at least).
    """
    now = datetime.now(UTC)
    root = make_ca("certwatch Bench Root")
    inter = make_ca("certwatch Bench Intermediate", issuer=root)
    kinds = ("healthy",) if revocation else KINDS
    chains = [_chain(kinds[i % len(kinds)], i, inter, now, revocation or {}) for i in range(endpoints)]
    payload = [[(c.der, c.key_pem) for c in chain] for chain in chains]
    shares = [list(range(p, endpoints, processes)) for p in range(processes)]
    ports = [0] * endpoints
    with contextlib.ExitStack() as children:
        for share in shares:
            served = children.enter_context(in_child(_serve, [payload[i] for i in share], legacy))
            for index, port in zip(share, served, strict=True):
                ports[index] = port
        yield Zoo(root, ports, inter)


@contextlib.contextmanager
def in_child(serve: Callable[..., None], *args: Any) -> Iterator[Any]:
    """``serve(*args, answer, stop)`` in a child process of its own (spawned): what it sends on ``answer``
    (its ports, say), while it serves; on the way out it is told to stop (``stop`` receives) and waited for."""
    context = multiprocessing.get_context("spawn")
    answer_recv, answer_send = context.Pipe(duplex=False)
    stop_recv, stop_send = context.Pipe(duplex=False)
    child = context.Process(target=serve, args=(*args, answer_send, stop_recv), daemon=True)
    child.start()
    try:
        yield answer_recv.recv()
    finally:
        stop_send.send(True)
        child.join(timeout=30)
