"""What a command or a Lambda function loads before it does anything: only what it uses.

`certwatch check` and `inspect` never touch AWS, so they load no boto3, botocore, powertools or
adapter; importing app.py (every function's cold start) loads none of the checking engine, the
adapters or boto3: each handler imports those when it first runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CERTWATCH = Path(sys.executable).parent / "certwatch"
HEAVY = ("boto3", "botocore", "s3transfer", "aws_lambda_powertools", "chalicelib.adapters", "chalicelib.deps")


def imported(command: list[str], **env: str) -> set[str]:
    """The modules a command imports, read from ``python -X importtime``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.startswith(HEAVY))


@pytest.mark.parametrize("args", [["check", "--help"], ["inspect", "--help"], ["webhook", "add", "--help"], ["--help"]])
def test_the_cli_reads_its_command_line_without_aws_or_the_domain(args: list[str]) -> None:
    modules = imported([str(CERTWATCH), *args])
    assert heavy(modules) == []
    # Reading a command line loads argparse and the error root only: each command imports what it uses.
    assert sorted(m for m in modules if m.startswith(("chalicelib.domain", "chalicelib.checks", "cryptography"))) == []


def test_inspect_judges_a_file_without_aws(tmp_path: Path) -> None:
    from lab.certs import make_ca, make_cert

    root = make_ca("Startup Root")
    chain = tmp_path / "chain.pem"
    chain.write_bytes(make_cert("startup.test", issuer=root).pem)
    modules = imported([str(CERTWATCH), "inspect", "--name", "startup.test", str(chain)])
    assert "chalicelib.domain.analysis" in modules  # it did judge the chain
    assert heavy(modules) == []


def test_checking_one_target_loads_only_what_a_check_uses() -> None:
    """One target, nothing to fetch: no process pool, no HTTP client, none of the API's other documents."""
    modules = imported([str(CERTWATCH), "check", "--json", "--timeout", "1", "tls://127.0.0.1:9"])
    assert "chalicelib.checks.engine" in modules  # it did check
    assert "chalicelib.presentation.reports" in modules  # and rendered the report
    assert heavy(modules) == []
    unused = (
        "multiprocessing",
        "http.client",
        "chalicelib.presentation.shapes",
        "chalicelib.presentation.documents",
        "cyclonedx",
    )
    assert sorted(m for m in modules if m.startswith(unused)) == []
    assert sorted(m for m in modules if m in {"chalicelib.domain.inventory", "chalicelib.domain.targets"}) == []


def test_importing_app_loads_neither_engine_nor_adapters_nor_boto3() -> None:
    modules = imported(["-c", "import app"], AWS_DEFAULT_REGION="us-east-1")
    assert "chalice" in modules
    # Logging and metrics (powertools, which peeks at botocore's version) serve every handler; the
    # composition root builds everything else lazily.
    allowed = {"chalicelib.deps", "chalicelib.adapters", "chalicelib.adapters.telemetry", "botocore"}
    loaded = [m for m in heavy(modules) if m not in allowed and not m.startswith("aws_lambda_powertools")]
    assert loaded == []
    assert not any(m.startswith(("chalicelib.checks", "chalicelib.services", "cryptography")) for m in modules)
    assert not any(m.startswith("cyclonedx") for m in modules)  # only GET /cbom loads CycloneDX's library
