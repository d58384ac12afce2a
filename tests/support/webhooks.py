"""Webhook receivers on 127.0.0.1 for the tests: they record every POST, judge it, and answer as scripted.

``verify`` is the signature check the manual shows a receiver (read out of docs/alerts.md, so
the manual's few lines are what the tests run); PAGERDUTY_EVENT is the shape of an Events API v2
event (PagerDuty's documented fields and limits); ADAPTIVE_CARD the Adaptive Cards 1.4 schema.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import jsonschema

ROOT = Path(__file__).resolve().parents[2]
ADAPTIVE_CARD = jsonschema.Draft6Validator(
    json.loads((ROOT / "tests" / "data" / "adaptive-card-1.4.schema.json").read_text()),
    format_checker=jsonschema.Draft6Validator.FORMAT_CHECKER,
)
_TEXT = {"type": "string", "minLength": 1}
PAGERDUTY_EVENT = jsonschema.Draft7Validator(
    {
        "type": "object",
        "required": ["routing_key", "event_action", "dedup_key"],
        "properties": {
            "routing_key": {"type": "string", "pattern": "^[A-Za-z0-9]{32}$"},
            "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
            "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255},
            "payload": {
                "type": "object",
                "required": ["summary", "source", "severity"],
                "properties": {
                    "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                    "source": _TEXT,
                    "severity": {"enum": ["critical", "error", "warning", "info"]},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "component": _TEXT,
                    "group": _TEXT,
                    "class": _TEXT,
                    "custom_details": {"type": "object"},
                },
                "additionalProperties": False,
            },
            "client": _TEXT,
            "client_url": {"type": "string", "format": "uri"},
            "links": {
                "type": "array",
                "items": {"type": "object", "required": ["href"], "properties": {"href": _TEXT, "text": _TEXT}},
            },
            "images": {"type": "array"},
        },
        "additionalProperties": False,
        "if": {"properties": {"event_action": {"const": "trigger"}}},
        "then": {"required": ["payload"]},
        "else": {"not": {"required": ["payload"]}},
    },
    format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
)


def readme_verify() -> Callable[[str, dict[str, str], bytes], bool]:
    """The ``verify`` function of docs/alerts.md's receiver example, compiled from the page itself."""
    text = (ROOT / "docs" / "alerts.md").read_text()
    match = re.search(r"```python\n(# verify a certwatch webhook.*?)```", text, re.DOTALL)
    assert match, "docs/alerts.md has no receiver example starting '# verify a certwatch webhook'"
    scope: dict[str, Any] = {}
    exec(compile(match.group(1), "docs/alerts.md", "exec"), scope)
    verify: Callable[[str, dict[str, str], bytes], bool] = scope["verify"]
    return verify


@dataclass(frozen=True)
class Delivery:
    """One POST as the receiver got it (header names lower-case)."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Judge = Callable[[Delivery], str | None]  # what is wrong with a request, or None


@dataclass
class Receiver:
    """Records every POST; refuses (400) what ``judge`` finds wrong; else answers the script, then ``ok``."""

    judge: Judge = lambda delivery: None
    ok: int = 200
    tls: ssl.SSLContext | None = None
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[Delivery] = field(default_factory=list)
    accepted: list[Delivery] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                delivery = Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                status, headers = receiver._take(delivery)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # paths carry the secrets of the URLs under test

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/hooks/s3cret-path?token=s3cret-query", host: str = "127.0.0.1") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def answer(self, *statuses: int | tuple[int, dict[str, str]]) -> None:
        self.script = [s if isinstance(s, tuple) else (s, {}) for s in statuses]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        """The accepted deliveries once there are ``count``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.accepted) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.accepted)} deliveries within {timeout:g}s, wanted {count}"
                self._lock.wait(left)
            return list(self.accepted)

    def wait_for_one(self, matches: Callable[[Delivery], bool], timeout: float = 10.0) -> Delivery:
        """The first accepted delivery ``matches`` accepts, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for delivery in self.accepted:
                    if matches(delivery):
                        return delivery
                left = deadline - time.monotonic()
                assert left > 0, f"no matching delivery within {timeout:g}s; got {self.accepted!r}"
                self._lock.wait(left)

    def _take(self, delivery: Delivery) -> tuple[int, dict[str, str]]:
        with self._lock:
            self.requests.append(delivery)
            problem = self.judge(delivery)
            if problem is not None:
                self.problems.append(problem)
                return 400, {}
            status, headers = self.script.pop(0) if self.script else (self.ok, {})
            if 200 <= status < 300:
                self.accepted.append(delivery)
                self._lock.notify_all()
            return status, headers

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def signed_by(secret: str) -> Judge:
    """A generic receiver's judge: every request carries a valid, fresh signature (docs/alerts.md's verify)."""
    verify = readme_verify()

    def judge(delivery: Delivery) -> str | None:
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            if name not in delivery.headers:
                return f"no {name} header"
        return None if verify(secret, delivery.headers, delivery.body) else "bad signature"

    return judge


def pagerduty_shaped(delivery: Delivery) -> str | None:
    """A PagerDuty Events API v2 receiver's judge."""
    errors = [e.message for e in PAGERDUTY_EVENT.iter_errors(delivery.json())]
    return "; ".join(errors) or None


def teams_shaped(delivery: Delivery) -> str | None:
    """A Teams Workflows receiver's judge: a message whose one attachment is a valid Adaptive Card."""
    message = delivery.json()
    if message.get("type") != "message" or len(message.get("attachments", [])) != 1:
        return "not a message with one attachment"
    (attachment,) = message["attachments"]
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        return f"contentType {attachment.get('contentType')!r}"
    errors = [e.message for e in ADAPTIVE_CARD.iter_errors(attachment["content"])]
    return "; ".join(errors) or None


@dataclass
class Sleeps:
    """A stand-in for time.sleep that records each wait instead of waiting."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
