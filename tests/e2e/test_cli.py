"""The real ``certwatch`` console script, run as a subprocess against the lab's zoo of loopback endpoints."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certwatch import cli
from lab.certs import make_ca, make_cert
from lab.servers import TlsServer
from lab.zoo import Exhibit, Zoo, running_zoo
from tests.support.pki import UNREADABLE_ANCHORS, Pki, unreadable_anchor

# lab.servers enables TLS 1.0 on purpose (to serve legacy chains); Python 3.13 warns about that.

CERTWATCH = Path(sys.executable).parent / "certwatch"
TIMEOUT = 2  # what the zoo's silent exhibit costs
COLUMNS = ["HOST", "PORT", "ADDRESS", "DAYS", "EXPIRES", "ISSUER", "STATUS", "FINDINGS"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CERTWATCH), *args], input=stdin, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def zoo() -> Iterator[Zoo]:
    with running_zoo() as started:
        yield started


@pytest.fixture(scope="module")
def exhibit(zoo: Zoo) -> dict[str, Exhibit]:
    """The zoo's exhibits by the first label of their name (``healthy``, ``expired``, ...)."""
    return {e.name.split(".")[0]: e for e in zoo.exhibits}


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound on 127.0.0.1 and never listened on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def check(zoo: Zoo, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``certwatch check`` trusting the zoo's root, with every zoo name pinned to loopback."""
    return run("check", "--ca-file", zoo.ca_file, "--timeout", str(TIMEOUT), *zoo.resolve_args(), *args, stdin=stdin)


def json_lines(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in done.stdout.splitlines()]


def codes(document: dict[str, Any]) -> list[str]:
    return sorted(f["code"] for f in document["findings"])


def test_the_zoo_reports_exactly_what_each_exhibit_expects(zoo: Zoo) -> None:
    started = time.monotonic()
    done = check(zoo, "--json", *zoo.targets)
    elapsed = time.monotonic() - started

    assert "Traceback" not in done.stderr
    documents = json_lines(done)
    assert [d["target"] for d in documents] == zoo.targets  # one line per target, in order
    for exhibit, document in zip(zoo.exhibits, documents, strict=True):
        assert codes(document) == sorted(exhibit.expected), exhibit.name
        assert (document["status"] == "ok") == (not exhibit.expected), exhibit.name
    assert done.returncode == 2  # critical findings are present
    assert elapsed < TIMEOUT + 5  # the silent exhibit costs one timeout, not one per target


def test_json_documents_carry_status_reason_and_certificate(zoo: Zoo, exhibit: dict[str, Exhibit]) -> None:
    done = check(zoo, "--json", exhibit["healthy"].target, exhibit["silent"].target, exhibit["weak"].target)

    healthy, silent, weak = json_lines(done)
    assert healthy["status"] == "ok"
    assert healthy["sni"] == "healthy.demo.test"
    assert healthy["days_left"] in (89, 90)
    (result,) = healthy["results"]
    assert result["address"] == "127.0.0.1"
    assert result["leaf"]["sans"] == ["healthy.demo.test"]
    assert result["trusted_by"] == "CN=certwatch Demo Root"
    assert silent["status"] == "error"
    assert [(f["code"], f["reason"]) for f in silent["findings"]] == [("CONNECTION_FAILED", "timeout")]
    assert weak["status"] == "critical"
    assert [(f["code"], f["severity"]) for f in weak["findings"]] == [("WEAK_KEY", "critical")]
    assert done.returncode == 2  # critical outranks unreachable


def test_only_healthy_targets_exit_0(zoo: Zoo, exhibit: dict[str, Exhibit]) -> None:
    done = check(zoo, "--json", exhibit["healthy"].target, exhibit["mail"].target)

    assert [d["status"] for d in json_lines(done)] == ["ok", "ok"]
    assert done.returncode == 0


def test_a_warning_only_target_exits_1(zoo: Zoo, exhibit: dict[str, Exhibit]) -> None:
    done = check(zoo, "--json", exhibit["healthy"].target, exhibit["stale-acme"].target)

    assert [(d["status"], codes(d)) for d in json_lines(done)] == [("ok", []), ("warning", ["RENEWAL_OVERDUE"])]
    assert done.returncode == 1


def test_an_unreachable_target_exits_3(zoo: Zoo, exhibit: dict[str, Exhibit], closed_port: int) -> None:
    done = check(zoo, "--json", exhibit["stale-acme"].target, f"tls://127.0.0.1:{closed_port}")

    warning, unreachable = json_lines(done)
    assert warning["status"] == "warning"
    assert unreachable["status"] == "error"
    assert [(f["code"], f["reason"]) for f in unreachable["findings"]] == [("CONNECTION_FAILED", "refused")]
    assert done.returncode == 3


def test_a_critical_target_outranks_an_unreachable_one(zoo: Zoo, exhibit: dict[str, Exhibit], closed_port: int) -> None:
    done = check(zoo, "--json", f"tls://127.0.0.1:{closed_port}", exhibit["expired"].target)

    assert [d["status"] for d in json_lines(done)] == ["error", "critical"]
    assert done.returncode == 2


def test_sni_names_the_certificate_to_match(zoo: Zoo, exhibit: dict[str, Exhibit]) -> None:
    port = exhibit["healthy"].server.port

    right = run("check", "--json", "--ca-file", zoo.ca_file, "--sni", "healthy.demo.test", f"tls://127.0.0.1:{port}")
    wrong = run("check", "--json", "--ca-file", zoo.ca_file, "--sni", "other.demo.test", f"tls://127.0.0.1:{port}")

    (document,) = json_lines(right)
    assert (document["sni"], document["status"], codes(document)) == ("healthy.demo.test", "ok", [])
    assert right.returncode == 0
    (document,) = json_lines(wrong)
    assert codes(document) == ["HOSTNAME_MISMATCH"]
    assert "other.demo.test" in document["findings"][0]["message"]
    assert wrong.returncode == 2


@pytest.fixture(scope="module")
def v6_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TlsServer, Path]]:
    """A server on ::1 for v6.cli.test and ::1, and the PEM file of the root that issued its certificate."""
    root = make_ca("certwatch CLI Root")
    leaf = make_cert("v6.cli.test", sans=["v6.cli.test", "::1"], issuer=root)
    ca_file = tmp_path_factory.mktemp("v6") / "root.pem"
    ca_file.write_bytes(root.pem)
    with TlsServer([leaf], host="::1") as server:
        yield server, ca_file


def test_ipv6_targets_and_pins(v6_server: tuple[TlsServer, Path]) -> None:
    server, ca_file = v6_server

    done = run(
        "check",
        "--json",
        "--ca-file",
        str(ca_file),
        "--resolve",
        "v6.cli.test:[::1]",
        f"tls://v6.cli.test:{server.port}",
        f"[::1]:{server.port}",
    )

    by_name, by_address = json_lines(done)
    assert (by_name["status"], [r["address"] for r in by_name["results"]]) == ("ok", ["::1"])
    assert (by_address["target"], by_address["sni"], by_address["status"]) == (
        f"tls://[::1]:{server.port}",
        None,
        "ok",
    )
    assert done.returncode == 0


@pytest.fixture(scope="module", params=[0, -1], ids=["serial-0", "serial-negative"])
def odd_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, Path, int]]:
    """A server whose leaf has a serial that is not positive and a three-letter countryName.

    Yields its port, the folder of the root's PEM (root.pem) and the leaf's (chain.pem), and the serial.
    """
    root = make_ca("certwatch CLI Root")
    leaf = make_cert("odd.cli.test", issuer=root, serial=request.param, country="USA")
    directory = tmp_path_factory.mktemp("odd")
    (directory / "root.pem").write_bytes(root.pem)
    (directory / "chain.pem").write_bytes(leaf.pem)
    with TlsServer([leaf]) as server:
        yield server.port, directory, request.param


def test_what_cryptography_warns_about_a_served_certificate_stays_off_stderr(
    odd_server: tuple[int, Path, int],
) -> None:
    """Warnings about a certificate's serial or name lengths are data about the certificate, not the run's news."""
    port, directory, serial = odd_server
    ca_file = str(directory / "root.pem")

    pin = "odd.cli.test:127.0.0.1"
    checked = run("check", "--json", "--ca-file", ca_file, "--resolve", pin, f"odd.cli.test:{port}")
    inspected = run("inspect", "--json", "--ca-file", ca_file, "--name", "odd.cli.test", str(directory / "chain.pem"))

    for done in (checked, inspected):
        assert done.stderr == ""
        (document,) = json_lines(done)
        leaf = document["results"][0]["leaf"] if "results" in document else document["leaf"]
        assert (leaf["subject"], leaf["serial"]) == ("C=USA,CN=odd.cli.test", format(serial, "x"))


def test_targets_file_skips_comments_and_blank_lines(zoo: Zoo, exhibit: dict[str, Exhibit], tmp_path: Path) -> None:
    targets = tmp_path / "targets.txt"
    targets.write_text(
        "# certwatch targets\n"
        "\n"
        f"{exhibit['healthy'].target}   # the healthy one\n"
        "   \n"
        "    # an indented comment\n"
        f"  {exhibit['mail'].target}\n"
    )

    done = check(zoo, "--json", "--targets-file", str(targets))

    assert [d["target"] for d in json_lines(done)] == [exhibit["healthy"].target, exhibit["mail"].target]
    assert done.returncode == 0


def test_targets_file_dash_reads_stdin_after_the_arguments(zoo: Zoo, exhibit: dict[str, Exhibit]) -> None:
    done = check(
        zoo,
        "--json",
        exhibit["mail"].target,
        "--targets-file",
        "-",
        stdin=f"# from stdin\n{exhibit['healthy'].target}\n",
    )

    assert [d["target"] for d in json_lines(done)] == [exhibit["mail"].target, exhibit["healthy"].target]
    assert done.returncode == 0


def test_a_bad_line_in_a_targets_file_is_named(zoo: Zoo, tmp_path: Path) -> None:
    targets = tmp_path / "targets.txt"
    targets.write_text("# fine so far\nhealthy.demo.test:443\ngopher://healthy.demo.test\n")

    done = check(zoo, "--json", "--targets-file", str(targets))

    assert done.returncode == 3
    assert f"{targets}:3" in done.stderr
    assert "unsupported scheme" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_the_table_has_the_columns_and_one_row_per_target(zoo: Zoo, exhibit: dict[str, Exhibit]) -> None:
    chosen = ["healthy", "expired", "wrong-name", "stale-acme", "mail"]

    done = check(zoo, *(exhibit[name].target for name in chosen))

    lines = done.stdout.splitlines()
    assert lines[0].split() == COLUMNS
    rows = lines[1 : lines.index("")] if "" in lines else lines[1:]
    assert [row.split()[0] for row in rows] == [exhibit[name].name for name in chosen]
    by_host = {row.split()[0]: row.split() for row in rows}
    assert by_host["healthy.demo.test"][-2:] == ["ok", "-"]
    assert by_host["expired.demo.test"][-2:] == ["critical", "EXPIRED"]
    assert by_host["wrong-name.demo.test"][-2:] == ["critical", "HOSTNAME_MISMATCH"]
    assert by_host["stale-acme.demo.test"][-2:] == ["warning", "RENEWAL_OVERDUE"]
    assert by_host["mail.demo.test"][1:3] == [str(exhibit["mail"].server.port), "127.0.0.1"]
    # then the findings' messages, below the table
    assert any("EXPIRED: the certificate expired on" in line for line in lines)
    assert done.returncode == 2


USAGE_ERRORS = {
    "unknown-scheme": (["gopher://example.test"], "unsupported scheme"),
    "timeout-not-a-number": (
        ["--timeout", "abc", "tls://127.0.0.1:9"],
        "argument --timeout: must be a number greater than 0, not 'abc'",
    ),
    "timeout-zero": (["--timeout", "0", "tls://127.0.0.1:9"], "--timeout: must be a number greater than 0"),
    "timeout-negative": (["--timeout", "-1", "tls://127.0.0.1:9"], "--timeout: must be a number greater than 0"),
    "timeout-nan": (["--timeout", "nan", "tls://127.0.0.1:9"], "--timeout"),
    "timeout-inf": (["--timeout", "inf", "tls://127.0.0.1:9"], "--timeout"),
    "no-target": ([], "no target given"),
    "bad-port": (["127.0.0.1:70000"], "invalid port"),
    "one-slash-url": (["https:/127.0.0.1"], "a scheme takes two slashes, as in https://127.0.0.1"),
    "joiner-in-name": (["https://a\u200db.example"], "Joiner U+200D not allowed"),
    "emoji-sni": (["--sni", "\U0001f600.example", "tls://127.0.0.1:9"], "is not allowed by IDNA 2008"),
    "bad-resolve": (["--resolve", "example.test:not-an-address", "example.test"], "expected NAME:ADDRESS"),
    "missing-ca-file": (["--ca-file", "/nonexistent/ca.pem", "tls://127.0.0.1:9"], "cannot read CA file"),
    "critical-above-warn": (
        ["--warn-days", "5", "--critical-days", "10", "tls://127.0.0.1:9"],
        "--critical-days must not exceed --warn-days",
    ),
    "concurrency-zero": (
        ["--concurrency", "0", "tls://127.0.0.1:9"],
        "argument --concurrency: must be a whole number, 1 or more, not '0'",
    ),
    "warn-days-not-a-number": (
        ["--warn-days", "abc", "tls://127.0.0.1:9"],
        "argument --warn-days: must be a whole number, 0 or more, not 'abc'",
    ),
    "critical-days-negative": (
        ["--critical-days", "-1", "tls://127.0.0.1:9"],
        "argument --critical-days: must be a whole number, 0 or more, not '-1'",
    ),
    # --ca is no abbreviation of --ca-file: it would swallow the target as a CA file's name
    "abbreviated-option": (["--ca", "tls://127.0.0.1:9"], "unrecognized arguments: --ca"),
    "unknown-option": (["--no-such-option", "tls://127.0.0.1:9"], "unrecognized arguments"),
}


@pytest.mark.parametrize(
    ("args", "message"),
    [pytest.param(*case, id=name) for name, case in USAGE_ERRORS.items()],
)
def test_a_usage_error_exits_3_with_a_message_and_no_traceback(args: list[str], message: str) -> None:
    # Every target here is refused before any check starts, so nothing is contacted.
    done = run("check", "--json", *args)

    assert done.returncode == 3
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("command", ["check", "inspect"])
@pytest.mark.parametrize("kind", sorted(UNREADABLE_ANCHORS))
def test_a_ca_file_that_does_not_read_whole_is_one_line_and_exit_3(
    tmp_path: Path, pki: Pki, command: str, kind: str
) -> None:
    ca_file = tmp_path / "team-ca.pem"
    ca_file.write_bytes(pki.root.pem + unreadable_anchor(kind))
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(pki.intermediate.pem)
    what = "tls://127.0.0.1:9" if command == "check" else str(leaf)

    done = run(command, "--ca-file", str(ca_file), what)

    assert done.returncode == 3
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"certwatch: {ca_file}: certificate 2 of 2 cannot be used: "), line
    assert UNREADABLE_ANCHORS[kind] in line
    assert done.stdout == ""


NOT_CERTIFICATES = {
    "text": (b"build-host-7\n", "holds text"),
    "key": (b"-----BEGIN PRIVATE KEY-----\nMC4CAQAw\n-----END PRIVATE KEY-----\n", "holds a PEM PRIVATE KEY block"),
    "empty": (b"", "is empty"),
    "binary": (b"\x7fELF\x02\x01\x01\x00", "holds binary data that is not DER"),
}


@pytest.mark.parametrize("kind", sorted(NOT_CERTIFICATES))
def test_inspect_of_a_file_holding_no_certificate_says_what_it_holds_and_exits_3(tmp_path: Path, kind: str) -> None:
    """/etc/hostname once read "CERTIFICATE_UNPARSEABLE: the server's certificate cannot be parsed" (exit 2)."""
    data, holds = NOT_CERTIFICATES[kind]
    path = tmp_path / f"{kind}.pem"
    path.write_bytes(data)

    done = run("inspect", str(path))

    assert done.returncode == cli.UNKNOWN == 3
    assert done.stderr == (
        f"certwatch: {path}: no certificate found: the file {holds}; expected a PEM CERTIFICATE block or DER\n"
    )
    assert done.stdout == ""


def test_inspect_of_standard_input_holding_no_certificate_names_the_input() -> None:
    done = run("inspect", "-", stdin="not a certificate\n")

    assert done.returncode == 3
    assert done.stderr == (
        "certwatch: standard input: no certificate found: the input holds text; "
        "expected a PEM CERTIFICATE block or DER\n"
    )


def test_inspect_of_a_certificate_block_that_does_not_parse_is_a_finding_about_the_files_leaf(tmp_path: Path) -> None:
    path = tmp_path / "broken.pem"
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHHIG...\n-----END CERTIFICATE-----\n")

    done = run("inspect", "--json", str(path))

    assert done.returncode == 2, done.stderr
    (finding,) = json.loads(done.stdout)["findings"]
    assert finding["code"] == "CERTIFICATE_UNPARSEABLE"
    assert finding["message"].startswith("the leaf, the first certificate of the chain, cannot be parsed: ")
    assert "server" not in finding["message"]


def test_a_url_with_one_slash_after_its_scheme_is_one_line_naming_the_fix() -> None:
    done = run("check", "https:/127.0.0.1")

    assert done.returncode == cli.UNKNOWN == 3
    assert done.stderr == (
        "certwatch: cannot read target 'https:/127.0.0.1': a scheme takes two slashes, as in https://127.0.0.1\n"
    )
    assert done.stdout == ""


def test_help_describes_the_target_forms() -> None:
    top = run("--help")
    sub = run("check", "--help")

    assert top.returncode == 0
    assert "check" in top.stdout
    assert sub.returncode == 0
    for form in ("example.com:8443", "[2001:db8::1]:443", "smtp://", "submission://", "imaps://", "postgres://"):
        assert form in sub.stdout
    assert "tls://host:PORT" in sub.stdout
    assert "exit status" in sub.stdout
    assert "--targets-file" in sub.stdout


def test_version_is_printed() -> None:
    done = run("--version")

    assert done.returncode == 0
    assert done.stdout.startswith("certwatch ")


def test_no_parser_takes_abbreviated_options() -> None:
    pending: list[argparse.ArgumentParser] = [cli.build_parser()]
    seen = 0
    while pending:
        parser = pending.pop()
        seen += 1
        assert parser.allow_abbrev is False, parser.prog
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending += list(action.choices.values())
    assert seen > 10  # every command and action was walked


def run_into_a_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """``certwatch ARGS | head -0``, deterministically: the reader of stdout is gone before anything is written."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [str(CERTWATCH), *args], stdout=write, stderr=subprocess.PIPE, text=True, timeout=60, check=False
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    ("args", "status"),
    [
        # argparse itself ignores a failed write of help and version, and exits 0
        pytest.param(["--help"], 0, id="help"),
        pytest.param(["check", "--help"], 0, id="check-help"),
        pytest.param(["--version"], 0, id="version"),
        pytest.param(["check", "--json", "--timeout", "1", "tls://127.0.0.1:9"], cli.BROKEN_PIPE, id="check"),
    ],
)
def test_a_reader_that_goes_away_ends_the_command_quietly(args: list[str], status: int) -> None:
    done = run_into_a_closed_pipe(*args)

    assert done.stderr == ""  # no BrokenPipeError traceback, no "Exception ignored"
    assert done.returncode == status


def _without_timing(document: dict[str, Any]) -> dict[str, Any]:
    """A report without what differs between two runs of the same check (when, and how long)."""
    results = [{k: v for k, v in r.items() if k not in {"checked_at", "elapsed_ms"}} for r in document["results"]]
    return {**{k: v for k, v in document.items() if k != "checked_at"}, "results": results}


def test_workers_change_nothing_but_the_speed(zoo: Zoo) -> None:
    runs = {workers: check(zoo, "--json", "--workers", str(workers), *zoo.targets) for workers in (1, 2, 3)}

    documents = {workers: [_without_timing(d) for d in json_lines(done)] for workers, done in runs.items()}
    assert [d["target"] for d in documents[3]] == zoo.targets  # request order, whichever worker checked it
    assert documents[1] == documents[2] == documents[3]
    assert {done.returncode for done in runs.values()} == {2}
    assert all(done.stderr == "" for done in runs.values())


def test_a_worker_that_dies_costs_only_its_own_reports(tmp_path: Path) -> None:
    """A worker process killed mid-run: its targets are reported as not checked, the rest as usual."""
    script = tmp_path / "dying.py"
    script.write_text(
        "import os, sys\n"
        "from certwatch.workers import check_in_processes\n"
        "from chalicelib.checks.engine import CheckRequest\n"
        "from chalicelib.domain.endpoints import parse_target\n"
        "from chalicelib.presentation.reports import report_to_dict\n"
        "class Engine:\n"
        "    def check_many(self, requests):\n"
        "        from chalicelib.checks.engine import unchecked\n"
        "        from chalicelib.domain.clock import utc_now\n"
        "        for request in requests:\n"
        "            if request.endpoint.host == 'dies.example':\n"
        "                os._exit(9)\n"
        "            yield unchecked(request.endpoint, 'fake: checked', utc_now())\n"
        "    def close(self):\n"
        "        pass\n"
        "hosts = ['a.example', 'dies.example', 'c.example', 'd.example', 'e.example', 'f.example']\n"
        "requests = [CheckRequest(parse_target(h)) for h in hosts]\n"
        "for report in check_in_processes(requests, Engine, 2, lambda report: report):\n"
        "    print(report.endpoint.host, report.findings[0].message)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False)

    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    # Worker 0 checks a, c, e; worker 1 dies on its first target: b..f of its share are not checked.
    assert lines == [
        "a.example fake: checked",
        "dies.example not checked: the worker process checking it stopped",
        "c.example fake: checked",
        "d.example not checked: the worker process checking it stopped",
        "e.example fake: checked",
        "f.example not checked: the worker process checking it stopped",
    ]
