"""`certwatch webhook ...` against a stack on moto's server, as an operator runs it (--local), with real receivers."""

from __future__ import annotations

import json
import time

import boto3

from tests.e2e.test_cli_admin import moto_port  # noqa: F401 (a fixture)
from tests.support.aws import certwatch_local as certwatch
from tests.support.contract import check_event
from tests.support.net import closed_port
from tests.support.webhooks import Receiver, pagerduty_shaped, signed_by

ROUTING_KEY = "R0UT1NGK3Y0123456789abcdefABCDEF"


def _ssm(port: int) -> object:
    return boto3.client(
        "ssm",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def test_a_generic_webhook_is_added_with_its_secret_shown_once_tested_listed_and_removed(moto_port: int) -> None:  # noqa: F811
    with Receiver() as receiver:
        added = certwatch(moto_port, "webhook", "add", receiver.url(), "--team", "web", "--min-severity", "warning")
        assert added.returncode == 0, added.stderr
        secret = added.stdout.strip()
        assert secret.startswith("whsec_")
        assert "shown only now" in added.stderr
        (destination_id,) = [word for word in added.stderr.split() if word.startswith("wh_")]
        receiver.judge = signed_by(secret)

        tested = certwatch(moto_port, "webhook", "test", destination_id)
        assert tested.returncode == 0, tested.stderr
        (sample,) = receiver.accepted
        assert receiver.problems == []
        check_event(sample.json(), "the sample event")
        assert sample.json()["type"] == "certificate.expiring"
        assert "certwatch webhook test" in json.dumps(sample.json()["findings"])
        assert abs(int(sample.headers["webhook-timestamp"]) - time.time()) < 300

        listing = certwatch(moto_port, "webhook", "list")
        assert listing.returncode == 0, listing.stderr
        header, *rows = listing.stdout.splitlines()
        assert header.split() == ["ID", "FORMAT", "DESTINATION", "TEAM", "MIN-SEVERITY", "TYPES", "CREATED"]
        (row,) = [r for r in rows if r.startswith(destination_id)]
        assert row.split()[1:5] == ["generic", f"http://127.0.0.1:{receiver.port}/…", "web", "warning"]
        for shown in (listing.stdout, listing.stderr, tested.stdout, tested.stderr, added.stderr):
            assert "s3cret" not in shown
            assert secret not in shown
        stored = _ssm(moto_port).get_parameter(Name=f"/certwatch/local/webhooks/{destination_id}")  # type: ignore[attr-defined]
        assert stored["Parameter"]["Type"] == "SecureString"

        removed = certwatch(moto_port, "webhook", "remove", destination_id)
        assert removed.returncode == 0, removed.stderr
        again = certwatch(moto_port, "webhook", "remove", destination_id)
        assert again.returncode == 1
        assert f"no webhook '{destination_id}'" in again.stderr
        assert "Traceback" not in again.stderr


def test_a_pagerduty_webhook_test_triggers_then_resolves(moto_port: int) -> None:  # noqa: F811
    with Receiver(judge=pagerduty_shaped, ok=202) as pagerduty:
        added = certwatch(
            moto_port,
            "webhook",
            "add",
            pagerduty.url("/v2/enqueue"),
            "--format",
            "pagerduty",
            "--routing-key",
            ROUTING_KEY,
        )
        assert added.returncode == 0, added.stderr
        assert added.stdout == ""  # nothing secret to show: the routing key is PagerDuty's
        (destination_id,) = [word for word in added.stderr.split() if word.startswith("wh_")]

        tested = certwatch(moto_port, "webhook", "test", destination_id)
        assert tested.returncode == 0, tested.stderr

    assert pagerduty.problems == []
    trigger, resolve = (d.json() for d in pagerduty.accepted)
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"]


def test_a_webhook_test_with_nothing_listening_says_it_could_not_connect(moto_port: int) -> None:  # noqa: F811
    """It once said "answered ConnectionRefusedError" at each try, and named no URL."""
    with closed_port() as port:
        added = certwatch(moto_port, "webhook", "add", f"http://127.0.0.1:{port}/hook")
        assert added.returncode == 0, added.stderr
        (destination_id,) = [word for word in added.stderr.split() if word.startswith("wh_")]

        tested = certwatch(moto_port, "webhook", "test", destination_id)

    refused = f"could not connect to http://127.0.0.1:{port}/…: connection refused (is the receiver running?)"
    assert tested.returncode == 1
    *retries, last = tested.stderr.splitlines()
    assert retries == [
        f"webhook {destination_id}: {refused}; retrying in {wait}s (attempt {n})"
        for n, wait in ((1, "1.0"), (2, "2.0"), (3, "4.0"))
    ]
    assert last == f"certwatch: webhook {destination_id}: {refused}; gave up after 4 attempts"
    assert certwatch(moto_port, "webhook", "remove", destination_id).returncode == 0


def test_a_destination_on_the_metadata_service_is_refused(moto_port: int) -> None:  # noqa: F811
    # (10.0.0.0/8 and names that resolve there: tests/e2e/test_webhooks_aws.py and tests/functional/test_webhooks.py)
    refused = certwatch(moto_port, "webhook", "add", "https://169.254.169.254/latest/meta-data/")
    assert refused.returncode == 1, refused.stdout
    assert "refused 169.254.169.254: link-local" in refused.stderr
    assert "Traceback" not in refused.stderr
    stored = _ssm(moto_port).get_parameters_by_path(Path="/certwatch/local/webhooks")  # type: ignore[attr-defined]
    assert [p["Name"] for p in stored["Parameters"] if "169.254" in p["Value"]] == []
