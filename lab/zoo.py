"""A zoo of loopback endpoints, one per kind of trouble, for the demo (`make run`) and the CLI tests.

Every name is pinned to 127.0.0.1 with ``--resolve``, so nothing leaves the machine; the zoo's
private root is written to a PEM file to pass as ``--ca-file``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lab.certs import Issued, make_ca, make_cert
from lab.servers import LoopbackServer, SilentServer, TlsServer


@dataclass
class Exhibit:
    """One endpoint of the zoo and the finding codes a check of it must report."""

    name: str
    server: LoopbackServer
    scheme: str
    expected: frozenset[str]
    chain: tuple[Issued, ...] = ()  # what the server sends, leaf first (none for a server that sends nothing)

    @property
    def target(self) -> str:
        return f"{self.scheme}://{self.name}:{self.server.port}"


@dataclass
class Zoo:
    exhibits: list[Exhibit]
    ca_file: str
    servers: list[LoopbackServer] = field(default_factory=list)

    @property
    def targets(self) -> list[str]:
        return [e.target for e in self.exhibits]

    def resolve_args(self) -> list[str]:
        """``--resolve`` options pinning every exhibit's name to loopback."""
        return [arg for e in self.exhibits for arg in ("--resolve", f"{e.name}:127.0.0.1")]


@contextmanager
def running_zoo(now: datetime | None = None) -> Iterator[Zoo]:
    """Start the zoo's servers; stop them and remove the CA file on exit."""
    now = now or datetime.now(UTC)
    day = timedelta(days=1)
    root = make_ca("certwatch Demo Root")
    inter = make_ca("certwatch Demo Intermediate", issuer=root)

    def leaf(name: str, **kwargs: object) -> Issued:
        kwargs.setdefault("issuer", inter)
        kwargs.setdefault("days", 90.5)
        return make_cert(name, now=now, **kwargs)  # type: ignore[arg-type]

    def tls(
        name: str, chain: list[Issued], expected: set[str], scheme: str = "tls", dialogue: str | None = None
    ) -> Exhibit:
        return Exhibit(name, TlsServer(chain, dialogue=dialogue), scheme, frozenset(expected), tuple(chain))

    # Expiry half a day off the whole days: runs minutes apart read the same number of days.
    exhibits = [
        tls("healthy.demo.test", [leaf("healthy.demo.test"), inter], set()),
        tls(
            "expiring.demo.test",
            [leaf("expiring.demo.test", not_before=now - 80 * day, not_after=now + 5.5 * day), inter],
            {"EXPIRING_SOON", "RENEWAL_OVERDUE"},
        ),
        tls(
            "expired.demo.test",
            [leaf("expired.demo.test", not_before=now - 90 * day, not_after=now - 2.5 * day), inter],
            {"EXPIRED"},
        ),
        tls("wrong-name.demo.test", [leaf("other.demo.test"), inter], {"HOSTNAME_MISMATCH"}),
        tls("self-signed.demo.test", [make_cert("self-signed.demo.test", now=now, days=90.5)], {"SELF_SIGNED"}),
        tls("no-intermediate.demo.test", [leaf("no-intermediate.demo.test")], {"INCOMPLETE_CHAIN"}),
        tls(
            "stale-acme.demo.test",
            [leaf("stale-acme.demo.test", not_before=now - 150 * day, not_after=now + 50.5 * day), inter],
            {"RENEWAL_OVERDUE"},
        ),
        tls("weak.demo.test", [leaf("weak.demo.test", key="rsa1024"), inter], {"WEAK_KEY"}),
        tls("mail.demo.test", [leaf("mail.demo.test"), inter], set(), scheme="smtp", dialogue="smtp"),
        Exhibit("silent.demo.test", SilentServer(), "tls", frozenset({"CONNECTION_FAILED"})),
    ]
    handle, ca_file = tempfile.mkstemp(prefix="certwatch-zoo-", suffix=".pem")
    with os.fdopen(handle, "wb") as out:
        out.write(root.pem)
    zoo = Zoo(exhibits, ca_file, [e.server for e in exhibits])
    for server in zoo.servers:
        server.start()
    try:
        yield zoo
    finally:
        for server in zoo.servers:
            server.stop()
        os.unlink(ca_file)
