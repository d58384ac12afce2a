"""The local stack (`make run`) stops whenever its signals come, and lets every port go.

SIGTERM twice at once (what `timeout make run`, `docker stop` and make's own forwarding send) and
Ctrl-C twice must stop it during start-up or later, with every port let go; killed outright, its
moto must notice and let its port go too. (Apart from test_local_stack.py, whose other minutes
then run on another worker.)
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime

import pytest

from chalicelib.domain.tokens import issue
from tests.support.localstack import RUNNING, STARTUP_TIMEOUT, STOP_TIMEOUT, Stack, free_ports, held, launch

pytestmark = pytest.mark.slow

STARTING = "starting certwatch local stack"
# Seconds after "starting ..." for the stops during start-up: spread over moto's start, the data
# stack's deploy, the demo endpoints and the API's start.
START_UP_DELAYS = [0.1 * n for n in range(13)]
# Seconds after the banner: while the loops make their first sweep and scan, and once they idle.
RUNNING_DELAYS = [0.0, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0]
# Between the two signals: make forwards at once; a second Ctrl-C or `docker stop` comes later.
GAPS = [0.0, 0.001, 0.02, 0.1, 0.3]


@pytest.fixture
def token() -> str:
    return issue("local", admin=True, now=datetime.now(UTC))[0]


def _stopped(stack: Stack, after: str, delay: float, *signals: signal.Signals, gap: float = 0.0) -> str | None:
    """Send ``signals`` ``delay`` s after ``after`` is printed; what went wrong with the stop, None if nothing."""
    try:
        stack.wait_for_output(after, timeout=STARTUP_TIMEOUT)
        time.sleep(delay)
        status = stack.stop_with(*signals, gap=gap)
    finally:
        stack.close()
    still_held = held(stack.ports)
    if status is None:
        problem = f"still running {STOP_TIMEOUT:g} s after {len(signals)} signal(s)"
    elif status != 0:
        problem = f"exit status {status}"
    elif "Traceback" in stack.output or "] error:" in stack.output:
        problem = "a traceback or a loop's error"
    elif still_held:
        problem = f"ports {still_held} still held after it exited"
    elif stack.lines[-1:] != [
        "certwatch local stack stopped" + ("" if RUNNING in stack.output else " during start-up") + "\n"
    ]:
        problem = "not the closing line that says it stopped"
    else:
        return None
    return f"{len(signals)} signal(s) {gap:g} s apart, {delay:.2f} s after {after!r}: {problem}\n{stack.output}"


def test_sigterm_twice_at_once_stops_the_stack_during_start_up_or_later_and_frees_its_ports(token: str) -> None:
    moments = [(STARTING, delay) for delay in START_UP_DELAYS] + [(RUNNING, delay) for delay in RUNNING_DELAYS]
    problems = []
    for n, (after, delay) in enumerate(moments):
        stack = launch(free_ports(), token)
        gap = GAPS[n % len(GAPS)]
        problem = _stopped(stack, after, delay, signal.SIGTERM, signal.SIGTERM, gap=gap)
        if problem is not None:
            problems.append(problem)

    assert len(moments) >= 20
    assert problems == [], "\n\n".join(problems)


@pytest.mark.parametrize("after", [STARTING, RUNNING])
def test_ctrl_c_twice_stops_the_stack_before_or_after_the_banner(token: str, after: str) -> None:
    stack = launch(free_ports(), token)
    problem = _stopped(stack, after, 0.0, signal.SIGINT, signal.SIGINT, gap=0.05)

    assert problem is None, problem
    if after == STARTING:  # moto, the data stack and the API were still to come
        assert "stopping certwatch local stack during start-up ..." in stack.output
        assert "is running" not in stack.output
    else:
        assert "\nstopping certwatch local stack ...\n" in stack.output


def test_moto_lets_its_port_go_when_the_stack_is_killed(token: str) -> None:
    stack = launch(free_ports(), token)
    try:
        stack.wait_for_output(RUNNING, timeout=STARTUP_TIMEOUT)
        stack.process.kill()  # no handler runs: moto's process must notice its parent is gone
    finally:
        stack.close()
    deadline = time.monotonic() + STOP_TIMEOUT
    while stack.ports.aws in held(stack.ports) and time.monotonic() < deadline:
        time.sleep(0.1)

    assert held(stack.ports) == []
