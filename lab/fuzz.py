"""`make fuzz`: schemathesis against the local stack's /openapi.json, as an admin, every check.

Starts the local stack (`python -m lab.local`, what `make run` runs) on free ports with an admin
token of its own, waits until it answers, runs schemathesis with that token (every check, 100
examples per operation unless FUZZ_ARGS says otherwise; lab/fuzz.toml says which answers JSON
Schema cannot predict) and stops the stack. The stack's output and schemathesis's reports go to
build/fuzz/. Exit status: schemathesis's (0: nothing found).

Not part of `make test`: a run takes minutes. The stack resolves the names schemathesis makes up
with the system resolver and refuses every address outside CERTWATCH_ALLOW_CIDRS, as `make run`
does; a made-up public address may be connected to by a check.

    make fuzz
    make fuzz FUZZ_ARGS="--max-examples 20 --include-path /targets"
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "fuzz"
CONFIG = Path(__file__).with_name("fuzz.toml")
START_TIMEOUT = 180.0  # seconds; a cold start of moto and the stack takes ~10 s
SCHEMATHESIS = [
    "--checks",
    "all",
    "--max-examples",
    "100",
    "--workers",
    "1",
    "--request-timeout",
    "60",
    "--report",
    "junit",
    "--report-dir",
    str(OUT),
]


def main(argv: list[str]) -> int:
    from chalicelib.domain.tokens import issue

    token, _ = issue("local", admin=True, now=datetime.now(UTC), name="fuzz")
    api_port, aws_port = _free_port(), _free_port()
    OUT.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "PORT": str(api_port),
        "CERTWATCH_LOCAL_AWS_PORT": str(aws_port),
        "CERTWATCH_BOOTSTRAP_TOKEN": token,
    }
    url = f"http://127.0.0.1:{api_port}"
    with (OUT / "local-stack.log").open("w") as log:
        stack = subprocess.Popen(
            [sys.executable, "-m", "lab.local"], cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            if not _wait_until_up(url, stack):
                print(f"the local stack did not start: see {OUT / 'local-stack.log'}", file=sys.stderr)
                return 2
            command = [
                _schemathesis(),
                "--config-file",
                str(CONFIG),
                "run",
                f"{url}/openapi.json",
                *SCHEMATHESIS,
                *argv,
            ]
            print(f"fuzzing {url} (local stack log: {OUT / 'local-stack.log'})", flush=True)
            return subprocess.run([*command, "--header", f"Authorization: Bearer {token}"], cwd=ROOT).returncode
        finally:
            stack.send_signal(signal.SIGINT)
            try:
                stack.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stack.kill()
                stack.wait()


def _schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("schemathesis is not installed: run make venv (requirements-dev.txt pins it)")
    return found


def _wait_until_up(url: str, stack: subprocess.Popen[bytes]) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and stack.poll() is None:
        try:
            with opener.open(f"{url}/health", timeout=5) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
