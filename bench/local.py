"""Load benchmark of the local stack: a team imports its spreadsheet of domains into `make run`.

Starts ``python -m lab.local`` as a process, registers N targets through the HTTP API in bulk
requests (all at the stack's healthy demo endpoint, under distinct SNI names, so each is its own
target and each check finds a hostname mismatch worth an event), waits until every target has a
result, stops the stack and prints:

    registration      seconds from the first bulk request to the last answer
    all checked       seconds from the first bulk request until the last target had its result
    check delay       per target, from its registration to its first stored result (median, max)
    5xx answers       requests of this benchmark answered 5xx
    results missing   targets with no result when it stopped waiting
    tracebacks        in the stack's output and its log file
    errors logged     error lines there (certwatch's JSON logs, the stack's loops, moto), the first 5 printed
    events            emails printed (one per target: the hostname mismatch)
    moto              requests, and what serialising them cost (wait for the lock)

    make bench-local                                         # 1,000 targets, 10 requests of 100
    make bench-local BENCH_ARGS="--targets 300 --parallel 3"
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TRACEBACK = "Traceback (most recent call last)"
RECHECK_SECONDS = 30.0
# How long, once every target is checked, the events of the last checks may take to be printed.
EVENT_GRACE = 30.0
EVENT = "Subject: [certwatch]"
ERROR_LINES = 5  # the errors logged printed under their count
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, whatever the proxy


@dataclass
class Figures:
    """What one run measured."""

    targets: int
    outcomes: dict[str, int] = field(default_factory=dict)
    registration_seconds: float = 0.0
    request_seconds: list[float] = field(default_factory=list)
    all_checked_seconds: float | None = None
    check_delays: list[float] = field(default_factory=list)
    requests: int = 0
    five_xx: int = 0
    missing: int = 0
    tracebacks: int = 0
    errors: int = 0
    error_lines: list[str] = field(default_factory=list)  # the first few of them, as logged
    events: int = 0
    moto: str = ""
    units: tuple[float, float] | None = None  # DynamoDB's write and read units the stack spent, all told
    exit_status: int | None = None
    output: str = ""

    def report(self) -> str:
        delays = sorted(self.check_delays)
        fastest, slowest = min(self.request_seconds, default=0.0), max(self.request_seconds, default=0.0)
        lines = [
            f"targets:          {self.targets:,} ({', '.join(f'{k} {v:,}' for k, v in self.outcomes.items() if v)})",
            f"registration:     {self.registration_seconds:.1f} s (bulk requests {fastest:.1f}-{slowest:.1f} s each)",
            "all checked:      "
            + (
                "no (results missing)"
                if self.all_checked_seconds is None
                else f"{self.all_checked_seconds:.1f} s after the first bulk request"
            ),
            "check delay:      "
            + (
                f"median {statistics.median(delays):.1f} s, max {delays[-1]:.1f} s from registration to result"
                if delays
                else "-"
            ),
            f"5xx answers:      {self.five_xx} of {self.requests:,} requests",
            f"results missing:  {self.missing}",
            f"tracebacks:       {self.tracebacks}",
            f"errors logged:    {self.errors}",
            *(f"  {line[:300]}" for line in self.error_lines),
            f"events printed:   {self.events:,}",
            f"moto:             {self.moto or '-'}",
            "DynamoDB units:   "
            + (
                "-"
                if self.units is None
                else f"{self.units[0] / self.targets:.2f} write, {self.units[1] / self.targets:.2f} read per target "
                "(its registration, first check and events: bench/units.py)"
            ),
        ]
        return "\n".join(lines)


def start_local_stack(
    api: int, aws: int, demo: int, token: str, sweep_seconds: float, extra: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``python -m lab.local`` from the repository root on these ports, its output on one text pipe.

    No Slack webhook or generic webhook from this environment reaches it; ``extra`` sets what the
    caller wants (``CERTWATCH_SLACK_WEBHOOK_URL`` pointing at a test receiver, say).
    """
    env = {
        **os.environ,
        "PORT": str(api),
        "CERTWATCH_LOCAL_AWS_PORT": str(aws),
        "CERTWATCH_DEMO_PORT": str(demo),
        "CERTWATCH_SWEEP_SECONDS": f"{sweep_seconds:g}",
        "CERTWATCH_BOOTSTRAP_TOKEN": token,
        "PYTHONUNBUFFERED": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    for name in ("CERTWATCH_SLACK_WEBHOOK_URL", "CERTWATCH_WEBHOOK_URL", "CERTWATCH_WEBHOOK_SECRET"):
        env.pop(name, None)
    env.update(extra or {})
    return subprocess.Popen(
        [sys.executable, "-m", "lab.local"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )


class LocalStackProcess:
    """``python -m lab.local`` on free ports, its output kept; stopped with Ctrl-C (SIGINT)."""

    def __init__(self, token: str, sweep_seconds: float, extra: dict[str, str] | None = None) -> None:
        self.api_port, aws_port, demo_port = free_ports()
        self.demo_healthy = demo_port + 1  # the second demo endpoint is the healthy one
        self.token = token
        self.process = start_local_stack(self.api_port, aws_port, demo_port, token, sweep_seconds, extra)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, name="local-stack-output", daemon=True)
        self._reader.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def log_file(self) -> Path | None:
        """The log file the banner names."""
        found = re.search(r"^  log +(\S+)", self.output, re.MULTILINE)
        return Path(found[1]) if found else None

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def checks_printed(self) -> int:
        """How many checks the checker says it has done (its "[checker] checked N target(s)" lines; a batch's
        straggler is counted when it is handed to checker_alone, whose result the listing then waits for)."""
        return sum(int(n) for n in re.findall(r"^\[checker\] checked (\d+) target", self.output, re.MULTILINE))

    def events_printed(self) -> int:
        """How many events the stack has printed as the email subscribers would read them."""
        return self.output.count(EVENT)

    def wait_for_events(self, count: int, deadline: float) -> None:
        """Until the stack has printed ``count`` events, has exited, or ``deadline`` (monotonic): an event is
        delivered a moment after its check is recorded."""
        self._wait(lambda: self.events_printed() >= count, deadline, 0.5)

    def wait_for_checks(self, count: int, deadline: float) -> None:
        """Until the checker has printed ``count`` checks, the stack has exited, or ``deadline`` (monotonic)."""
        self._wait(lambda: self.checks_printed() >= count, deadline, 1.0)

    def _wait(self, done: Callable[[], bool], deadline: float, every: float) -> None:
        while not done() and self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(every)

    def wait_until_running(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while "local stack is running" not in self.output:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local stack did not start:\n{self.output}")
            time.sleep(0.2)

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


class Client:
    """The API over HTTP with one token; counts requests and 5xx answers."""

    def __init__(self, url: str, token: str) -> None:
        self._url = url
        self._token = token
        self._lock = threading.Lock()
        self.requests = 0
        self.five_xx = 0

    def call(self, method: str, path: str, body: object = None, timeout: float = 120.0) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self._token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self._url + path, data=data, headers=headers, method=method)
        try:
            with _OPENER.open(request, timeout=timeout) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            with error:
                status, raw = error.code, error.read()
        with self._lock:
            self.requests += 1
            self.five_xx += status >= 500
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw.decode(errors="replace")

    def all_targets(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = ""
        while True:
            status, page = self.call("GET", "/targets?limit=500" + (f"&cursor={cursor}" if cursor else ""))
            if status != 200:
                raise RuntimeError(f"GET /targets answered {status}: {page}")
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items


def run(
    stack: LocalStackProcess,
    *,
    targets: int,
    rows_per_request: int = 100,
    parallel: int = 10,
    wait_seconds: float = 600.0,
) -> Figures:
    """Register ``targets`` in bulk requests, ``parallel`` at once, and wait until each has a result."""
    client = Client(stack.url, stack.token)
    figures = Figures(targets)
    rows = [{"target": f"tls://127.0.0.1:{stack.demo_healthy}", "sni": f"t{i:05d}.bench.test"} for i in range(targets)]
    chunks = [rows[start : start + rows_per_request] for start in range(0, len(rows), rows_per_request)]
    answers: list[dict[str, Any]] = []
    started, begun = time.monotonic(), datetime.now(UTC)

    def send(chunk: list[dict[str, str]]) -> None:
        asked = time.monotonic()
        status, body = client.call("POST", "/targets/bulk", chunk)
        figures.request_seconds.append(time.monotonic() - asked)
        if status == 200:
            answers.append(body)
        else:
            print(f"POST /targets/bulk answered {status}: {str(body)[:300]}", file=sys.stderr)

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        list(pool.map(send, chunks))
    figures.registration_seconds = time.monotonic() - started
    for answer in answers:
        for result in answer["results"]:
            figures.outcomes[result["outcome"]] = figures.outcomes.get(result["outcome"], 0) + 1

    deadline = started + wait_seconds
    listed: list[dict[str, Any]] = []
    while True:
        # Listing a thousand targets costs the stack's moto seconds, which would slow what is being
        # measured: look once the checker says it has checked that many, and then only now and then.
        stack.wait_for_checks(targets, deadline)
        listed = client.all_targets()
        if sum(item["latest"] is not None for item in listed) >= targets or time.monotonic() >= deadline:
            break
        time.sleep(min(RECHECK_SECONDS, max(0.0, deadline - time.monotonic())))
    checked = [(_when(item["created_at"]), _when(item["latest"]["checked_at"])) for item in listed if item["latest"]]
    stack.wait_for_events(targets, min(deadline, time.monotonic() + EVENT_GRACE))  # one each: a hostname mismatch
    figures.missing = targets - len(checked)
    figures.check_delays = [(done - created).total_seconds() for created, done in checked]
    if not figures.missing:
        figures.all_checked_seconds = (max(done for _, done in checked) - begun).total_seconds()
    figures.requests, figures.five_xx = client.requests, client.five_xx
    return figures


def finish(stack: LocalStackProcess, figures: Figures) -> Figures:
    """Stop the stack, then count what its output and log file hold."""
    figures.exit_status = stack.stop()
    log_file = stack.log_file
    log = log_file.read_text(errors="replace") if log_file is not None and log_file.exists() else ""
    figures.output = stack.output
    figures.tracebacks = stack.output.count(TRACEBACK) + log.count(TRACEBACK)
    # Errors logged: certwatch's JSON lines, the stack's loops, and the log file's (moto's) lines.
    errors = [
        *(m[0] for m in re.finditer(r'^.*(?:"level": ?"ERROR"|^\[\w+\] error:).*$', stack.output, re.MULTILINE)),
        *(m[0] for m in re.finditer(r"^\S+ \S+ \d+ ERROR .*$", log, re.MULTILINE)),
    ]
    figures.errors, figures.error_lines = len(errors), errors[:ERROR_LINES]
    figures.events = stack.events_printed()
    found = re.search(r"moto served .*", log)
    figures.moto = found[0] if found else ""
    spent = re.search(r"^dynamodb units: ([\d.]+) write, ([\d.]+) read", stack.output, re.MULTILINE)
    figures.units = (float(spent[1]), float(spent[2])) if spent else None
    return figures


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def free_ports() -> tuple[int, int, int]:
    """Free ports for the API and moto, and the first of three free ports in a row for the demo endpoints.

    Below the kernel's ephemeral range where it says one (Linux): a port from that range may be taken, between
    this choice and the stack's start or after the stack stopped, by any process's outgoing connection (a test
    beside this one, say) as its own end.
    """
    low = _ephemeral_low()

    def bindable(port: int) -> bool:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
        return True

    def free(row: int = 1) -> int:
        for _ in range(1000):
            first = random.randrange(PORTS_FROM, low - row) if low - row > PORTS_FROM else _any_port()
            if first + row <= 65536 and all(bindable(port) for port in range(first, first + row)):
                return first
        raise RuntimeError("no free ports for the local stack")

    api = free()
    aws = free()
    while aws == api:
        aws = free()
    while True:
        demo = free(3)
        if not {demo, demo + 1, demo + 2} & {api, aws}:
            return api, aws, demo


PORTS_FROM = 10_000  # the lowest port a benchmark's stack is given (above the well-known and registered-busy ones)


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux's /proc; 65536 where none is said: any port will do)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 65536


def _any_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=100, help="rows per bulk request (at most 1,000)")
    parser.add_argument("--parallel", type=int, default=10, help="bulk requests sent at once")
    parser.add_argument("--sweep-seconds", type=float, default=60.0, help="the stack's CERTWATCH_SWEEP_SECONDS")
    parser.add_argument("--wait", type=float, default=600.0, help="seconds to wait for every result")
    args = parser.parse_args(argv)

    from chalicelib.domain.tokens import issue

    token = issue("local", admin=True, now=datetime.now().astimezone())[0]
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    stack = LocalStackProcess(token, args.sweep_seconds, {"CERTWATCH_LOCAL_UNITS": "1"})
    try:
        stack.wait_until_running(120.0)
        figures = run(
            stack, targets=args.targets, rows_per_request=args.rows, parallel=args.parallel, wait_seconds=args.wait
        )
    finally:
        status = stack.stop()
    figures = finish(stack, figures)
    load = os.getloadavg()
    print(figures.report())
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; the stack exited with {status}")
    return 1 if figures.five_xx or figures.missing or figures.tracebacks or figures.errors or status else 0


if __name__ == "__main__":
    sys.exit(main())
