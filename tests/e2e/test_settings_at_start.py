"""A bad setting stops `make run` and a Lambda function's start with one line naming it: no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start(argv: list[str], **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTWATCH_") and k != "PORT"}
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env={**env, **settings}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("settings", "named", "allowed"),
    [
        pytest.param(
            {"CERTWATCH_BOOTSTRAP_TOKEN": "mytoken"},
            "CERTWATCH_BOOTSTRAP_TOKEN=<7 characters, not shown>",
            "cw_",
            id="CERTWATCH_BOOTSTRAP_TOKEN=mytoken",
        ),
        pytest.param({"PORT": "abc"}, "PORT='abc'", "a whole number from 1 to 65535", id="PORT=abc"),
        pytest.param({"PORT": "99999"}, "PORT='99999'", "a whole number from 1 to 65535", id="PORT=99999"),
        pytest.param(
            {"CERTWATCH_LOCAL_AWS_PORT": "abc"},
            "CERTWATCH_LOCAL_AWS_PORT='abc'",
            "a whole number from 1 to 65535",
            id="CERTWATCH_LOCAL_AWS_PORT=abc",
        ),
        pytest.param(
            {"CERTWATCH_DEMO_PORT": "abc"},
            "CERTWATCH_DEMO_PORT='abc'",
            "a whole number from 1 to 65533",
            id="CERTWATCH_DEMO_PORT=abc",
        ),
        pytest.param(
            {"CERTWATCH_SWEEP_SECONDS": "abc"},
            "CERTWATCH_SWEEP_SECONDS='abc'",
            "a number of seconds above 0",
            id="CERTWATCH_SWEEP_SECONDS=abc",
        ),
        pytest.param(
            {"CERTWATCH_SWEEP_SECONDS": "0"},
            "CERTWATCH_SWEEP_SECONDS='0'",
            "a number of seconds above 0",
            id="CERTWATCH_SWEEP_SECONDS=0",
        ),
        pytest.param({"PORT": "5000"}, "PORT='5000'", "ports of their own", id="PORT=5000"),
        pytest.param(
            {"CERTWATCH_LOCAL_AWS_PORT": "8000"},
            "CERTWATCH_LOCAL_AWS_PORT='8000'",
            "ports of their own",
            id="CERTWATCH_LOCAL_AWS_PORT=8000",
        ),
        pytest.param(
            {"CERTWATCH_DEMO_PORT": "7999"}, "CERTWATCH_DEMO_PORT='7999'", "PORT is 8000", id="CERTWATCH_DEMO_PORT=7999"
        ),
        pytest.param(
            {"CERTWATCH_CHECK_TIMEOUT": "abc"},
            "CERTWATCH_CHECK_TIMEOUT='abc'",
            "seconds above 0, at most 60",
            id="CERTWATCH_CHECK_TIMEOUT=abc",
        ),
    ],
)
def test_make_run_with_a_bad_setting_says_which_in_one_line_and_exits_2(
    settings: dict[str, str], named: str, allowed: str
) -> None:
    done = start(["-m", "lab.local"], **settings)

    assert done.returncode == 2, done
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"certwatch local stack: {named} is not allowed: "), line
    assert allowed in line


def test_a_function_with_a_bad_setting_logs_one_line_and_does_not_start() -> None:
    done = start(["-c", "import app"], CERTWATCH_CHECKER_MAX_CONCURRENCY="1")

    assert done.returncode == 2, done
    assert done.stderr == (
        "certwatch cannot start: CERTWATCH_CHECKER_MAX_CONCURRENCY='1' is not allowed: a whole number from 2 to 1000\n"
    )
