"""Two endpoints that renew their certificates while a clock moves: the renewal cadence, end to end.

``renewing_endpoints`` starts two real TLS servers and installs a container (``deps.use``) whose
clock the test moves; ``Renewals.register`` registers both endpoints through the API and checks
each once, ``Renewals.six_months`` checks them while they renew: SLOW every 90 days (not ready
for 100-day certificates), BRISK every 60 (ready for 100, not for 47). The API's ``cadence`` and ``readiness`` then have
something to say, whichever way the API is called (test client, HTTP, a browser).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib import deps
from chalicelib.checks.resolver import SystemResolver
from chalicelib.deps import Container
from chalicelib.domain.tokens import issue
from chalicelib.settings import Settings
from lab.certs import Issued, make_cert
from lab.servers import TlsServer, server_context
from tests.support.api import Api, NoEndpoints
from tests.support.fakes import Clock, InMemoryStore, RecordingCheckQueue, RecordingPublisher
from tests.support.net import no_dns
from tests.support.pki import Pki

START = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)  # 180 days later is still before 15 March 2027
SLOW, BRISK = "slow.cadence.test", "brisk.cadence.test"


def leaf(pki: Pki, name: str, issued: datetime) -> Issued:
    """A 100-day certificate, issued an hour before it is first served."""
    return make_cert(
        name, issuer=pki.intermediate, not_before=issued - timedelta(hours=1), not_after=issued + timedelta(days=100)
    )


@dataclass
class Renewals:
    """The two servers, the clock the container reads, and a team token (team ``web``)."""

    pki: Pki
    clock: Clock
    servers: dict[str, TlsServer]
    token: str

    def target(self, name: str) -> str:
        return f"tls://{name}:{self.servers[name].port}"

    def renew(self, name: str) -> None:
        issued = leaf(self.pki, name, self.clock.now())
        self.servers[name].context = server_context([issued, self.pki.intermediate], issued.key)

    def register(self, api: Api) -> dict[str, str]:
        """Register both and check each once at START: the target ids by name."""
        ids = {name: api.register(self.target(name))["id"] for name in self.servers}
        for target_id in ids.values():
            self.check(api, target_id)
        return ids

    def six_months(self, api: Api, ids: dict[str, str]) -> None:
        """Renew and check: BRISK on days 60, 120 and 180, SLOW on days 90 and 180."""
        for day in (60, 90, 120, 180):
            self.clock.advance(START + timedelta(days=day) - self.clock.now())
            if day in (60, 120, 180):
                self.renew(BRISK)
                self.check(api, ids[BRISK])
            if day in (90, 180):
                self.renew(SLOW)
                self.check(api, ids[SLOW])

    @staticmethod
    def check(api: Api, target_id: str) -> dict[str, object]:
        """``POST /targets/{id}/check``: the result."""
        reply = api.post(f"/targets/{target_id}/check")
        assert reply.status == 200, reply
        result = reply.body["result"]
        assert isinstance(result, dict)
        return result


@contextlib.contextmanager
def renewing_endpoints(pki: Pki) -> Iterator[Renewals]:
    """SLOW and BRISK served from START, behind a container with a hand-moved clock; all undone afterwards."""
    clock = Clock(START)
    servers = {name: TlsServer([leaf(pki, name, START), pki.intermediate]).start() for name in (SLOW, BRISK)}
    store = InMemoryStore()
    container = Container(
        Settings.for_stage("local", allow_cidrs="127.0.0.0/8", check_timeout=3.0),
        clock=clock.now,
        store=store,
        queue=RecordingCheckQueue(),
        trust=pki.trust,
        resolver=SystemResolver({name: ["127.0.0.1"] for name in servers}, lookup=no_dns),
        publisher=RecordingPublisher(),
        certificate_sources=(),
        discoverer=NoEndpoints(),
    )
    deps.use(container)
    token, record = issue("web", admin=False, now=START, name="cadence")
    store.put_token(record)
    try:
        yield Renewals(pki, clock, servers, token)
    finally:
        deps.use(None)
        if "engine" in container.__dict__:
            container.engine.close()
        for server in servers.values():
            server.stop()
