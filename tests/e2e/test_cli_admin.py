"""`certwatch token ...` against a stack on moto's server, as an operator runs it (--local)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from certwatch.cli import BROKEN_PIPE
from chalicelib.adapters.dynamo import DynamoStore
from chalicelib.domain.cadence import Sighting
from chalicelib.domain.domains import Issuance
from chalicelib.domain.models import CheckResult, Endpoint, Finding, FindingCode, Severity, Status, TargetReport
from chalicelib.domain.targets import ResultSummary, Target, TargetSpec, new_target_id
from chalicelib.domain.x509info import describe
from chalicelib.services.tokens import authenticate
from lab.certs import make_cert
from tests.support.aws import CERTWATCH, LocalClients, local_stage_on_moto
from tests.support.aws import certwatch_local as certwatch

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.fixture(scope="module")
def moto_port() -> Iterator[int]:
    with local_stage_on_moto() as port:
        yield port


def store(port: int) -> DynamoStore:
    return DynamoStore(LocalClients(port).dynamodb(), "certwatch-local")


def test_token_create_prints_a_working_token_once_and_stores_only_its_hash(moto_port: int) -> None:
    done = certwatch(moto_port, "token", "create", "--team", "web", "--name", "ci")

    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("cw_")
    assert "shown only now" in done.stderr
    principal = authenticate(f"Bearer {token}", store(moto_port))
    assert (principal.team, principal.admin) == ("web", False)
    record = store(moto_port).get_token(principal.token_id)
    assert record is not None
    assert token.split("_", 2)[2] not in repr(record)  # the secret itself is never stored


def test_token_list_shows_ids_teams_and_names_but_never_tokens(moto_port: int) -> None:
    created = certwatch(moto_port, "token", "create", "--team", "ops", "--admin", "--name", "on-call")
    token = created.stdout.strip()

    listing = certwatch(moto_port, "token", "list")

    assert listing.returncode == 0, listing.stderr
    header, *rows = listing.stdout.splitlines()
    assert header.split() == ["ID", "TEAM", "ADMIN", "CREATED", "NAME"]
    token_id = token.split("_")[1]
    (row,) = [r for r in rows if r.startswith(token_id)]
    assert row.split()[1:3] == ["ops", "yes"]
    assert "on-call" in row
    assert token not in listing.stdout


def test_token_revoke_makes_the_token_fail_at_once(moto_port: int) -> None:
    token = certwatch(moto_port, "token", "create", "--team", "web").stdout.strip()
    token_id = token.split("_")[1]

    revoked = certwatch(moto_port, "token", "revoke", token_id)

    assert revoked.returncode == 0, revoked.stderr
    assert store(moto_port).get_token(token_id) is None
    again = certwatch(moto_port, "token", "revoke", token_id)
    assert again.returncode == 1
    assert f"token {token_id} is not active: it is already revoked" in again.stderr
    assert "Traceback" not in again.stderr


def test_a_bad_team_name_is_refused_with_a_message(moto_port: int) -> None:
    done = certwatch(moto_port, "token", "create", "--team", "Not A Team")

    assert done.returncode == 1
    assert "team 'Not A Team'" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_stack_is_a_clear_error_not_a_traceback() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = int(probe.getsockname()[1])

    done = certwatch(dead_port, "token", "list")

    assert done.returncode == 1
    assert "AWS request failed" in done.stderr
    assert "Traceback" not in done.stderr


def without_aws(tmp_path: Path, **settings: str) -> dict[str, str]:
    """An environment with no AWS region or credentials from anywhere (variables, files, the instance)."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    missing = str(tmp_path / "none")
    return {
        **kept,
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": missing,
        "AWS_SHARED_CREDENTIALS_FILE": missing,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # should anything still be sent, it stays on this machine
        **settings,
    }


@pytest.mark.parametrize(
    ("settings", "missing"),
    [({}, "no AWS region is configured"), ({"AWS_DEFAULT_REGION": "eu-west-1"}, "no AWS credentials were found")],
)
def test_an_operator_command_without_aws_says_to_add_local_or_name_the_stage(
    tmp_path: Path, settings: dict[str, str], missing: str
) -> None:
    """Forgetting --local once read "AWS request failed: You must specify a region." and nothing else."""
    env = without_aws(tmp_path, **settings)

    done = subprocess.run(
        [CERTWATCH, "token", "create", "--team", "web"], capture_output=True, text=True, env=env, timeout=60
    )

    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"certwatch: {missing} for the deployed stage 'dev': "), line
    assert "add --local to act on the local stack `make run` started" in line
    assert "--stage" in line
    if not settings:
        assert "--region REGION or AWS_DEFAULT_REGION" in line
    else:
        assert "AWS_PROFILE" in line


def test_every_admin_command_explains_itself() -> None:
    for args in (
        ["token", "--help"],
        ["token", "create", "--help"],
        ["token", "revoke", "--help"],
        ["subscribe", "email", "--help"],
        ["subscribe", "list", "--help"],
        ["slack", "set-webhook", "--help"],
        ["slack", "test", "--help"],
    ):
        done = subprocess.run([CERTWATCH, *args], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0
        assert "--local" in done.stdout
        assert "--stage" in done.stdout


def test_subscribe_email_filters_by_team_and_severity_and_can_be_listed_and_removed(moto_port: int) -> None:
    done = certwatch(
        moto_port, "subscribe", "email", "oncall@example.com", "--team", "web", "--min-severity", "warning"
    )

    assert done.returncode == 0, done.stderr
    arn = done.stdout.strip().rsplit(" ", 1)[-1]
    assert arn.startswith("arn:aws:sns:us-east-1:")
    # moto confirms at once and sends nothing: no promise of a confirmation email locally
    assert "confirmation email" not in done.stderr
    assert "the local stack sends no email" in done.stderr
    attributes = LocalClients(moto_port).sns().get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attributes["Endpoint"] == "oncall@example.com"
    assert attributes["TopicArn"].endswith(":certwatch-local-alerts")
    assert json.loads(attributes["FilterPolicy"]) == {"severity": ["warning", "critical"], "team": ["web"]}

    listing = certwatch(moto_port, "subscribe", "list")
    assert listing.returncode == 0, listing.stderr
    (row,) = [line for line in listing.stdout.splitlines() if "oncall@example.com" in line]
    assert "severity=warning,critical team=web" in row
    assert arn in row

    removed = certwatch(moto_port, "subscribe", "remove", arn)
    assert removed.returncode == 0, removed.stderr
    assert "oncall@example.com" not in certwatch(moto_port, "subscribe", "list").stdout


def test_subscribe_refuses_what_is_not_an_email_address(moto_port: int) -> None:
    done = certwatch(moto_port, "subscribe", "email", "not-an-address")

    assert done.returncode == 1
    assert "not an email address" in done.stderr


class _Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_slack_webhook_is_stored_as_a_secret_tested_and_removed(moto_port: int) -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/services/T000/B000/secret-part"
    try:
        stored = certwatch(moto_port, "slack", "set-webhook", url)
        assert stored.returncode == 0, stored.stderr
        assert url not in stored.stdout + stored.stderr  # a secret is never echoed
        parameter = (
            LocalClients(moto_port)
            .ssm()
            .get_parameter(Name="/certwatch/local/slack-webhook-url", WithDecryption=True)["Parameter"]
        )
        assert (parameter["Type"], parameter["Value"]) == ("SecureString", url)

        tested = certwatch(moto_port, "slack", "test")
        assert tested.returncode == 0, tested.stderr
        (body,) = _Receiver.bodies
        message = json.loads(body)
        assert message["attachments"][0]["blocks"]
        text = json.dumps(message)
        assert "www.example.com" in text
        # a whole event, built as real ones are: when the certificate expires, when it was checked
        assert "None" not in text
        blocks = message["attachments"][0]["blocks"]
        facts = dict(field["text"].split("\n", 1) for field in blocks[1]["fields"])
        assert facts["*Days left*"] == "14"
        assert re.fullmatch(ISO, facts["*Expires*"]), facts
        (context,) = blocks[-1]["elements"]
        assert re.fullmatch(f"certwatch · {ISO}", context["text"]), context

        removed = certwatch(moto_port, "slack", "remove-webhook")
        assert removed.returncode == 0, removed.stderr
        after = certwatch(moto_port, "slack", "test")
        assert after.returncode == 1
        assert "set-webhook" in after.stderr
    finally:
        receiver.shutdown()
        receiver.server_close()
        thread.join(timeout=5)


def test_a_webhook_that_is_not_https_is_refused(moto_port: int) -> None:
    done = certwatch(moto_port, "slack", "set-webhook", "ftp://hooks.example.com/x")

    assert done.returncode == 1
    assert "https://" in done.stderr


def test_removing_an_unknown_subscription_says_so(moto_port: int) -> None:
    topic = LocalClients(moto_port).sns().create_topic(Name="someone-elses")["TopicArn"]
    unknown = f"{topic.replace('someone-elses', 'certwatch-local-alerts')}:0b1c2d3e-0000-4000-8000-000000000000"
    elsewhere = (
        LocalClients(moto_port)
        .sns()
        .subscribe(TopicArn=topic, Protocol="email", Endpoint="x@example.com", ReturnSubscriptionArn=True)[
            "SubscriptionArn"
        ]
    )

    for arn in (unknown, elsewhere):  # never made, or not this stage's
        done = certwatch(moto_port, "subscribe", "remove", arn)

        assert done.returncode == 1
        assert f"unknown subscription {arn}" in done.stderr
        assert "removed" not in done.stdout
    assert LocalClients(moto_port).sns().get_subscription_attributes(SubscriptionArn=elsewhere)


def _store_checked_endpoint(port: int, team: str, name: str) -> str:
    """A target of ``team`` whose latest check read a certificate for ``name``, stored as the checker stores it."""
    now = datetime.now(UTC)
    endpoint = Endpoint(name, 443)
    target = Target(new_target_id(), team, TargetSpec(endpoint), created_at=now, updated_at=now, scheduled_at=now)
    leaf = describe(make_cert(name, days=45).cert)
    report = TargetReport(endpoint, (CheckResult("192.0.2.1", Status.OK, now, leaf=leaf),), now)
    endpoints = store(port)
    endpoints.create_target(target)
    endpoints.save_result(team, target.id, ResultSummary.of(report), report)
    return target.id


def test_the_inventory_shows_the_renewal_cadence_and_readiness_of_the_teams_endpoints(moto_port: int) -> None:
    slow = _store_checked_endpoint(moto_port, "renewals", "slow.cli.test")
    new = _store_checked_endpoint(moto_port, "renewals", "new.cli.test")  # one certificate seen, no renewal yet
    history = store(moto_port)
    now = datetime.now(UTC)
    for fingerprint, seen in (("a" * 64, now - timedelta(days=100)), ("b" * 64, now - timedelta(days=10))):
        sighting = Sighting(fingerprint, seen, seen - timedelta(days=1), seen + timedelta(days=99), True)
        assert history.record_sighting("renewals", slow, sighting)
    assert history.record_sighting("renewals", new, Sighting("c" * 64, now, now, now + timedelta(days=90), True))

    done = certwatch(moto_port, "inventory", "--team", "renewals")

    assert done.returncode == 0, done.stderr
    assert (
        "renewal readiness: 1 public endpoints with a renewal seen (0 ready for 100 days, 0 ready for 47 days); "
        in done.stdout
    )
    assert "1 without a renewal seen yet" in done.stdout
    assert "not ready for 100-day certificates (from 2027-03-15): https://slow.cli.test:443" in done.stdout
    (row,) = [line for line in done.stdout.splitlines() if line.startswith("https://slow.cli.test:443 ")]
    assert row.split() == ["https://slow.cli.test:443", "2", "1", "91", "days", "9", "days", "no", "no"]


def test_the_local_inventory_shows_what_the_local_admin_sees_and_counts_its_scan(moto_port: int) -> None:
    _store_checked_endpoint(moto_port, "local", "mine.cli.test")
    _store_checked_endpoint(moto_port, "other", "theirs.cli.test")
    held = make_cert("held.cli.test", days=200)
    LocalClients(moto_port).acm().import_certificate(Certificate=held.pem, PrivateKey=held.key_pem)

    scanned = certwatch(moto_port, "inventory", "--scan", "--format", "json")
    table = certwatch(moto_port, "inventory")

    assert scanned.returncode == 0, scanned.stderr
    assert "scanned: 1 certificate in ACM/IAM" in scanned.stderr
    rows = {(row["source"], row["subject"]) for row in map(json.loads, scanned.stdout.splitlines())}
    assert {("endpoint", "CN=mine.cli.test"), ("acm", "CN=held.cli.test")} <= rows  # the local team's, and ACM's
    assert ("endpoint", "CN=theirs.cli.test") not in rows
    assert table.returncode == 0, table.stderr
    assert "mine.cli.test" in table.stdout
    assert "add --team" not in table.stderr


def test_the_inventory_lists_the_endpoints_that_never_answered_as_error_and_the_unchecked_as_pending(
    moto_port: int,
) -> None:
    served = _store_checked_endpoint(moto_port, "statuses", "served.cli.test")
    now = datetime.now(UTC)
    endpoints = store(moto_port)
    refused, waiting = (
        Target(
            new_target_id(),
            "statuses",
            TargetSpec(Endpoint(name, 443)),
            created_at=now,
            updated_at=now,
            scheduled_at=now,
        )
        for name in ("refused.cli.test", "waiting.cli.test")
    )
    for target in (refused, waiting):
        endpoints.create_target(target)
    failure = Finding(FindingCode.CONNECTION_FAILED, Severity.CRITICAL, "connection refused")
    report = TargetReport(refused.endpoint, (CheckResult("192.0.2.2", Status.ERROR, now, findings=(failure,)),), now)
    endpoints.save_result("statuses", refused.id, ResultSummary.of(report), report)

    unreachable = certwatch(moto_port, "inventory", "--team", "statuses", "--status", "error", "--format", "json")
    pending = certwatch(moto_port, "inventory", "--team", "statuses", "--status", "pending")

    assert unreachable.returncode == 0, unreachable.stderr
    (row,) = [json.loads(line) for line in unreachable.stdout.splitlines()]
    assert (row["id"], row["kind"], row["status"], row["used_by"]) == (
        refused.id,
        "endpoint",
        "error",
        ["https://refused.cli.test:443"],
    )
    assert row["codes"] == ["CONNECTION_FAILED"]
    assert pending.returncode == 0, pending.stderr
    (line,) = [text for text in pending.stdout.splitlines() if text.startswith("endpoint ")]
    assert line.split() == ["endpoint", "-", "-", "-", "-", "-", "pending", "-", "-", "https://waiting.cli.test:443"]
    assert served not in pending.stdout + unreachable.stdout


@pytest.fixture(scope="module")
def local_endpoint(moto_port: int) -> None:
    """A row in the local team's inventory, so every listing has something to write."""
    _store_checked_endpoint(moto_port, "local", "piped.cli.test")


def certwatch_into_a_closed_pipe(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    """``certwatch ARGS --local | head -0``: the reader of stdout is gone before anything is written."""
    read, write = os.pipe()
    os.close(read)
    env = {**os.environ, "CERTWATCH_LOCAL_AWS_PORT": str(port)}
    try:
        return subprocess.run(
            [CERTWATCH, *args, "--local"], stdout=write, stderr=subprocess.PIPE, text=True, env=env, timeout=60
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "args",
    [
        ["inventory", "--format", "json"],
        ["inventory"],
        ["token", "list"],
        ["subscribe", "list"],
    ],
    ids=" ".join,
)
def test_a_reader_that_goes_away_ends_each_command_quietly(
    moto_port: int, local_endpoint: None, args: list[str]
) -> None:
    done = certwatch_into_a_closed_pipe(moto_port, *args)

    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr
    assert done.returncode == BROKEN_PIPE


def test_a_wrong_number_of_days_is_named_with_what_is_allowed() -> None:
    for value in ("abc", "-1", "99999999999"):
        done = subprocess.run(
            [CERTWATCH, "inventory", "--expiring-within-days", value, "--local"], capture_output=True, text=True
        )

        assert done.returncode == 3  # a usage error, before anything is contacted
        assert f"argument --expiring-within-days: must be a whole number of days from 0 to 36500, not '{value}'" in (
            done.stderr
        )
        assert "Traceback" not in done.stderr


def test_silences_windows_and_events_from_the_command_line(moto_port: int) -> None:
    now = datetime.now(UTC)
    target = Target(new_target_id(), "quiet", TargetSpec(Endpoint("quiet.example.com", 443)), now, now, now)
    store(moto_port).create_target(target)

    made = certwatch(
        moto_port, "silence", "add", "--team", "quiet", "--target", target.id, "--days", "3", "--reason", "migrating"
    )
    planned = certwatch(
        moto_port,
        "maintenance",
        "add",
        "--team",
        "quiet",
        "--end",
        (now + timedelta(hours=2)).isoformat(),
        "--label",
        "env=prod",
        "--reason",
        "upgrade",
    )
    too_long = certwatch(
        moto_port, "silence", "add", "--team", "quiet", "--label", "env=prod", "--days", "40", "--reason", "x"
    )
    unknown = certwatch(
        moto_port,
        "silence",
        "add",
        "--team",
        "quiet",
        "--target",
        "tg_00000000000000000000",
        "--days",
        "1",
        "--reason",
        "x",
    )

    assert made.returncode == 0, made.stderr
    assert re.fullmatch(rf"si_[0-9a-f]{{16}}: target {target.id} silenced until {ISO}\n", made.stdout)
    assert planned.returncode == 0, planned.stderr
    assert "env=prod quiet from" in planned.stdout
    assert (too_long.returncode, too_long.stderr.count("\n")) == (1, 1)
    assert "at most 30 days" in too_long.stderr
    assert unknown.returncode == 1
    assert "no target" in unknown.stderr
    silence_id = made.stdout.split(":")[0]
    listed = certwatch(moto_port, "silence", "list", "--team", "quiet")
    assert silence_id in listed.stdout
    assert "migrating" in listed.stdout
    assert certwatch(moto_port, "maintenance", "list", "--team", "quiet").stdout.count("mw_") == 1
    assert certwatch(moto_port, "silence", "end", silence_id, "--team", "quiet").returncode == 0
    assert " no " in certwatch(moto_port, "silence", "list", "--team", "quiet").stdout
    assert certwatch(moto_port, "events", "--team", "quiet").stdout.startswith("AT")


def test_domains_are_watched_listed_suggested_and_removed_from_the_command_line(moto_port: int) -> None:
    now = datetime.now(UTC)
    added = certwatch(
        moto_port,
        "domains",
        "add",
        "Shop.Example",
        "--issuer",
        "R11",
        "--alert-days",
        "60",
        "7",
        "--team",
        "cli-domains",
    )
    again = certwatch(moto_port, "domains", "add", "shop.example", "--team", "cli-domains")
    refused = certwatch(moto_port, "domains", "add", "com", "--team", "cli-domains")
    store(moto_port).record_issuances(
        "cli-domains",
        [
            Issuance(
                id="1",
                tbs_sha256="ab" * 32,
                dns_names=("legacy.shop.example",),
                pubkey_sha256="cd" * 32,
                issuer="CN=R11",
                not_before=now - timedelta(days=1),
                not_after=now + timedelta(days=30),
            )
        ],
    )
    listed = certwatch(moto_port, "domains", "list", "--team", "cli-domains")
    suggested = certwatch(moto_port, "domains", "suggest", "--team", "cli-domains")

    assert added.returncode == 0, added.stderr
    domain_id = added.stdout.split(":")[0]
    assert "watching shop.example and the names under it" in added.stdout
    assert store(moto_port).get_domain("cli-domains", domain_id).alert_days == (60, 7)
    assert again.returncode != 0
    assert f"already watched as {domain_id}" in again.stderr
    assert refused.returncode != 0
    assert "top-level domain" in refused.stderr
    assert re.search(rf"{domain_id} +shop\.example +yes +R11 ", listed.stdout), listed.stdout
    assert re.search(r"shop\.example +legacy\.shop\.example", suggested.stdout), suggested.stdout

    removed = certwatch(moto_port, "domains", "remove", domain_id, "--team", "cli-domains")
    assert removed.returncode == 0, removed.stderr
    assert domain_id not in certwatch(moto_port, "domains", "list", "--team", "cli-domains").stdout
