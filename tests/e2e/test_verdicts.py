"""Verdicts a TLS client would give, through ``certwatch check --json`` and ``certwatch inspect``.

Each exhibit is a real TLS server on 127.0.0.1 serving a chain minted here under a private PKI
(trusted with ``--ca-file``); all of them are checked in one run, as a user runs certwatch, so
the hostile one in the middle also shows that it costs no other target its report.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from lab.certs import Issued, make_ca, make_cert
from lab.servers import TlsServer

CERTWATCH = Path(sys.executable).parent / "certwatch"
DOMAIN = "verdicts.test"
DAY = timedelta(days=1)
UNKNOWN_CRITICAL = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55738.666.1"), b"\x05\x00")


def name(case: str) -> str:
    return f"{case}.{DOMAIN}"


@dataclass(frozen=True)
class Exhibits:
    """The servers and chains by case, and the PEM files of the private roots a user passes as --ca-file."""

    servers: dict[str, TlsServer]
    chains: dict[str, list[Issued]]
    ca_files: list[Path]

    def ca_args(self) -> list[str]:
        return [arg for path in self.ca_files for arg in ("--ca-file", str(path))]

    def args(self) -> list[str]:
        return self.ca_args() + [f"--resolve={name(case)}:127.0.0.1" for case in self.servers]

    def target(self, case: str) -> str:
        return f"tls://{name(case)}:{self.servers[case].port}"


def _chains(now: datetime) -> tuple[dict[str, list[Issued]], dict[str, Issued]]:
    root = make_ca("Verdicts Root", now=now)
    inter = make_ca("Verdicts Intermediate", issuer=root, now=now)
    expired_root = make_ca("Expired Internal Root", not_before=now - 3000 * DAY, not_after=now - DAY)
    expired_root_inter = make_ca(
        "Intermediate of the Expired Root", issuer=expired_root, not_before=now - 400 * DAY, not_after=now + 400 * DAY
    )
    ending_root = make_ca("Internal Root Ending Soon", not_before=now - 3000 * DAY, not_after=now + 10 * DAY)
    ending_root_inter = make_ca(
        "Intermediate of the Root Ending Soon",
        issuer=ending_root,
        not_before=now - 400 * DAY,
        not_after=now + 400 * DAY,
    )
    constrained = make_ca(
        "Constrained Intermediate",
        issuer=root,
        now=now,
        extensions=[
            (x509.NameConstraints(permitted_subtrees=[x509.DNSName("corp.example")], excluded_subtrees=None), True)
        ],
    )
    no_deeper = make_ca("Intermediate pathLen 0", issuer=root, now=now, path_length=0)
    too_deep = make_ca("Intermediate Below pathLen 0", issuer=no_deeper, now=now)
    # The shape of old Let's Encrypt chains: the server also sends its root cross-signed by an
    # older root, and that cross-sign has expired; the path to the trusted root does not use it.
    old_root = make_ca("Old Cross-signing Root", now=now)
    modern_root = make_ca("Modern Root", now=now)
    modern_inter = make_ca("Modern Intermediate", issuer=modern_root, now=now)
    expired_cross = make_ca(
        "Modern Root", issuer=old_root, key=modern_root.key, not_before=now - 900 * DAY, not_after=now - 30 * DAY
    )
    # A cross-sign of the intermediate from a root nobody trusts, sent before the one that works.
    stranger = make_ca("Untrusted Cross-signing Root", now=now)
    inter_by_stranger = make_ca("Verdicts Intermediate", issuer=stranger, key=inter.key, now=now)
    duplicated = make_ca("Duplicated Intermediate", issuer=root, now=now, sans=["ca.example"], duplicate_san=True)

    def leaf(case: str, issuer: Issued = inter, **kwargs: Any) -> Issued:
        return make_cert(name(case), issuer=issuer, now=now, **kwargs)

    chains = {
        "healthy": [leaf("healthy"), inter],
        "expired-root": [leaf("expired-root", expired_root_inter, not_before=now - 30 * DAY), expired_root_inter],
        "root-ending": [leaf("root-ending", ending_root_inter), ending_root_inter],
        "client-auth-only": [
            leaf("client-auth-only", extensions=[(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)]),
            inter,
        ],
        "name-constraints": [leaf("name-constraints", constrained), constrained],
        "path-length": [leaf("path-length", too_deep), too_deep, no_deeper],
        "unknown-critical": [leaf("unknown-critical", extensions=[(UNKNOWN_CRITICAL, True)]), inter],
        "ca-as-leaf": [make_cert(name("ca-as-leaf"), issuer=inter, now=now, ca=True, sans=[name("ca-as-leaf")]), inter],
        "duplicated-extension": [leaf("duplicated-extension", duplicated), duplicated],
        "unused-expired-cross-sign": [leaf("unused-expired-cross-sign", modern_inter), modern_inter, expired_cross],
        "cross-sign-first": [leaf("cross-sign-first"), inter_by_stranger, inter],
        "healthy-after": [leaf("healthy-after"), inter],
    }
    roots = {"root": root, "expired": expired_root, "ending": ending_root, "modern": modern_root}
    return chains, roots


@pytest.fixture(scope="module")
def exhibits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exhibits]:
    chains, roots = _chains(datetime.now(UTC))
    folder = tmp_path_factory.mktemp("roots")
    files = []
    for label, root in roots.items():
        files.append(folder / f"{label}.pem")
        files[-1].write_bytes(root.pem)
    with contextlib.ExitStack() as stack:
        servers = {case: stack.enter_context(TlsServer(chain)) for case, chain in chains.items()}
        yield Exhibits(servers, chains, files)


@pytest.fixture(scope="module")
def run(exhibits: Exhibits) -> tuple[int, dict[str, dict[str, Any]]]:
    """One ``certwatch check --json`` over every exhibit: its exit status and each target's document."""
    done = subprocess.run(
        [
            str(CERTWATCH),
            "check",
            "--json",
            "--timeout",
            "5",
            *exhibits.args(),
            *map(exhibits.target, exhibits.servers),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stderr == ""
    documents = [json.loads(line) for line in done.stdout.splitlines()]
    assert [d["host"] for d in documents] == [name(case) for case in exhibits.servers]  # every one, in order
    return done.returncode, {d["host"].split(".")[0]: d for d in documents}


def findings(document: dict[str, Any]) -> dict[str, str]:
    return {f["code"]: f["severity"] for f in document["findings"]}


def message(document: dict[str, Any], code: str) -> str:
    return str(next(f["message"] for f in document["findings"] if f["code"] == code))


EXPECTED = {
    "healthy": {},
    "expired-root": {"CHAIN_EXPIRING": "critical"},
    "root-ending": {"CHAIN_EXPIRING": "warning"},
    "client-auth-only": {"NOT_FOR_SERVER_AUTH": "critical"},
    "name-constraints": {"NAME_CONSTRAINTS_VIOLATED": "critical"},
    "path-length": {"PATH_LENGTH_EXCEEDED": "critical"},
    "unknown-critical": {"UNKNOWN_CRITICAL_EXTENSION": "critical"},
    "ca-as-leaf": {"CA_CERTIFICATE_AS_LEAF": "critical"},
    "duplicated-extension": {"CERTIFICATE_UNPARSEABLE": "warning", "INVALID_INTERMEDIATE": "critical"},
    "unused-expired-cross-sign": {"CHAIN_EXPIRING": "warning"},
    "cross-sign-first": {"PATH_BUILDING_REQUIRED": "warning"},
    "healthy-after": {},
}


@pytest.mark.parametrize("case", list(EXPECTED))
def test_each_chain_gets_the_verdict_a_tls_client_gives(run: tuple[int, dict[str, dict[str, Any]]], case: str) -> None:
    _, documents = run
    assert findings(documents[case]) == EXPECTED[case]


def test_the_exit_status_follows_the_worst_finding(run: tuple[int, dict[str, dict[str, Any]]]) -> None:
    status, documents = run
    assert status == 2
    assert documents["healthy-after"]["status"] == "ok"  # after the hostile one, still judged


def test_an_expired_internal_root_is_named_and_still_names_the_path(run: tuple[int, dict[str, dict[str, Any]]]) -> None:
    document = run[1]["expired-root"]
    assert "the trusted root CN=Expired Internal Root expired on" in message(document, "CHAIN_EXPIRING")
    assert document["results"][0]["trusted_by"] == "CN=Expired Internal Root"


def test_a_root_ending_in_ten_days_is_named_with_its_date(run: tuple[int, dict[str, dict[str, Any]]]) -> None:
    text = message(run[1]["root-ending"], "CHAIN_EXPIRING")
    assert text.startswith("the trusted root CN=Internal Root Ending Soon expires in ")


def test_an_unused_expired_cross_sign_is_a_warning_that_names_it(run: tuple[int, dict[str, dict[str, Any]]]) -> None:
    document = run[1]["unused-expired-cross-sign"]
    assert document["status"] == "warning"
    assert "the server also sends CN=Modern Root, which expired on" in message(document, "CHAIN_EXPIRING")
    assert document["results"][0]["trusted_by"] == "CN=Modern Root"


def test_a_cross_sign_sent_first_is_no_untrusted_root(run: tuple[int, dict[str, dict[str, Any]]]) -> None:
    document = run[1]["cross-sign-first"]
    assert document["status"] == "warning"
    assert document["results"][0]["trusted_by"] == "CN=Verdicts Root"
    assert "OpenSSL" in message(document, "PATH_BUILDING_REQUIRED")


def inspect(exhibits: Exhibits, *args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [str(CERTWATCH), "inspect", "--json", "--no-public-roots", *exhibits.ca_args(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stderr == ""
    return done.returncode, json.loads(done.stdout)


@pytest.mark.parametrize("case", ["name-constraints", "duplicated-extension", "cross-sign-first", "expired-root"])
def test_inspect_gives_a_chain_file_the_verdict_of_the_served_chain(
    exhibits: Exhibits, run: tuple[int, dict[str, dict[str, Any]]], tmp_path: Path, case: str
) -> None:
    path = tmp_path / f"{case}.pem"
    path.write_bytes(b"".join(c.pem for c in exhibits.chains[case]))

    status, document = inspect(exhibits, "--name", name(case), str(path))

    served = run[1][case]
    assert (document["status"], document["findings"]) == (served["status"], served["findings"])
    assert status == {"ok": 0, "warning": 1, "critical": 2}[served["status"]]
    assert document["file"] == str(path)


def test_inspect_names_a_leaf_holding_an_extension_twice(exhibits: Exhibits, tmp_path: Path) -> None:
    leaf = make_cert(name("twice"), issuer=exhibits.chains["healthy"][1], duplicate_san=True)
    path = tmp_path / "twice.der"
    path.write_bytes(leaf.der)

    status, document = inspect(exhibits, "--name", name("twice"), str(path))

    assert status == 2
    assert findings(document) == {"CERTIFICATE_UNPARSEABLE": "critical"}
    assert "holds the extension 2.5.29.17 twice" in message(document, "CERTIFICATE_UNPARSEABLE")


def test_inspect_at_a_later_date_answers_whether_the_chain_still_holds(exhibits: Exhibits, tmp_path: Path) -> None:
    path = tmp_path / "healthy.pem"
    path.write_bytes(b"".join(c.pem for c in exhibits.chains["healthy"]))
    later = (datetime.now(UTC) + 200 * DAY).strftime("%Y-%m-%d")

    status, document = inspect(exhibits, "--name", name("healthy"), "--at", later, str(path))

    assert status == 2
    assert findings(document) == {"EXPIRED": "critical"}
    assert document["checked_at"] == f"{later}T00:00:00Z"
