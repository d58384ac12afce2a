"""The local stack (`make run`) as a real process: API over HTTP, sweep, checker, Slack, webhook and email.

The stack is started with ``python -m lab.local`` on free ports, its Slack webhook and its
CERTWATCH_WEBHOOK_URL pointing at receivers in this process; a target is registered over HTTP
and its event must reach Slack, the webhook (signed) and the printed email. Ctrl-C (SIGINT) must
stop it cleanly, and it must start again on the same ports. How it stops whenever the signals come:
test_local_stack_stops.py (a file of its own, so the two files' minutes run on two workers).
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.local import LocalStackProcess, finish, run
from certwatch.cli import main as certwatch
from chalicelib.domain.tokens import issue
from chalicelib.domain.webhooks import new_secret
from lab.certs import make_cert
from tests.e2e.pipeline_helpers import SlackReceiver, slack_text
from tests.support.contract import check_event
from tests.support.localstack import (
    STARTUP_TIMEOUT,
    SWEEP_SECONDS,
    free_ports,
    local_stack,
)
from tests.support.webhooks import Receiver, signed_by

pytestmark = pytest.mark.slow

DELIVERY_TIMEOUT = 30.0
LOAD_TARGETS = 200


@pytest.fixture
def token() -> str:
    return issue("local", admin=True, now=datetime.now(UTC))[0]


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    with SlackReceiver() as receiver:
        yield receiver


def test_a_registered_target_reaches_slack_a_webhook_and_email_and_ctrl_c_stops_the_stack(
    token: str, slack: SlackReceiver
) -> None:
    ports = free_ports()
    secret = new_secret()
    with Receiver(judge=signed_by(secret)) as hook, local_stack(ports, token, slack.url, (hook.url(), secret)) as stack:
        demo = f"127.0.0.1:{ports.demo}"
        status, created = stack.call("POST", "/targets", {"target": f"tls://{demo}"})
        assert status == 201, created

        post = slack.wait_for(lambda post: demo in slack_text(post), timeout=DELIVERY_TIMEOUT)
        (delivery,) = hook.wait_for(1, timeout=DELIVERY_TIMEOUT)
        stack.wait_for_output("Subject: [certwatch] CRITICAL", timeout=5)
        banner_days = re.search(rf"tls://{demo} +expiring in (\d+) days", stack.output)
        shown_status, shown = stack.call("GET", f"/targets/{created['id']}")
        time.sleep(2 * SWEEP_SECONDS + 1)  # two more sweeps: the event must not come again
        about_demo = [other for other in slack.posts if demo in slack_text(other)]
        exit_status = stack.interrupt()

    assert about_demo == [post]
    assert hook.accepted == [delivery]
    assert hook.problems == []  # signed with CERTWATCH_WEBHOOK_SECRET
    check_event(delivery.json(), "the webhook the local stack posted")
    assert (delivery.json()["type"], delivery.json()["target"]["id"]) == ("certificate.expiring", created["id"])
    assert "webhook       posting to CERTWATCH_WEBHOOK_URL as wh_" in stack.output
    assert secret not in stack.output
    assert "s3cret" not in stack.output
    assert post["attachments"][0]["color"] == "#d0021b"  # critical: expires within critical_days
    assert "certificate.expiring" in slack_text(post)
    assert f"CRITICAL* `{demo}`" in slack_text(post)
    assert banner_days is not None, stack.output
    # The banner and the alert count the days left alike.
    assert f"Subject: [certwatch] CRITICAL {demo} certificate expires in {banner_days[1]} days" in stack.output
    assert (shown_status, shown["latest"]["status"]) == (200, "critical")
    assert exit_status == 0, stack.output
    assert "stopping" in stack.output


def test_the_banner_names_the_demo_ca_file_and_the_log_that_holds_motos_own_messages(
    token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ports = free_ports()
    with local_stack(ports, token) as stack:
        ca_file = re.search(r"^  demo CA +(\S+)", stack.output, re.MULTILINE)
        log_file = re.search(r"^  log +(\S+)", stack.output, re.MULTILINE)
        assert ca_file is not None, stack.output
        assert log_file is not None, stack.output
        expiring = re.search(rf"(tls://127.0.0.1:{ports.demo}) +expiring in (\d+) days", stack.output)
        assert expiring is not None, stack.output
        capsys.readouterr()
        status = certwatch(["check", "--json", "--ca-file", ca_file[1], expiring[1]])
        checked = json.loads(capsys.readouterr().out)
        assert stack.interrupt() == 0, stack.output
        log = Path(log_file[1]).read_text()

    assert status == 2  # critical: the CA is trusted, so what is left is the expiry
    assert [f["code"] for f in checked["findings"]] == ["EXPIRING_SOON", "RENEWAL_OVERDUE"]
    assert checked["days_left"] == int(expiring[2])
    assert f"--ca-file {ca_file[1]}" in stack.output  # the banner shows how
    assert "AWS::CloudWatch::Alarm" in log  # moto's warnings went to the log,
    assert "CloudWatch" not in stack.output  # not to the terminal
    assert "moto served" in log  # with what serialising its requests cost
    assert "Traceback" not in stack.output + log


def test_a_few_hundred_targets_imported_at_once_are_all_checked_with_no_5xx_and_no_traceback(token: str) -> None:
    stack = LocalStackProcess(token, sweep_seconds=60)
    try:
        stack.wait_until_running(STARTUP_TIMEOUT)
        measured = run(stack, targets=LOAD_TARGETS, rows_per_request=50, parallel=LOAD_TARGETS // 50, wait_seconds=600)
    finally:
        stack.stop()
    figures = finish(stack, measured)

    assert figures.outcomes == {"created": LOAD_TARGETS}, figures.report()
    assert (figures.five_xx, figures.missing, figures.tracebacks, figures.errors) == (0, 0, 0, 0), figures.report()
    assert figures.events == LOAD_TARGETS  # each hostname mismatch announced, once
    assert figures.exit_status == 0, figures.output[-3000:]
    assert "moto served" in figures.moto


def test_the_stack_starts_again_on_the_same_ports_with_fresh_state(token: str) -> None:
    ports = free_ports()
    with local_stack(ports, token) as first:
        status, created = first.call("POST", "/targets", {"target": f"tls://127.0.0.1:{ports.demo}"})
        assert status == 201, created
        assert [item["id"] for item in first.call("GET", "/targets")[1]["items"]] == [created["id"]]
        # A browser tab on the API keeps its connection open while Ctrl-C is pressed.
        browser = http.client.HTTPConnection("127.0.0.1", ports.api, timeout=15)
        try:
            browser.request("GET", "/openapi.json")
            assert browser.getresponse().read()
            assert first.interrupt() == 0, first.output
        finally:
            browser.close()

    with local_stack(ports, token) as second:
        status, listed = second.call("GET", "/targets")
        gone, _ = second.call("GET", f"/targets/{created['id']}")
        assert second.interrupt() == 0, second.output

    assert (status, listed["items"]) == (200, [])
    assert gone == 404
    assert "stopping" in second.output


def test_a_certificate_imported_into_the_local_acm_is_listed_with_its_findings(token: str) -> None:
    import boto3

    ports = free_ports()
    now = datetime.now(UTC)
    # Mid-day, so the whole days left cannot flip while the test runs.
    issued = make_cert("imported.local.test", not_before=now - timedelta(days=30), not_after=now + timedelta(days=40.5))
    with local_stack(ports, token) as stack:
        acm = boto3.client(
            "acm",
            endpoint_url=f"http://127.0.0.1:{ports.aws}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        arn = acm.import_certificate(Certificate=issued.pem, PrivateKey=issued.key_pem)["CertificateArn"]
        deadline = time.monotonic() + 15  # the local stack scans its ACM every sweep (2 s here)
        row: dict[str, Any] | None = None
        while row is None and time.monotonic() < deadline:
            status, listed = stack.call("GET", "/certificates?source=acm")
            assert status == 200, listed
            row = next((item for item in listed["items"] if item["id"] == arn), None)
            if row is None:
                time.sleep(0.25)
        assert row is not None, f"{arn} not listed within 15 s:\n{stack.output}"
        stack.wait_for_output(f"Target:     {arn}", timeout=5)  # its expiry event reached the subscribers

    assert {"EXPIRING_SOON", "NOT_AUTO_RENEWED"} <= set(row["codes"])
    assert (row["source"], row["region"], row["days_left"]) == ("acm", "us-east-1", 40)
    assert row["subject"] == "CN=imported.local.test"
