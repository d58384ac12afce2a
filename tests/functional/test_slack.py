"""The Slack webhook adapter and the relay, against a real HTTP receiver on loopback answering scripted statuses."""

from __future__ import annotations

import json
import logging
import socket
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.adapters.slack import SlackWebhook
from chalicelib.domain.alerts import AlertEvent, AlertSubject, EventType, Notification, Observation
from chalicelib.domain.models import Endpoint, Severity, Status
from chalicelib.domain.targets import Target, TargetSpec
from chalicelib.errors import SlackError
from chalicelib.presentation.event_shapes import EventDocument
from chalicelib.presentation.events import slack_message
from chalicelib.presentation.schema import from_json
from chalicelib.services.slack_relay import SlackRelay
from tests.support.events import rendered
from tests.support.net import closed_port

SECRET = "T0SECRET9/B0SECRET9/xoxb-sekrit-4f9a1c2e7b"
PATH = f"/services/{SECRET}"
PAYLOAD = {"text": "certwatch says hello", "blocks": []}


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST and answers with the next scripted (status, headers), then 200 for good."""

    url: str = ""
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *statuses: int | tuple[int, dict[str, str]]) -> None:
        self.script = [s if isinstance(s, tuple) else (s, {}) for s in statuses]

    def take(self, received: Received) -> tuple[int, dict[str, str]]:
        with self.lock:
            self.requests.append(received)
            return self.script.pop(0) if self.script else (200, {})


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, headers = receiver.take(Received(self.path, dict(self.headers.items()), body))
            answer = b"ok" if status == 200 else b"no_service"
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the path is the secret: not even the test server prints it

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{PATH}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Sleeps:
    """A stand-in for time.sleep that records each wait instead of waiting."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def webhook(url: str | None, sleeps: Sleeps, **kwargs: Any) -> SlackWebhook:
    kwargs.setdefault("timeout", 2.0)
    return SlackWebhook(lambda: url, sleep=sleeps, **kwargs)


# --- SlackWebhook ------------------------------------------------------------------------------


def test_delivers_json_once(receiver: Receiver, sleeps: Sleeps) -> None:
    assert webhook(receiver.url, sleeps).post(PAYLOAD) is True
    (request,) = receiver.requests
    assert request.path == PATH
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == PAYLOAD
    assert sleeps.waits == []


def test_429_waits_as_long_as_slack_asks(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.answer((429, {"Retry-After": "1"}), 200)
    assert webhook(receiver.url, sleeps).post(PAYLOAD) is True
    assert len(receiver.requests) == 2
    assert all(r.json() == PAYLOAD for r in receiver.requests)
    assert sleeps.waits == [pytest.approx(1.0)]


def test_429_waits_no_longer_than_max_wait(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.answer((429, {"Retry-After": "3600"}), 200)
    assert webhook(receiver.url, sleeps, max_wait=30.0).post(PAYLOAD) is True
    assert sleeps.waits == [30.0]


def test_server_errors_are_retried_with_backoff(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.answer(500, 502, 200)
    assert webhook(receiver.url, sleeps).post(PAYLOAD) is True
    assert len(receiver.requests) == 3
    assert sleeps.waits == [1.0, 2.0]


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_a_refusal_fails_at_once(receiver: Receiver, sleeps: Sleeps, status: int) -> None:
    receiver.answer(status)
    with pytest.raises(SlackError, match=f"HTTP {status}"):
        webhook(receiver.url, sleeps).post(PAYLOAD)
    assert len(receiver.requests) == 1
    assert sleeps.waits == []


def test_persistent_server_errors_fail_after_the_attempts(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.answer(*[503] * 10)
    with pytest.raises(SlackError, match="after 4 attempts") as raised:
        webhook(receiver.url, sleeps, attempts=4).post(PAYLOAD)
    assert "HTTP 503" in str(raised.value)
    assert len(receiver.requests) == 4
    assert sleeps.waits == [1.0, 2.0, 4.0]


def test_backoff_is_capped_by_max_wait(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.answer(*[500] * 6)
    with pytest.raises(SlackError):
        webhook(receiver.url, sleeps, attempts=6, max_wait=5.0).post(PAYLOAD)
    assert sleeps.waits == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_refused_connection_is_retried_then_fails(sleeps: Sleeps) -> None:
    with closed_port() as port, pytest.raises(SlackError) as raised:
        webhook(f"http://127.0.0.1:{port}{PATH}", sleeps, attempts=3).post(PAYLOAD)
    assert str(raised.value) == (
        "could not connect to Slack: connection refused (is the receiver running?); gave up after 3 attempts"
    )
    assert sleeps.waits == [1.0, 2.0]


@pytest.fixture
def garbler() -> Iterator[str]:
    """A URL whose server answers every request with bytes that are no HTTP response."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"garbage\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}{PATH}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_garbled_answer_is_retried_then_fails_as_slack_error(garbler: str, sleeps: Sleeps) -> None:
    with pytest.raises(SlackError, match=r"^Slack answered something that is not HTTP .*; gave up after 3 attempts$"):
        webhook(garbler, sleeps, attempts=3).post(PAYLOAD)
    assert sleeps.waits == [1.0, 2.0]


@pytest.mark.parametrize("url", [None, ""])
def test_no_webhook_configured_sends_nothing(receiver: Receiver, sleeps: Sleeps, url: str | None) -> None:
    assert webhook(url, sleeps).post(PAYLOAD) is False
    assert receiver.requests == []


def test_the_url_is_read_at_each_post(receiver: Receiver, sleeps: Sleeps) -> None:
    """The secret may be rotated in SSM: each post asks for the URL again."""
    urls: list[str | None] = [None, receiver.url]
    hook = SlackWebhook(lambda: urls[0], sleep=sleeps, timeout=2.0)
    assert hook.post(PAYLOAD) is False
    urls[0] = urls[1]
    assert hook.post(PAYLOAD) is True
    assert len(receiver.requests) == 1


def test_the_url_never_reaches_a_log_or_an_error(
    receiver: Receiver, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[SlackError] = []
    with closed_port() as port:
        scenarios: list[tuple[str, list[int | tuple[int, dict[str, str]]]]] = [
            (receiver.url, [(429, {"Retry-After": "1"}), 200]),
            (receiver.url, [500, 200]),
            (receiver.url, [503, 503, 503]),
            (receiver.url, [404]),
            (f"http://127.0.0.1:{port}{PATH}", []),
        ]
        for url, script in scenarios:
            receiver.answer(*script)
            try:
                webhook(url, sleeps, attempts=3).post(PAYLOAD)
            except SlackError as exc:
                errors.append(exc)
    assert len(errors) == 3
    assert any(r.levelno == logging.WARNING for r in caplog.records), "the retries are logged"
    for record in caplog.records:
        assert "SECRET" not in record.getMessage()
    assert "SECRET" not in caplog.text
    for error in errors:
        assert "SECRET" not in str(error)
        assert "SECRET" not in "".join(traceback.format_exception(error))


# --- SlackRelay --------------------------------------------------------------------------------


def _document(now: datetime) -> dict[str, Any]:
    """An expiring event as the alerts topic carries it."""
    created = datetime(2026, 1, 1, tzinfo=UTC)
    spec = TargetSpec(Endpoint("api.example.com", 443))
    target = Target("tg_0000000000aa1b2c3d4e", "payments", spec, created, created, created)
    event = AlertEvent(
        "tg_0000000000aa1b2c3d4e:ab12:expiring:3",
        EventType.EXPIRING,
        Severity.CRITICAL,
        "certificate expires in 3 days (2026-12-01)",
        threshold_days=3,
    )
    observed = Observation(None, (), Status.CRITICAL, 3, checked_at=now)
    note = Notification.of(event, AlertSubject.of_target(target), observed, now)
    return rendered(note, "https://certwatch.example.com")


def test_the_relay_posts_the_slack_message_of_a_document(receiver: Receiver, sleeps: Sleeps, now: datetime) -> None:
    document = _document(now)
    assert SlackRelay(webhook(receiver.url, sleeps)).deliver(json.dumps(document)) is True
    (request,) = receiver.requests
    assert request.json() == json.loads(json.dumps(slack_message(from_json(EventDocument, document))))
    assert "api.example.com" in request.json()["text"]


@pytest.mark.parametrize(
    "message",
    [
        "not json at all",
        "{truncated",
        "[1, 2, 3]",
        '"a string"',
        json.dumps({"version": 2, "type": "certificate.expiring"}),
        json.dumps({"type": "certificate.expiring"}),
    ],
    ids=["text", "broken-json", "array", "string", "version-2", "no-version"],
)
def test_the_relay_ignores_what_is_no_v1_document(
    receiver: Receiver, sleeps: Sleeps, caplog: pytest.LogCaptureFixture, message: str
) -> None:
    caplog.set_level(logging.ERROR, logger="chalicelib.services.slack_relay")
    assert SlackRelay(webhook(receiver.url, sleeps)).deliver(message) is False
    assert receiver.requests == []
    assert [r.levelno for r in caplog.records if r.name == "chalicelib.services.slack_relay"] == [logging.ERROR]


def test_the_relay_passes_on_a_refusal(receiver: Receiver, sleeps: Sleeps, now: datetime) -> None:
    receiver.answer(400)
    with pytest.raises(SlackError):
        SlackRelay(webhook(receiver.url, sleeps)).deliver(json.dumps(_document(now)))


def test_the_relay_without_a_webhook_posts_nothing(receiver: Receiver, sleeps: Sleeps, now: datetime) -> None:
    assert SlackRelay(webhook(None, sleeps)).deliver(json.dumps(_document(now))) is False
    assert receiver.requests == []
