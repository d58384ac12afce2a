"""Every documented setting, given a bad value, stops `make run`, a Lambda function's start and the CLI
before anything starts: one line naming it, what is wrong and an example of a good value; no traceback.

The settings walked are read from docs/configuration.md's tables, so a setting documented there
without a bad value here fails `test_every_documented_setting_has_a_bad_value`. The programs run
in one driver process (this module run as a script) that forks a child per case: each child is
the program as its command starts it, with moto's launcher and boto3 unimportable, so a bad value
that got past the check fails loudly instead of starting anything.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import runpy
import signal
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"


def start(argv: list[str], **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env={**_clean_env(), **settings}, capture_output=True, text=True, timeout=60
    )


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CERTWATCH_") and k != "PORT"}


# --- what docs/configuration.md documents ------------------------------------------------------


def documented() -> dict[str, set[str]]:
    """The settings each section of docs/configuration.md names: its tables' first column (every
    CERTWATCH_ name, and the local stack's PORT) and, for the operator's commands, its text."""
    found: dict[str, set[str]] = {}
    section = ""
    for line in CONFIGURATION.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            found[section] = set()
        elif line.startswith("|") and section:
            first = line.split("|")[1]
            names = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", first))
            found[section] |= {n for n in names if n.startswith("CERTWATCH_") or section.startswith("The local stack")}
        elif section.startswith("The operator's commands"):
            found[section] |= set(re.findall(r"`(CERTWATCH_[A-Z0-9_]+)`", line))
    return found


def _section(prefix: str) -> set[str]:
    (names,) = [names for section, names in documented().items() if section.startswith(prefix)]
    return names


FUNCTIONS = _section("The functions' settings")
OPERATOR = _section("The operator's commands")
LOCAL = _section("The local stack")
DEVELOPMENT = _section("Development")

# Documented settings that no certwatch program reads, and why.
NOT_READ_BY_CERTWATCH = {
    "CERTWATCH_CHROMIUM": "only the browser test reads it (tests/e2e/test_dashboard_browser.py)",
    "CERTWATCH_LIMBO": "only the conformance test reads it (tests/conformance/test_limbo.py)",
}
SECRET = {
    "CERTWATCH_SLACK_WEBHOOK_URL",
    "CERTWATCH_BOOTSTRAP_TOKEN",
    "CERTWATCH_WEBHOOK_URL",
    "CERTWATCH_WEBHOOK_SECRET",
}


@dataclass(frozen=True)
class Bad:
    value: str
    says: str  # what the line must say about it
    also: dict[str, str] = field(default_factory=dict)  # other settings the case needs
    clash: bool = False  # bad beside the local stack's other ports: only the stack judges it


BAD: dict[str, list[Bad]] = {
    # the functions'
    "CERTWATCH_STAGE": [Bad("my stage", "1-40 letters, digits")],
    "CERTWATCH_ALLOW_CIDRS": [Bad("10.0.0.0/8,10.0.0.0/33", "'10.0.0.0/33' is not a network")],
    "CERTWATCH_SWEEP_MINUTES": [Bad("15.5", "a whole number from 1 to 1440")],
    "CERTWATCH_CHECK_TIMEOUT": [Bad("abc", "seconds above 0, at most 60"), Bad("nan", "seconds above 0")],
    "CERTWATCH_CHECK_CONCURRENCY": [Bad("0", "from 1 to 256")],
    "CERTWATCH_CHECKER_BATCH": [Bad("99999999999", "from 1 to 10000")],
    "CERTWATCH_CHECKER_MAX_CONCURRENCY": [Bad("1", "from 2 to 1000")],
    "CERTWATCH_UNREACHABLE_AFTER": [Bad("-1", "from 1 to 100")],
    "CERTWATCH_REPEAT_CRITICAL_HOURS": [Bad("soon", "from 0 to 8760")],
    "CERTWATCH_PUBLIC_URL": [
        Bad("api.example.com", "it does not start with http:// or https://"),
        Bad("https://api.example.com/?page=1", "it has a query or fragment"),
        Bad("https://user:pw@api.example.com", "it carries a user name or password"),
    ],
    "CERTWATCH_ACM_REGIONS": [Bad("us-east-1,mars", "'mars' is not an AWS region")],
    "CERTWATCH_ACM_TEAM": [Bad("Platform", "lower-case letters")],
    "CERTWATCH_INVENTORY_HOURS": [Bad("0", "from 1 to 720")],
    "CERTWATCH_SILENCE_MAX_DAYS": [Bad("366", "from 1 to 365")],
    "CERTWATCH_SCAN_IAM": [Bad("no", "true or false")],
    "CERTWATCH_REVOCATION": [Bad("sometimes", "on or off")],
    "CERTWATCH_ARI": [Bad("2", "on or off")],
    "CERTWATCH_LEGACY_TLS_PROBE": [Bad("always", "on or off")],
    "CERTWATCH_TEAM_METRICS": [Bad("per-team", "on, expiry or off")],
    "CERTWATCH_ARI_DIRECTORIES": [
        Bad("{bad", "not a JSON object"),
        Bad("[1]", "expected a JSON object"),
        Bad('{"X=Example": "https://acme.example/directory"}', "'X=Example' is not O=<organization>"),
        Bad('{"O=Example": "ftp://acme.example/directory"}', "the directory of 'O=Example' is not an http(s) URL"),
        Bad('{"O=Example": "https://"}', "the directory of 'O=Example' is not an http(s) URL with a host"),
        Bad('{"O=Example": "https://acme.example:99999/"}', "not an http(s) URL with a host"),
    ],
    "CERTWATCH_FETCH_TIMEOUT": [Bad("soon", "seconds above 0, at most 60")],
    "CERTWATCH_CRL_MAX_BYTES": [Bad("-1", "from 1024 to 1073741824")],
    "CERTWATCH_CT_URL": [
        Bad("api.certspotter.com", "it does not start with http:// or https://; Cert Spotter's API"),
        Bad("https://api.certspotter.com/?key=1", "it has a query or fragment"),
    ],
    "CERTWATCH_CT_KEY_PARAMETER": [Bad("certspotter", "an SSM parameter name")],
    "CERTWATCH_CT_GRACE_HOURS": [Bad("0", "from 1 to 2160")],
    "CERTWATCH_DOMAIN_SWEEP_MINUTES": [Bad("hourly", "from 1 to 10080")],
    "CERTWATCH_RDAP_SERVERS": [
        Bad("{bad", "not JSON"),
        Bad('{"com": "ftp://rdap.example/"}', "'com' names no http(s) URL"),
    ],
    "CERTWATCH_SLACK_WEBHOOK_URL": [
        Bad("hooks.slack.com/services/T0/B0/secret", "starts with https://"),
        Bad("http://10.0.0.1/hook", "plain http:// is only for a receiver on this machine"),
    ],
    "CERTWATCH_TABLE": [Bad("my table", "a DynamoDB table name")],
    "CERTWATCH_CHECK_QUEUE": [Bad("my queue", "an SQS queue name")],
    "CERTWATCH_CHECK_QUEUE_URL": [Bad("certwatch-dev-checks", "an SQS queue URL")],
    "CERTWATCH_ALONE_QUEUE": [Bad("my queue", "an SQS queue name")],
    "CERTWATCH_ALONE_QUEUE_URL": [Bad("certwatch-dev-checks-alone", "an SQS queue URL")],
    "CERTWATCH_TOPIC": [Bad("my topic", "an SNS topic name")],
    "CERTWATCH_TOPIC_ARN": [Bad("certwatch-dev-alerts", "an SNS topic ARN")],
    "CERTWATCH_SLACK_PARAMETER": [Bad("slack-url", "an SSM parameter name")],
    "CERTWATCH_WEBHOOK_PATH": [Bad("webhooks", "an SSM parameter path")],
    # the local stack's
    "PORT": [
        Bad("abc", "a whole number from 1 to 65535"),
        Bad("99999", "a whole number from 1 to 65535"),
        Bad("5000", "the API and moto need ports of their own", clash=True),
        Bad("9442", "the demo endpoints take CERTWATCH_DEMO_PORT (9441)", clash=True),
    ],
    "CERTWATCH_LOCAL_AWS_PORT": [
        Bad("abc", "a whole number from 1 to 65535"),
        Bad("8000", "the API and moto need ports of their own (PORT is 8000 too)", clash=True),
    ],
    "CERTWATCH_SWEEP_SECONDS": [Bad("abc", "a number of seconds above 0"), Bad("0", "at most 86400")],
    "CERTWATCH_DEMO_PORT": [Bad("abc", "a whole number from 1 to 65533"), Bad("7999", "and PORT is 8000", clash=True)],
    "CERTWATCH_BOOTSTRAP_TOKEN": [Bad("mytoken", "a token looks like cw_")],
    "CERTWATCH_WEBHOOK_URL": [
        Bad("notaurl", "a webhook URL starts with https://"),
        Bad("ftp://127.0.0.1/x", "a webhook URL starts with https://"),
        Bad("http://10.0.0.1/hook", "refused 10.0.0.1: private"),
        Bad(
            "http://10.0.0.1/hook",
            "plain http is allowed only to a loopback address",
            {"CERTWATCH_ALLOW_CIDRS": "10.0.0.0/8"},
        ),
        Bad(
            "http://127.0.0.1:9000/hook",
            "refused 127.0.0.1: loopback; certwatch only connects to public addresses unless CERTWATCH_ALLOW_CIDRS "
            "allows it; https:// to a public address or one CERTWATCH_ALLOW_CIDRS allows; http:// to this machine "
            "only while CERTWATCH_ALLOW_CIDRS allows loopback",
            {"CERTWATCH_ALLOW_CIDRS": "fd00::/8"},
        ),
        Bad("https://user:pw@127.0.0.1/hook", "no user name or password"),
    ],
    "CERTWATCH_WEBHOOK_SECRET": [Bad("secret", "whsec_ followed by the base64")],
}

# How each program starts, what its line starts with, and its exit status for a bad setting.
PREFIX = {
    "local": "certwatch local stack: ",
    "function": "certwatch cannot start: ",
    "check": "certwatch: ",
    "admin": "certwatch: ",
}
STATUS = {"local": 2, "function": 2, "check": 3, "admin": 3}  # the CLI's 2 means critical: 3, as a wrong command line
CLI = {"check": ["check", "tls://127.0.0.1:1"], "admin": ["token", "list", "--local"]}


def _programs(name: str) -> list[str]:
    """What reads ``name``: the functions' settings are read by every program, the CLI's by the CLI."""
    programs = []
    if name in FUNCTIONS or name in LOCAL:
        programs.append("local")
    if name in FUNCTIONS:
        programs += ["function", "check"]
    if name in FUNCTIONS or name in OPERATOR:
        programs.append("admin")
    return programs


@dataclass(frozen=True)
class Case:
    program: str
    name: str
    bad: Bad

    @property
    def id(self) -> str:
        return f"{self.program}:{self.name}={self.bad.value}" + "".join(f"+{k}={v}" for k, v in self.bad.also.items())

    @property
    def env(self) -> dict[str, str]:
        return {**self.bad.also, self.name: self.bad.value}


CASES = [
    Case(program, name, bad)
    for name in sorted(FUNCTIONS | OPERATOR | LOCAL | DEVELOPMENT)
    for bad in BAD.get(name, [])
    for program in _programs(name)
    if program == "local" or not bad.clash
]


def test_every_documented_setting_has_a_bad_value() -> None:
    walked = FUNCTIONS | OPERATOR | LOCAL | DEVELOPMENT
    assert {"CERTWATCH_STAGE", "CERTWATCH_ARI_DIRECTORIES", "CERTWATCH_WEBHOOK_URL", "PORT"} <= walked  # it parsed
    assert walked - set(NOT_READ_BY_CERTWATCH) == set(BAD), "a documented setting needs a bad value here (or none)"
    assert OPERATOR <= FUNCTIONS | LOCAL  # documented in a table too, with what it allows


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict[str, object]]:
    """Every case's status, stdout and stderr, from one driver process (see the module's docstring)."""
    cases = [{"id": case.id, "program": case.program, "env": case.env} for case in CASES]
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.test_settings_at_start"],
        cwd=ROOT,
        env=_clean_env(),
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: dict[str, dict[str, object]] = json.loads(done.stdout)
    return results


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_bad_setting_is_one_line_naming_it_before_anything_starts(
    case: Case, outcomes: dict[str, dict[str, object]]
) -> None:
    outcome = outcomes[case.id]
    stderr = str(outcome["stderr"])

    assert outcome["status"] == STATUS[case.program], stderr
    assert outcome["stdout"] == "", stderr
    (line,) = stderr.splitlines()
    shown = f"<{len(case.bad.value)} characters, not shown>" if case.name in SECRET else repr(case.bad.value)
    assert line.startswith(f"{PREFIX[case.program]}{case.name}={shown} is not allowed: "), line
    assert case.bad.says in line
    assert len(re.findall(rf"\b{case.name}\b", line)) == 1, "the setting is named once"
    # The example is one the same program takes, in place of the bad value.
    example = re.search(r", for example (.+)$", line)
    assert example is not None, line
    _accepted({**case.env, case.name: example[1]})


def _accepted(env: dict[str, str]) -> None:
    from lab.local import LocalSettings  # the local stack reads the functions' settings too

    LocalSettings.from_env(env)


def _ports() -> dict[str, str]:
    """Ports of the test's own, so a stack that starts after all takes nobody's."""
    return {"PORT": str(free_port()), "CERTWATCH_LOCAL_AWS_PORT": str(free_port())}


def test_make_run_with_a_bad_webhook_url_exits_2_with_one_line_and_no_traceback() -> None:
    done = start(["-m", "lab.local"], **_ports(), CERTWATCH_WEBHOOK_URL="notaurl")

    assert (done.returncode, done.stdout) == (2, ""), done
    assert done.stderr == (
        "certwatch local stack: CERTWATCH_WEBHOOK_URL=<7 characters, not shown> is not allowed: a webhook URL starts "
        "with https:// (or http:// for a receiver on a loopback address); the local stack takes http:// or https:// "
        "to this machine (127.0.0.1, ::1, localhost), else https:// to a public address or one CERTWATCH_ALLOW_CIDRS "
        "allows, for example http://127.0.0.1:9000/hook\n"
    )


def test_make_run_with_bad_ari_directories_exits_2_before_it_starts() -> None:
    done = start(["-m", "lab.local"], **_ports(), CERTWATCH_ARI_DIRECTORIES="{bad")

    assert (done.returncode, done.stdout) == (2, ""), done
    assert done.stderr.startswith("certwatch local stack: CERTWATCH_ARI_DIRECTORIES='{bad' is not allowed: not a JSON")
    assert done.stderr.endswith(', for example {"O=Example CA": "https://acme.example.com/directory"}\n')


def test_a_function_with_a_bad_setting_logs_one_line_and_does_not_start() -> None:
    done = start(["-c", "import app"], CERTWATCH_CHECKER_MAX_CONCURRENCY="1")

    assert done.returncode == 2, done
    assert done.stderr == (
        "certwatch cannot start: CERTWATCH_CHECKER_MAX_CONCURRENCY='1' is not allowed: a whole number from 2 to 1000, "
        "for example 20\n"
    )


# --- the driver: `python -m tests.e2e.test_settings_at_start` < cases.json > outcomes.json ----------


def _drive() -> None:
    import app  # noqa: F401 - loaded once here, so each child's start costs only its own work
    import certwatch.admin
    import certwatch.checking  # noqa: F401
    import lab.local  # noqa: F401

    base = dict(os.environ)
    outcomes = {case["id"]: _fork(case["program"], {**base, **case["env"]}) for case in json.load(sys.stdin)}
    json.dump(outcomes, sys.stdout)


def _fork(program: str, env: dict[str, str]) -> dict[str, object]:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            os._exit(_child(program, env))
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return {
            "status": os.waitstatus_to_exitcode(status),
            "stdout": out.read().decode(),
            "stderr": err.read().decode(),
        }


def _child(program: str, env: dict[str, str]) -> int:
    """The program as its command starts it; the exit status Python would give it."""
    os.environ.clear()
    os.environ.update(env)
    signal.alarm(30)  # a case that got past its check and waits for something ends here
    for module in ("boto3", "lab.localaws"):
        sys.modules[module] = None  # type: ignore[assignment]  # nothing starts: importing them fails
    try:
        if program == "local":
            sys.argv = [str(ROOT / "lab" / "local.py")]
            sys.modules.pop("lab.local", None)  # as `python -m` finds it: its imports loaded, it not
            runpy.run_module("lab.local", run_name="__main__", alter_sys=True)
        elif program == "function":
            sys.modules.pop("app", None)
            importlib.import_module("app")
        else:
            from certwatch.cli import main

            return _flushed(main(CLI[program]))
        return _flushed(0)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return _flushed(exc.code or 0)
        print(exc.code, file=sys.stderr)
        return _flushed(1)
    except BaseException:
        traceback.print_exc()
        return _flushed(1)


def _flushed(status: int) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    return status


if __name__ == "__main__":
    _drive()
