"""`certwatch check` asks the CA (under CERTWATCH_ALLOW_CIDRS); `certwatch inspect --crl-file` judges a CRL offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lab.authority import CaHttpServer, Revoked, make_crl, revocation_extensions
from lab.certs import Issued, make_cert
from lab.servers import TlsServer
from tests.support.pki import Pki

CERTWATCH = Path(sys.executable).parent / "certwatch"
NAME = "revoked.cli.test"
CA_HOST = "ca.cli.test"


@dataclass
class Served:
    ca: CaHttpServer
    server: TlsServer
    leaf: Issued
    root_file: Path
    crl_file: Path
    chain_file: Path


@pytest.fixture(scope="module")
def served(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("revocation")
    with CaHttpServer() as ca:
        leaf = make_cert(NAME, issuer=pki.intermediate, extensions=revocation_extensions(ca.url("/int.crl", CA_HOST)))
        crl = make_crl(pki.intermediate, [Revoked(leaf.cert.serial_number, datetime.now(UTC) - timedelta(days=1))])
        ca.routes["/int.crl"] = crl
        (folder / "root.pem").write_bytes(pki.root.pem)
        (folder / "int.crl").write_bytes(crl)
        (folder / "chain.pem").write_bytes(leaf.pem + pki.intermediate.pem)
        with TlsServer([leaf, pki.intermediate]) as server:
            yield Served(ca, server, leaf, folder / "root.pem", folder / "int.crl", folder / "chain.pem")


def certwatch(*args: str, allow: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTWATCH_")}
    if allow is not None:
        env["CERTWATCH_ALLOW_CIDRS"] = allow
    return subprocess.run([str(CERTWATCH), *args], capture_output=True, text=True, env=env, timeout=60, check=False)


def check(served: Served, *args: str, allow: str | None = None) -> subprocess.CompletedProcess[str]:
    return certwatch(
        "check",
        "--json",
        "--ca-file",
        str(served.root_file),
        "--resolve",
        f"{NAME}:127.0.0.1",
        "--resolve",
        f"{CA_HOST}:127.0.0.1",
        *args,
        f"tls://{NAME}:{served.server.port}",
        allow=allow,
    )


def findings(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    (document,) = [json.loads(line) for line in done.stdout.splitlines()]
    return {f["code"]: f["message"] for f in document["findings"]}


def test_check_finds_a_revoked_certificate_when_the_cas_network_is_allowed(served: Served) -> None:
    done = check(served, allow="127.0.0.0/8")
    assert done.returncode == 2, done.stderr
    assert "reason: keyCompromise" in findings(done)["REVOKED"]


def test_check_does_not_fetch_from_a_network_that_is_not_allowed(served: Served) -> None:
    before = served.ca.hits.count("/int.crl")
    done = check(served)
    assert done.returncode == 0, done.stderr
    assert "loopback" in findings(done)["REVOCATION_UNKNOWN"]
    assert served.ca.hits.count("/int.crl") == before


def test_check_no_revocation_asks_nobody(served: Served) -> None:
    before = served.ca.hits.count("/int.crl")
    done = check(served, "--no-revocation", allow="127.0.0.0/8")
    assert done.returncode == 0, done.stderr
    assert {"REVOKED", "REVOCATION_UNKNOWN"}.isdisjoint(findings(done))
    assert served.ca.hits.count("/int.crl") == before


def test_inspect_judges_a_crl_file_offline(served: Served) -> None:
    base = ["inspect", "--json", "--no-public-roots", "--ca-file", str(served.root_file), "--name", NAME]
    revoked = certwatch(*base, "--crl-file", str(served.crl_file), str(served.chain_file))
    assert revoked.returncode == 2, revoked.stderr
    assert "REVOKED" in {f["code"] for f in json.loads(revoked.stdout)["findings"]}
    plain = certwatch(*base, str(served.chain_file))
    assert plain.returncode == 0, plain.stderr
    broken = certwatch(*base, "--crl-file", str(served.chain_file), str(served.chain_file))
    assert broken.returncode == 3
    assert "not a CRL" in broken.stderr
    assert "Traceback" not in broken.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CERTWATCH_FETCH_TIMEOUT", "soon"), ("CERTWATCH_CRL_MAX_BYTES", "-1"), ("CERTWATCH_ARI_DIRECTORIES", "[1]")],
)
def test_a_bad_setting_is_one_line_naming_it(served: Served, variable: str, value: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTWATCH_")} | {variable: value}
    done = subprocess.run(
        [str(CERTWATCH), "check", f"tls://127.0.0.1:{served.server.port}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    assert variable in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
