"""The HTTP API as the tests call it: answers, a client per token, in-memory stacks, loopback TLS servers.

The fixtures that build them are in tests/e2e/conftest.py.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from chalice.config import Config
from chalice.test import Client

from chalicelib import deps
from chalicelib.checks.resolver import Lookup, SystemResolver
from chalicelib.deps import Container
from chalicelib.domain.inventory import Discovered
from chalicelib.domain.tokens import issue
from chalicelib.settings import Settings
from lab.certs import Issued
from lab.gateway import deployed_refusal, local_api_server
from lab.servers import TlsServer
from tests.support import contract
from tests.support.contract import decode
from tests.support.fakes import InMemoryStore, RecordingCheckQueue, RecordingPublisher
from tests.support.net import no_dns
from tests.support.pki import Pki

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.0/8"
# Names the loopback TLS servers answer for; the stacks that check them pin these to 127.0.0.1.
HEALTHY = "healthy.api.example.test"
EXPIRED = "expired.api.example.test"
LOOPBACK_PINS: dict[str, list[str]] = {HEALTHY: ["127.0.0.1"], EXPIRED: ["127.0.0.1"]}


@dataclass(frozen=True)
class Reply:
    """An HTTP answer as the tests read it, whichever way it travelled."""

    status: int
    body: Any  # the JSON document, or the raw text when the body is not JSON
    headers: Mapping[str, str]

    @property
    def error(self) -> dict[str, Any]:
        """The ``error`` object of a JSON error body (fails the test when there is none)."""
        assert isinstance(self.body, dict), self.body
        assert set(self.body) == {"error"}, self.body
        error = self.body["error"]
        assert isinstance(error, dict)
        assert isinstance(error.get("code"), str), error
        assert isinstance(error.get("message"), str), error
        return error


class Transport(Protocol):
    def __call__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply: ...


# No proxy from the environment may stand between the tests and the loopback server.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@contextlib.contextmanager
def serving_over_http() -> Iterator[str]:
    """``make run``'s API server (Chalice's local server, lab/gateway.py) in this process on a free port.

    It serves ``app`` with whatever container ``deps.use`` installed; the app's class is restored
    afterwards (the local server swaps in a subclass with a thread-local current_request).
    """
    from app import app  # here, not at the top: the unit tests import this module without the app

    config = Config(
        chalice_stage="local",
        user_provided_params={"chalice_app": app},
        config_from_disk=json.loads((ROOT / ".chalice" / "config.json").read_text()),
        default_params={"project_dir": str(ROOT), "api_gateway_stage": "api", "autogen_policy": True},
    )
    original = app.__class__
    try:
        server = local_api_server(app, config, "127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, name="chalice-local", daemon=True)
        thread.start()
        try:
            host, port = server.server.server_address[:2]
            yield f"http://{host!s}:{port}"
        finally:
            server.shutdown()
            thread.join(timeout=10)
            server.server.server_close()
    finally:
        app.__class__ = original


def http_transport(base_url: str) -> Transport:
    """Requests over real HTTP to ``base_url`` (``serving_over_http``), via urllib."""

    def send(method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        request = urllib.request.Request(base_url + path, data=body or None, headers=headers, method=method)
        try:
            with _OPENER.open(request, timeout=15) as answer:
                return Reply(answer.status, decode(answer.read()), dict(answer.headers.items()))
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, decode(error.read()), dict(error.headers.items()))

    return send


def client_transport(client: Client) -> Transport:
    """Requests through the test client's local API Gateway (authorizer included), no sockets.

    What the gateway refuses before any route runs (no Authorization header, no such path) is
    answered as a deployment answers it (lab/gateway.py), not with Chalice's imitation of API
    Gateway's defaults.
    """

    def send(method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        answer = client.http.request(method, path, headers=headers, body=body)
        if "x-amzn-ErrorType" in answer.headers:  # refused by the gateway itself
            status, refusal = deployed_refusal(answer.status_code, answer.headers)
            return Reply(status, decode(refusal.encode()), answer.headers)
        return Reply(answer.status_code, decode(answer.body), answer.headers)

    return send


class Api:
    """Calls the API as one token holder; ``as_(token)`` gives the same client under another token.

    Every exchange is checked against the OpenAPI document (``contract.check``).
    """

    def __init__(self, transport: Transport, token: str | None, admin_token: str | None = None) -> None:
        self._transport = transport
        self.token = token
        self.admin_token = admin_token

    def as_(self, token: str | None) -> Api:
        return Api(self._transport, token, self.admin_token)

    def as_admin(self) -> Api:
        assert self.admin_token is not None, "this Api was built without an admin token"
        return self.as_(self.admin_token)

    def call(
        self,
        method: str,
        path: str,
        json_body: object = None,
        *,
        raw: bytes | str | None = None,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent: dict[str, str] = {}
        if self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
        body = b""
        if raw is not None:
            body = raw.encode() if isinstance(raw, str) else raw
        elif json_body is not None:
            body = json.dumps(json_body).encode()
        if content_type is not None and method in {"POST", "PATCH", "PUT"}:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        reply = self._transport(method, path, sent, body)
        contract.check(method, path, reply.status, reply.body, sent=body, headers=sent)
        return reply

    def get(self, path: str) -> Reply:
        return self.call("GET", path)

    def post(self, path: str, json_body: object = None, **kwargs: Any) -> Reply:
        return self.call("POST", path, json_body, **kwargs)

    def patch(self, path: str, json_body: object = None, **kwargs: Any) -> Reply:
        return self.call("PATCH", path, json_body, **kwargs)

    def delete(self, path: str) -> Reply:
        return self.call("DELETE", path)

    def register(self, target: str, **fields: Any) -> dict[str, Any]:
        """POST /targets, asserting 201; the created target."""
        reply = self.post("/targets", {"target": target, **fields})
        assert reply.status == 201, reply
        assert isinstance(reply.body, dict)
        return reply.body


@dataclass
class Stack:
    """The pieces of one in-memory container the tests look into."""

    container: Container
    store: InMemoryStore
    queue: RecordingCheckQueue
    tokens: dict[str, str] = field(default_factory=dict)  # token -> token id

    def token(self, team: str, *, admin: bool = False) -> str:
        """Issue and store a token for ``team``."""
        token, record = issue(team, admin=admin, now=datetime.now(UTC), name=f"e2e {team}")
        self.store.put_token(record)
        self.tokens[token] = record.token_id
        return token

    def revoke(self, token: str) -> None:
        assert self.store.delete_token(self.tokens[token])


class NoEndpoints:
    """Discovery in an account with nothing behind its certificates."""

    def discover(self) -> Discovered:
        return Discovered()


class Stacks:
    """Builds in-memory stacks, installs the latest as the app's container, and tears them all down."""

    def __init__(self, pki: Pki) -> None:
        self._pki = pki
        self._built: list[Container] = []

    def build(
        self,
        *,
        allow_cidrs: str = "",
        pins: Mapping[str, Sequence[str]] | None = None,
        lookup: Lookup = no_dns,
        check_timeout: float = 3.0,
    ) -> Stack:
        """A stack whose names resolve only through ``pins`` (and ``lookup``, which never uses real DNS)."""
        store = InMemoryStore()
        queue = RecordingCheckQueue()
        container = Container(
            Settings.for_stage("local", allow_cidrs=allow_cidrs, check_timeout=check_timeout),
            store=store,
            queue=queue,
            trust=self._pki.trust,
            resolver=SystemResolver(pins or {}, lookup=lookup),
            publisher=RecordingPublisher(),
            certificate_sources=(),  # no AWS account behind these stacks: nothing held in ACM/IAM
            discoverer=NoEndpoints(),
        )
        self._built.append(container)
        deps.use(container)
        return Stack(container, store, queue)

    def close(self) -> None:
        deps.use(None)
        for container in self._built:
            if "engine" in container.__dict__:
                container.engine.close()
            container.resolver.close()


@dataclass(frozen=True)
class LoopbackTls:
    """Loopback TLS servers with certificates from the test PKI: one healthy, one expired."""

    healthy: TlsServer
    expired: TlsServer

    @property
    def healthy_target(self) -> str:
        return f"https://{HEALTHY}:{self.healthy.port}"

    @property
    def expired_target(self) -> str:
        return f"https://{EXPIRED}:{self.expired.port}"


class HookedTlsServer(TlsServer):
    """A TLS server that runs ``on_connect`` when a client arrives, before its handshake.

    Lets a test act at a known moment inside a check (delete the target, hold the check
    until another request is done) without timing anything.
    """

    def __init__(self, chain: Sequence[Issued], on_connect: Callable[[], None]) -> None:
        super().__init__(chain)
        self._on_connect = on_connect

    def handle(self, conn: socket.socket) -> None:
        self._on_connect()
        super().handle(conn)
