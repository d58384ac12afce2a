"""`certwatch check` names each address's key exchange group and its class (``--json``, ``--posture``), judges it
by ``--require-post-quantum`` / ``--note-classical``, and asks legacy versions with ``--legacy-tls`` or
CERTWATCH_LEGACY_TLS_PROBE, against real loopback servers of each TLS stack."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from OpenSSL import SSL

from lab.certs import make_cert
from lab.servers import BundledTlsServer, SServer
from tests.support.pki import Pki

CERTWATCH = Path(sys.executable).parent / "certwatch"
HYBRID, CLASSICAL, LEGACY = "hybrid.posture.test", "classical.posture.test", "legacy.posture.test"


@dataclass
class Zoo:
    root_file: Path
    ports: dict[str, int]

    def target(self, name: str) -> str:
        return f"tls://{name}:{self.ports[name]}"


@pytest.fixture(scope="module")
def zoo(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zoo]:
    assert shutil.which("openssl"), "the s_server tests need Debian's openssl: apt-get install -y openssl"
    folder = tmp_path_factory.mktemp("posture")
    (folder / "root.pem").write_bytes(pki.root.pem)

    def chain(name: str) -> list[Any]:
        return [make_cert(name, sans=[name], issuer=pki.intermediate), pki.intermediate]

    with contextlib.ExitStack() as stack:
        hybrid = stack.enter_context(BundledTlsServer(chain(HYBRID), versions=(SSL.TLS1_2_VERSION, 0)))
        classical = stack.enter_context(SServer(chain(CLASSICAL)))
        legacy = stack.enter_context(BundledTlsServer(chain(LEGACY), versions=(SSL.TLS1_VERSION, 0)))
        yield Zoo(folder / "root.pem", {HYBRID: hybrid.port, CLASSICAL: classical.port, LEGACY: legacy.port})


def certwatch(zoo: Zoo, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CERTWATCH_")} | (env or {})
    pins = [option for name in zoo.ports for option in ("--resolve", f"{name}:127.0.0.1")]
    return subprocess.run(
        [str(CERTWATCH), "check", "--ca-file", str(zoo.root_file), "--workers", "1", *pins, *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
        check=False,
    )


def documents(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    assert done.stderr == ""
    found = [json.loads(line) for line in done.stdout.splitlines()]
    return {document["host"]: document for document in found}


def address(document: dict[str, Any]) -> dict[str, Any]:
    (result,) = document["results"]
    assert isinstance(result, dict)
    return result


def test_json_names_the_group_and_its_class(zoo: Zoo) -> None:
    done = certwatch(zoo, "--json", zoo.target(HYBRID), zoo.target(CLASSICAL))

    found = documents(done)
    hybrid, classical = address(found[HYBRID]), address(found[CLASSICAL])
    assert (hybrid["group"], hybrid["key_exchange"]) == ("X25519MLKEM768", "hybrid post-quantum")
    assert (classical["group"], classical["key_exchange"]) == ("x25519", "classical")
    assert (hybrid["legacy_tls"], classical["legacy_tls"]) == (None, None)
    assert [found[HYBRID]["findings"], found[CLASSICAL]["findings"]] == [[], []]
    assert done.returncode == 0


def test_a_classical_key_exchange_is_info_when_noted_and_a_warning_when_post_quantum_is_required(zoo: Zoo) -> None:
    noted = certwatch(zoo, "--json", "--note-classical", zoo.target(HYBRID), zoo.target(CLASSICAL))
    required = certwatch(zoo, "--json", "--require-post-quantum", zoo.target(HYBRID), zoo.target(CLASSICAL))

    by_note, by_requirement = documents(noted), documents(required)
    assert [(f["code"], f["severity"]) for f in by_note[CLASSICAL]["findings"]] == [
        ("NO_POST_QUANTUM_KEY_EXCHANGE", "info")
    ]
    assert (by_note[CLASSICAL]["status"], noted.returncode) == ("ok", 0)
    assert [(f["code"], f["severity"]) for f in by_requirement[CLASSICAL]["findings"]] == [
        ("NO_POST_QUANTUM_KEY_EXCHANGE", "warning")
    ]
    assert (by_requirement[CLASSICAL]["status"], required.returncode) == ("warning", 1)
    assert by_requirement[HYBRID]["findings"] == []


def test_legacy_tls_is_asked_by_the_flag_or_the_setting_and_never_otherwise(zoo: Zoo) -> None:
    flagged = documents(certwatch(zoo, "--json", "--legacy-tls", zoo.target(LEGACY), zoo.target(HYBRID)))
    by_setting = documents(certwatch(zoo, "--json", zoo.target(LEGACY), env={"CERTWATCH_LEGACY_TLS_PROBE": "on"}))
    turned_off = documents(
        certwatch(zoo, "--json", "--no-legacy-tls", zoo.target(LEGACY), env={"CERTWATCH_LEGACY_TLS_PROBE": "on"})
    )
    unasked = documents(certwatch(zoo, "--json", zoo.target(LEGACY)))

    assert address(flagged[LEGACY])["legacy_tls"] == ["TLSv1", "TLSv1.1"]
    assert [f["code"] for f in flagged[LEGACY]["findings"]] == ["LEGACY_TLS_ACCEPTED"]
    assert flagged[LEGACY]["status"] == "warning"
    assert address(flagged[HYBRID])["legacy_tls"] == []
    assert address(by_setting[LEGACY])["legacy_tls"] == ["TLSv1", "TLSv1.1"]
    for quiet in (turned_off, unasked):
        assert address(quiet[LEGACY])["legacy_tls"] is None
        assert quiet[LEGACY]["findings"] == []


def test_the_posture_table_has_a_row_per_address_with_its_handshake(zoo: Zoo) -> None:
    done = certwatch(zoo, "--posture", "--legacy-tls", zoo.target(HYBRID), zoo.target(CLASSICAL), zoo.target(LEGACY))

    assert done.stderr == ""
    lines = done.stdout.splitlines()
    header = lines[0]
    assert [column.strip() for column in header.split("  ") if column.strip()] == [
        "HOST",
        "PORT",
        "ADDRESS",
        "TLS",
        "CIPHER",
        "GROUP",
        "KEY EXCHANGE",
        "LEGACY TLS",
        "STATUS",
    ]
    rows = {line.split()[0]: line for line in lines[1:4]}
    start = header.index("GROUP")
    assert rows[HYBRID][start:].split("  ")[0] == "X25519MLKEM768"
    assert "hybrid post-quantum" in rows[HYBRID]
    assert rows[HYBRID].split()[-2:] == ["refused", "ok"]
    assert rows[CLASSICAL][start:].split()[:2] == ["x25519", "classical"]
    assert rows[LEGACY].split()[-2:] == ["TLSv1,TLSv1.1", "warning"]
    assert any("LEGACY_TLS_ACCEPTED: the server still completes a handshake" in line for line in lines)
    assert done.returncode == 1
