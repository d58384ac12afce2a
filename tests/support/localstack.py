"""The local stack (``python -m lab.local``, what ``make run`` starts) as a real process, for tests.

``local_stack`` starts it on free ports from the repository root and waits until it is healthy;
``Stack`` calls its API over HTTP (each answer checked against the OpenAPI document), reads what it
printed, and stops it with Ctrl-C or any signals (``launch`` starts one without waiting for it).
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bench.local import free_ports as bench_free_ports
from bench.local import start_local_stack
from tests.support import contract

SWEEP_SECONDS = 2
STARTUP_TIMEOUT = 40.0
STOP_TIMEOUT = 15.0
RUNNING = "Events appear below"  # the banner's last line: the stack is running
# No proxy from the environment may stand between the tests and the loopback servers.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Ports:
    api: int
    aws: int
    demo: int  # the first of the three demo endpoints; "expiring in 5 days" listens here


def free_ports() -> Ports:
    """Free ports for the API, moto and the demo endpoints (three in a row from ``demo``)."""
    return Ports(*bench_free_ports())


def held(ports: Ports, *, grace: float = 2.0) -> list[int]:
    """Those of the stack's ports a new server could not listen on, as the next ``make run`` asks.

    A port that is taken is asked again for ``grace`` seconds: a socket of the stack's that the kernel has yet to
    let go of; a port the stack left held stays held. (The ports are below the kernel's ephemeral range, so no
    other test's connection takes one as its own end: ``bench.local.free_ports``.)
    """

    def listenable(port: int) -> bool:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the stack's servers bind
            try:
                probe.bind(("127.0.0.1", port))
                probe.listen()
            except OSError:
                return False
        return True

    every = (ports.api, ports.aws, ports.demo, ports.demo + 1, ports.demo + 2)
    taken = [port for port in every if not listenable(port)]
    deadline = time.monotonic() + grace
    while taken and time.monotonic() < deadline:
        time.sleep(0.1)
        taken = [port for port in taken if not listenable(port)]
    return taken


@dataclass
class Stack:
    """A running ``python -m lab.local`` and everything it printed so far."""

    process: subprocess.Popen[str]
    ports: Ports
    token: str
    lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def call(self, method: str, path: str, body: object = None, *, token: str | None = None) -> tuple[int, Any]:
        """The API's answer (under the stack's token, or ``token``): the status and the JSON document (the text of an
        answer that is not JSON); checked against the OpenAPI document."""
        headers = {"Authorization": f"Bearer {token or self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with _OPENER.open(request, timeout=15) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            with error:
                status, raw = error.code, error.read()
        document = contract.decode(raw)
        contract.check(method, path, status, document, sent=data, headers=headers)
        return status, document

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
        status = self.stop_with(signal.SIGINT)
        if status is None:
            pytest.fail(f"the local stack did not stop within {STOP_TIMEOUT:g}s of SIGINT:\n{self.output}")
        return status

    def stop_with(self, *signals: signal.Signals, gap: float = 0.0) -> int | None:
        """Send ``signals``, ``gap`` seconds apart; the exit status, None if it is still running STOP_TIMEOUT later."""
        for n, signum in enumerate(signals):
            if n and gap:
                time.sleep(gap)
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        """Kill it if it still runs, and wait until its output is read."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT)
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def launch(
    ports: Ports,
    token: str,
    slack_url: str | None = None,
    webhook: tuple[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> Stack:
    """``python -m lab.local`` from the repository root on ``ports``, its output read as it comes; not waited for.

    ``env`` sets more of the functions' settings (CERTWATCH_CHECK_TIMEOUT, say).
    """
    extra = dict(env or {})
    if slack_url is not None:
        extra["CERTWATCH_SLACK_WEBHOOK_URL"] = slack_url
    if webhook is not None:
        extra["CERTWATCH_WEBHOOK_URL"], extra["CERTWATCH_WEBHOOK_SECRET"] = webhook
    process = start_local_stack(ports.api, ports.aws, ports.demo, token, SWEEP_SECONDS, extra)
    stack = Stack(process, ports, token)
    assert process.stdout is not None
    stdout = process.stdout

    def read() -> None:
        for line in stdout:
            stack.lines.append(line)

    stack._reader = threading.Thread(target=read, name="local-stack-stdout", daemon=True)
    stack._reader.start()
    return stack


@contextlib.contextmanager
def local_stack(
    ports: Ports,
    token: str,
    slack_url: str | None = None,
    webhook: tuple[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """``python -m lab.local`` from the repository root, ready as its user sees it: healthy, and its banner
    printed (the API answers a moment before the banner is written); killed in the end whatever happens."""
    stack = launch(ports, token, slack_url, webhook, env)
    try:
        stack.wait_until_healthy()
        stack.wait_for_output(RUNNING, STARTUP_TIMEOUT)
        yield stack
    finally:
        stack.close()
