"""The local stack (`make run`) as a real process: API over HTTP, sweep, checker, Slack, webhook and email.

The stack is started with ``python -m lab.local`` on free ports, its Slack webhook and its
CERTWATCH_WEBHOOK_URL pointing at receivers in this process; a target is registered over HTTP
and its event must reach Slack, the webhook (signed) and the printed email. Ctrl-C (SIGINT) must
stop it cleanly, and it must start again on the same ports.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.tokens import issue
from chalicelib.domain.webhooks import new_secret
from lab.certs import make_cert
from tests.e2e.pipeline_helpers import SlackReceiver, free_port, slack_text
from tests.e2e.webhook_helpers import Receiver, signed_by

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SWEEP_SECONDS = 2
STARTUP_TIMEOUT = 40.0
DELIVERY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
# No proxy from the environment may stand between the tests and the loopback servers.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Ports:
    api: int
    aws: int
    demo: int  # the first of the three demo endpoints; "expiring in 5 days" listens here


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports() -> Ports:
    """Free ports for the API, moto and the demo endpoints (three in a row from ``demo``)."""
    api, aws = free_port(), free_port()
    while True:
        demo = free_port()
        row = {demo, demo + 1, demo + 2}
        if demo + 2 < 65536 and not row & {api, aws} and all(_bindable(port) for port in row):
            return Ports(api, aws, demo)


@dataclass
class Stack:
    """A running ``python -m lab.local`` and everything it printed so far."""

    process: subprocess.Popen[str]
    ports: Ports
    token: str
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with _OPENER.open(request, timeout=15) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read().decode(errors="replace")

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the local stack exited with {self.process.returncode}:\n{self.output}")
            with contextlib.suppress(OSError), _OPENER.open(self.url + "/health", timeout=2) as answer:
                if answer.status == 200 and json.loads(answer.read())["status"] == "ok":
                    return
            time.sleep(0.2)
        pytest.fail(f"GET /health did not answer within {STARTUP_TIMEOUT:g}s:\n{self.output}")

    def wait_for_output(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} not printed within {timeout:g}s:\n{self.output}")
            time.sleep(0.1)

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT, then the exit status (fails the test unless it exits within STOP_TIMEOUT)."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the local stack did not stop within {STOP_TIMEOUT:g}s of SIGINT:\n{self.output}")


@contextlib.contextmanager
def local_stack(
    ports: Ports, token: str, slack_url: str | None = None, webhook: tuple[str, str] | None = None
) -> Iterator[Stack]:
    """``python -m lab.local`` from the repository root, healthy; killed in the end whatever happens."""
    env = {
        **os.environ,
        "PORT": str(ports.api),
        "CERTWATCH_LOCAL_AWS_PORT": str(ports.aws),
        "CERTWATCH_DEMO_PORT": str(ports.demo),
        "CERTWATCH_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "CERTWATCH_BOOTSTRAP_TOKEN": token,
        "PYTHONUNBUFFERED": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    for name in ("CERTWATCH_SLACK_WEBHOOK_URL", "CERTWATCH_WEBHOOK_URL", "CERTWATCH_WEBHOOK_SECRET"):
        env.pop(name, None)
    if slack_url is not None:
        env["CERTWATCH_SLACK_WEBHOOK_URL"] = slack_url
    if webhook is not None:
        env["CERTWATCH_WEBHOOK_URL"], env["CERTWATCH_WEBHOOK_SECRET"] = webhook
    process = subprocess.Popen(
        [sys.executable, "-m", "lab.local"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    stack = Stack(process, ports, token)
    assert process.stdout is not None
    stdout = process.stdout

    def read() -> None:
        for line in stdout:
            stack.lines.append(line)

    reader = threading.Thread(target=read, name="local-stack-stdout", daemon=True)
    reader.start()
    try:
        stack.wait_until_healthy()
        yield stack
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=STOP_TIMEOUT)
        reader.join(timeout=5)
        stdout.close()


@pytest.fixture
def token() -> str:
    return issue("local", admin=True, now=datetime.now(UTC))[0]


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    with SlackReceiver() as receiver:
        yield receiver


def test_a_registered_target_reaches_slack_a_webhook_and_email_and_ctrl_c_stops_the_stack(
    token: str, slack: SlackReceiver
) -> None:
    ports = free_ports()
    secret = new_secret()
    with Receiver(judge=signed_by(secret)) as hook, local_stack(ports, token, slack.url, (hook.url(), secret)) as stack:
        demo = f"127.0.0.1:{ports.demo}"
        status, created = stack.call("POST", "/targets", {"target": f"tls://{demo}"})
        assert status == 201, created

        post = slack.wait_for(lambda post: demo in slack_text(post), timeout=DELIVERY_TIMEOUT)
        (delivery,) = hook.wait_for(1, timeout=DELIVERY_TIMEOUT)
        stack.wait_for_output("Subject: [certwatch] CRITICAL", timeout=5)
        shown_status, shown = stack.call("GET", f"/targets/{created['id']}")
        time.sleep(2 * SWEEP_SECONDS + 1)  # two more sweeps: the event must not come again
        about_demo = [other for other in slack.posts if demo in slack_text(other)]
        exit_status = stack.interrupt()

    assert about_demo == [post]
    assert hook.accepted == [delivery]
    assert hook.problems == []  # signed with CERTWATCH_WEBHOOK_SECRET
    assert (delivery.json()["type"], delivery.json()["target"]["id"]) == ("certificate.expiring", created["id"])
    assert "webhook       posting to CERTWATCH_WEBHOOK_URL as wh_" in stack.output
    assert secret not in stack.output
    assert "s3cret" not in stack.output
    assert post["attachments"][0]["color"] == "#d0021b"  # critical: expires within critical_days
    assert "certificate.expiring" in slack_text(post)
    assert f"CRITICAL* `{demo}`" in slack_text(post)
    assert f"Subject: [certwatch] CRITICAL {demo} certificate expires in" in stack.output
    assert (shown_status, shown["latest"]["status"]) == (200, "critical")
    assert exit_status == 0, stack.output
    assert "stopping" in stack.output


def test_the_stack_starts_again_on_the_same_ports_with_fresh_state(token: str) -> None:
    ports = free_ports()
    with local_stack(ports, token) as first:
        status, created = first.call("POST", "/targets", {"target": f"tls://127.0.0.1:{ports.demo}"})
        assert status == 201, created
        assert [item["id"] for item in first.call("GET", "/targets")[1]["items"]] == [created["id"]]
        # A browser tab on the API keeps its connection open while Ctrl-C is pressed.
        browser = http.client.HTTPConnection("127.0.0.1", ports.api, timeout=15)
        try:
            browser.request("GET", "/openapi.json")
            assert browser.getresponse().read()
            assert first.interrupt() == 0, first.output
        finally:
            browser.close()

    with local_stack(ports, token) as second:
        status, listed = second.call("GET", "/targets")
        gone, _ = second.call("GET", f"/targets/{created['id']}")
        assert second.interrupt() == 0, second.output

    assert (status, listed["items"]) == (200, [])
    assert gone == 404
    assert "stopping" in second.output


def test_a_certificate_imported_into_the_local_acm_is_listed_with_its_findings(token: str) -> None:
    import boto3

    ports = free_ports()
    now = datetime.now(UTC)
    # Mid-day, so the whole days left cannot flip while the test runs.
    issued = make_cert("imported.local.test", not_before=now - timedelta(days=30), not_after=now + timedelta(days=40.5))
    with local_stack(ports, token) as stack:
        acm = boto3.client(
            "acm",
            endpoint_url=f"http://127.0.0.1:{ports.aws}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        arn = acm.import_certificate(Certificate=issued.pem, PrivateKey=issued.key_pem)["CertificateArn"]
        deadline = time.monotonic() + 15  # the local stack scans its ACM every sweep (2 s here)
        row: dict[str, Any] | None = None
        while row is None and time.monotonic() < deadline:
            status, listed = stack.call("GET", "/certificates?source=acm")
            assert status == 200, listed
            row = next((item for item in listed["items"] if item["id"] == arn), None)
            if row is None:
                time.sleep(0.25)
        assert row is not None, f"{arn} not listed within 15 s:\n{stack.output}"
        stack.wait_for_output(f"Target:     {arn}", timeout=5)  # its expiry event reached the subscribers

    assert {"EXPIRING_SOON", "NOT_AUTO_RENEWED"} <= set(row["codes"])
    assert (row["source"], row["region"], row["days_left"]) == ("acm", "us-east-1", 40)
    assert row["subject"] == "CN=imported.local.test"
