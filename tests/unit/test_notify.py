"""Rendering alert events: the SNS JSON document (v1), the email subject and text, attributes, and Slack blocks."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.alerts import (
    AlertEvent,
    AlertPolicy,
    AlertState,
    AlertSubject,
    Holder,
    Notification,
    Observation,
    decide,
)
from chalicelib.domain.analysis import analyze_chain
from chalicelib.domain.models import (
    CheckPolicy,
    CheckResult,
    Endpoint,
    FailureReason,
    Finding,
    FindingCode,
    Severity,
    Status,
    TargetReport,
    status_for,
)
from chalicelib.domain.targets import Target, TargetSpec
from chalicelib.presentation import result_shapes
from chalicelib.presentation.event_shapes import DOCUMENT_VERSION
from chalicelib.presentation.events import attributes, email_subject, pagerduty_event, slack_message, teams_message
from lab.certs import Issued, make_ca, make_cert
from tests.support.events import rendered, subject_line, text, typed
from tests.support.pki import Pki

HOST = "api.example.com"
TARGET_ID = "tg_0000000000aa1b2c3d4e"
BASE_URL = "https://certwatch.example.com/"
EXPIRES = datetime(2026, 12, 1, tzinfo=UTC)
SLACK_TEXT_LIMIT = 3000
PAGE_URL = f"https://certwatch.example.com/dashboard#target={TARGET_ID}&team=payments"


def make_target(host: str = HOST, *, labels: dict[str, str] | None = None, **spec_fields: Any) -> Target:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    labels = {"env": "prod", "app": "api"} if labels is None else labels
    spec = TargetSpec(Endpoint(host, 443), labels=labels, **spec_fields)
    return Target(TARGET_ID, "payments", spec, created, created, created)


def report_for(chain: list[Issued], now: datetime, pki: Pki, host: str = HOST) -> TargetReport:
    analysis = analyze_chain([c.der for c in chain], name=host, now=now, trust=pki.trust, policy=CheckPolicy())
    result = CheckResult(
        "192.0.2.10",
        status_for(analysis.findings),
        now,
        analysis.findings,
        analysis.leaf,
        analysis.chain,
        analysis.trusted_by,
    )
    return TargetReport(Endpoint(host, 443), (result,), now)


def note_of(event: AlertEvent, target: Target, report: TargetReport, now: datetime) -> Notification:
    return Notification.of(event, AlertSubject.of_target(target), Observation.of(report), now)


def only_event(report: TargetReport, now: datetime, state: AlertState | None = None) -> AlertEvent:
    _, events = decide(TARGET_ID, state or AlertState(), report, AlertPolicy(), now)
    (event,) = events
    return event


@pytest.fixture
def expiring(pki: Pki, now: datetime) -> tuple[AlertEvent, TargetReport, Issued]:
    """The leaf of api.example.com expires on 2026-12-01, three and a half days after ``now``."""
    leaf = make_cert(HOST, issuer=pki.intermediate, not_after=EXPIRES, now=now)
    report = report_for([leaf, pki.intermediate], now, pki)
    return only_event(report, now), report, leaf


@pytest.fixture
def note(expiring: tuple[AlertEvent, TargetReport, Issued], now: datetime) -> Notification:
    event, report, _ = expiring
    return note_of(event, make_target(), report, now)


def unreachable_note(now: datetime) -> Notification:
    refused = Finding(
        FindingCode.CONNECTION_FAILED, Severity.CRITICAL, "connection refused", reason=FailureReason.REFUSED
    )
    report = TargetReport(Endpoint(HOST, 443), (CheckResult("192.0.2.10", Status.ERROR, now, (refused,)),), now)
    state = AlertState(failures=1)
    return note_of(only_event(report, now, state), make_target(), report, now)


def texts(blocks: list[dict[str, Any]]) -> Iterator[str]:
    """Every text object's text in a list of Block Kit blocks."""
    for block in blocks:
        if "text" in block:
            yield block["text"]["text"]
        for item in block.get("fields", []) + block.get("elements", []):
            if isinstance(item.get("text"), dict):
                yield item["text"]["text"]
            elif "text" in item:
                yield item["text"]


# --- the SNS document --------------------------------------------------------------------------


def test_the_document_is_versioned_json(note: Notification, expiring: tuple[AlertEvent, TargetReport, Issued]) -> None:
    event, _, leaf = expiring
    document = rendered(note, BASE_URL)
    assert json.loads(json.dumps(document)) == document
    assert document["version"] == DOCUMENT_VERSION == 1
    assert document["id"] == event.key == note.key
    assert document["type"] == "certificate.expiring"
    assert document["severity"] == "critical"
    assert document["summary"] == "certificate expires in 3 days (2026-12-01)"
    assert document["team"] == "payments"
    assert document["target"] == {
        "id": TARGET_ID,
        "source": "endpoint",
        "target": "https://api.example.com:443",
        "host": HOST,
        "port": 443,
        "protocol": "https",
        "sni": None,
        "labels": {"env": "prod", "app": "api"},
        "url": f"https://certwatch.example.com/targets/{TARGET_ID}",
        "page_url": PAGE_URL,
        "owner": None,
        "runbook_url": None,
        "notes": None,
    }
    certificate = document["certificate"]
    assert certificate["subject"] == f"CN={HOST}"
    assert certificate["issuer"] == "CN=certwatch Test Intermediate"
    assert certificate["fingerprint_sha256"] == leaf.fingerprint
    assert certificate["not_after"] == "2026-12-01T00:00:00Z"
    assert document["days_left"] == 3
    assert document["not_after"] == "2026-12-01T00:00:00Z"
    assert document["threshold_days"] == 7
    assert document["status"] == "critical"
    assert [f["code"] for f in document["findings"]] == ["EXPIRING_SOON"]
    assert document["checked_at"] == "2026-11-27T12:00:00Z"
    assert document["published_at"] == "2026-11-27T12:00:00Z"


def test_an_unreachable_document_has_no_certificate(now: datetime) -> None:
    note = unreachable_note(now)
    document = rendered(note)
    assert document["type"] == "endpoint.unreachable"
    assert document["certificate"] is None
    assert document["days_left"] is None
    assert document["target"]["url"] is None
    assert document["target"]["page_url"] is None
    assert [(f["code"], f["reason"]) for f in document["findings"]] == [("CONNECTION_FAILED", "refused")]
    assert "days_left" not in attributes(typed(note))


def test_a_renewed_document_names_the_previous_certificate(pki: Pki, now: datetime) -> None:
    old = make_cert(HOST, issuer=pki.intermediate, not_after=EXPIRES, now=now)
    state, _ = decide(TARGET_ID, AlertState(), report_for([old, pki.intermediate], now, pki), AlertPolicy(), now)
    new = make_cert(HOST, issuer=pki.intermediate, now=now)
    report = report_for([new, pki.intermediate], now, pki)
    event = only_event(report, now, state)
    document = rendered(note_of(event, make_target(), report, now))
    assert document["type"] == "certificate.renewed"
    assert document["previous_fingerprint"] == old.fingerprint
    assert document["certificate"]["fingerprint_sha256"] == new.fingerprint


# --- email -------------------------------------------------------------------------------------


def test_the_email_subject_says_it_all(note: Notification) -> None:
    assert subject_line(note) == "[certwatch] CRITICAL api.example.com:443 certificate expires in 3 days (2026-12-01)"
    assert subject_line(note, BASE_URL) == email_subject(typed(note))


def test_a_long_subject_is_cut_to_what_sns_takes(pki: Pki, now: datetime) -> None:
    host = ("a" * 60 + ".") * 3 + "example.com"
    leaf = make_cert("long.example.com", sans=[host], issuer=pki.intermediate, not_after=EXPIRES, now=now)
    report = report_for([leaf, pki.intermediate], now, pki, host)
    note = note_of(only_event(report, now), make_target(host), report, now)
    subject = subject_line(note)
    assert len(subject) <= 100
    assert subject.startswith("[certwatch] CRITICAL aaaa")
    assert subject.endswith("…")
    assert "\n" not in subject


def test_the_email_text_tells_what_where_and_when(note: Notification) -> None:
    body = text(note, BASE_URL)
    assert body.startswith("CRITICAL: certificate expires in 3 days (2026-12-01)")
    assert "https://api.example.com:443" in body
    assert "payments" in body
    assert "Days left:  3 (expires 2026-12-01T00:00:00Z)" in body
    assert "Issuer:     CN=certwatch Test Intermediate" in body
    assert "EXPIRING_SOON" in body
    assert "app=api, env=prod" in body
    assert f"Details:    {PAGE_URL}\n" in body  # the page a person opens, not the API's JSON
    assert "/targets/" not in body
    assert note.key in body


def test_the_email_text_lists_every_finding(pki: Pki, now: datetime) -> None:
    leaf = make_cert("other.example.com", issuer=pki.intermediate, key="rsa1024", now=now)
    report = report_for([leaf], now, pki)
    note = note_of(only_event(report, now), make_target(), report, now)
    body = text(note)
    for code in ("HOSTNAME_MISMATCH", "INCOMPLETE_CHAIN", "WEAK_KEY"):
        assert f"critical {code}: " in body
    assert "Days left" in body


# --- message attributes ------------------------------------------------------------------------


def test_message_attributes_let_subscribers_filter(note: Notification) -> None:
    found = attributes(typed(note))
    assert found == {
        "type": "certificate.expiring",
        "severity": "critical",
        "team": "payments",
        "days_left": "3",
    }
    assert all(isinstance(value, str) for value in found.values())
    assert found["days_left"].isdigit()


def test_an_expired_certificate_has_negative_days_left(pki: Pki, now: datetime) -> None:
    expired = now - timedelta(days=2, hours=1)
    leaf = make_cert(HOST, issuer=pki.intermediate, not_before=expired - timedelta(days=90), not_after=expired)
    report = report_for([leaf, pki.intermediate], now, pki)
    note = note_of(only_event(report, now), make_target(), report, now)
    found = attributes(typed(note))
    assert found["type"] == "certificate.expired"
    assert found["days_left"] == "-2"
    assert int(found["days_left"]) == rendered(note)["days_left"]


@pytest.mark.parametrize(
    ("ago", "said"), [(timedelta(days=2, hours=1), "2 days ago"), (timedelta(hours=3), "1 day ago")]
)
def test_an_expired_certificate_reads_expired_n_days_ago_in_every_message(
    pki: Pki, now: datetime, ago: timedelta, said: str
) -> None:
    """Not "Days left: -2 (expires ...)"."""
    expired = now - ago
    leaf = make_cert(HOST, issuer=pki.intermediate, not_before=expired - timedelta(days=90), not_after=expired)
    report = report_for([leaf, pki.intermediate], now, pki)
    note = note_of(only_event(report, now), make_target(), report, now)
    document = typed(note, BASE_URL)
    until = rendered(note)["not_after"]

    slack = slack_message(document)["attachments"][0]["blocks"]
    fields = {f["text"].split("\n", 1)[0]: f["text"].split("\n", 1)[1] for f in slack[1]["fields"]}
    card = teams_message(document)["attachments"][0]["content"]
    runs = ["".join(run["text"] for run in block["inlines"]) for block in card["body"] if "inlines" in block]
    paged = pagerduty_event(document, "R" * 32)
    assert paged is not None
    details = paged["payload"]["custom_details"]

    body = text(note, BASE_URL)
    assert f"Expired:    {said} ({until})" in body
    assert (fields["*Expired*"], fields["*Expired on*"]) == (said, until)
    assert f"Expired: {said}" in runs
    assert (details["expired"], details["expired_on"]) == (said, until)
    for shown in (body, json.dumps(slack), json.dumps(card), json.dumps(details)):
        assert "Days left" not in shown
        assert "days_left" not in shown
        assert re.search(r"(?<![\w-])-\d", shown) is None, shown  # no negative number (dates aside)
    assert rendered(note)["days_left"] < 0  # the machine-readable number stays as it was


# --- Slack -------------------------------------------------------------------------------------


def test_the_slack_message_is_coloured_by_severity(note: Notification) -> None:
    colours = {}
    for severity in Severity:
        message = slack_message(dataclasses.replace(typed(note), severity=severity))
        (attachment,) = message["attachments"]
        colours[severity.value] = attachment["color"]
    assert colours == {"critical": "#d0021b", "warning": "#f5a623", "info": "#2e7d32"}


def test_the_slack_message_says_what_where_and_when(note: Notification) -> None:
    message = slack_message(typed(note))
    assert HOST in message["text"]
    blocks = message["attachments"][0]["blocks"]
    headline = blocks[0]["text"]["text"]
    assert "CRITICAL" in headline
    assert f"{HOST}:443" in headline
    assert "certificate expires in 3 days (2026-12-01)" in headline
    fields = {f["text"].split("\n", 1)[0]: f["text"].split("\n", 1)[1] for f in blocks[1]["fields"]}
    assert fields["*Days left*"] == "3"
    assert fields["*Expires*"] == "2026-12-01T00:00:00Z"
    assert fields["*Issuer*"] == "certwatch Test Intermediate"
    assert fields["*Target*"] == "https://api.example.com:443"
    assert fields["*Team*"] == "payments"
    assert any("EXPIRING_SOON" in text for text in texts(blocks))
    json.dumps(message)


def test_the_slack_message_links_to_the_target(note: Notification) -> None:
    blocks = slack_message(typed(note, BASE_URL))["attachments"][0]["blocks"]
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    (button,) = actions["elements"]
    assert button["type"] == "button"
    assert button["url"] == PAGE_URL


def test_no_base_url_no_button(now: datetime) -> None:
    blocks = slack_message(typed(unreachable_note(now)))["attachments"][0]["blocks"]
    assert [b for b in blocks if b["type"] == "actions"] == []
    fields = "\n".join(f["text"] for f in blocks[1]["fields"])
    assert "*Days left*\n-" in fields
    assert "*Expires*\n-" in fields
    assert any("CONNECTION_FAILED" in text for text in texts(blocks))


def test_many_findings_stay_within_slack_block_limits(note: Notification) -> None:
    findings = tuple(
        result_shapes.Finding(FindingCode.HOSTNAME_MISMATCH, Severity.CRITICAL, f"name {i} " + "x" * 200)
        for i in range(100)
    )
    document = dataclasses.replace(typed(note), summary="s" * 5000, findings=findings)
    message = slack_message(document)
    blocks = message["attachments"][0]["blocks"]
    assert all(len(text) <= SLACK_TEXT_LIMIT for text in texts(blocks))
    assert len(message["text"]) <= SLACK_TEXT_LIMIT
    assert "name 0 " in "\n".join(texts(blocks))


def test_a_monstrous_issuer_stays_within_slack_block_limits(note: Notification) -> None:
    document = typed(note)
    assert document.certificate is not None
    certificate = dataclasses.replace(document.certificate, issuer="O=" + "x" * 5000)  # no CN: shown whole
    message = slack_message(dataclasses.replace(document, certificate=certificate))
    assert all(len(text) <= SLACK_TEXT_LIMIT for text in texts(message["attachments"][0]["blocks"]))


def test_a_served_certificate_cannot_ping_the_channel(now: datetime, pki: Pki) -> None:
    evil_ca = make_ca("Evil <!channel> CA", now=now)
    leaf = make_cert(HOST, sans=["<!channel>.example", "<https://evil.example|login>"], issuer=evil_ca, now=now)
    report = report_for([leaf, evil_ca], now, pki)
    note = note_of(only_event(report, now), make_target(), report, now)
    message = slack_message(typed(note))
    shown = "\n".join([message["text"], *texts(message["attachments"][0]["blocks"])])
    assert "<!channel>" not in shown
    assert "<https://evil.example" not in shown
    assert "&lt;!channel&gt;" in shown


def test_the_link_of_an_event_many_endpoints_share_opens_the_certificates_row(
    expiring: tuple[AlertEvent, TargetReport, Issued], now: datetime
) -> None:
    event, report, leaf = expiring
    holders = tuple(Holder("endpoint", f"tg_{n:020x}", f"https://n{n}.example.com:443") for n in range(3))
    note = note_of(dataclasses.replace(event, holders=holders), make_target(), report, now)

    document = rendered(note, BASE_URL)

    assert document["target"]["page_url"] == (
        f"https://certwatch.example.com/dashboard#certificate={leaf.fingerprint}&team=payments"
    )
    assert document["target"]["url"] == f"https://certwatch.example.com/targets/{TARGET_ID}"
    assert [e["target"] for e in document["endpoints"]] == [h.name for h in holders]


# --- owner, runbook and notes ------------------------------------------------------------------

OWNER = "web-oncall@example.com"
RUNBOOK = "https://wiki.example.com/runbooks/tls?team=web&step=renew#acm"
NOTES = "Renewed by cert-manager.\nAsk #web-platform before touching the ingress."


@pytest.fixture
def owned(expiring: tuple[AlertEvent, TargetReport, Issued], now: datetime) -> Notification:
    """The expiring note of a target that names its owner, its runbook and notes."""
    event, report, _ = expiring
    return note_of(event, make_target(owner=OWNER, runbook_url=RUNBOOK, notes=NOTES), report, now)


def slack_fields(message: dict[str, Any]) -> dict[str, str]:
    blocks = message["attachments"][0]["blocks"]
    return {f["text"].split("\n", 1)[0]: f["text"].split("\n", 1)[1] for f in blocks[1]["fields"]}


def test_the_document_names_the_owner_runbook_and_notes_of_the_target(owned: Notification) -> None:
    target = rendered(owned, BASE_URL)["target"]  # the generic webhook's body, checked against the schema
    assert (target["owner"], target["runbook_url"], target["notes"]) == (OWNER, RUNBOOK, NOTES)


def test_the_email_says_who_owns_it_how_to_act_and_the_notes(owned: Notification) -> None:
    body = text(owned, BASE_URL)
    assert f"\nOwner:      {OWNER}\n" in body
    assert f"\nRunbook:    {RUNBOOK}\n" in body
    assert (
        "\nNotes:      Renewed by cert-manager.\n            Ask #web-platform before touching the ingress.\n" in body
    )
    assert body.index("Owner:") < body.index("Findings:")  # read before the details


def test_an_email_without_owner_says_nothing_of_one(note: Notification) -> None:
    body = text(note, BASE_URL)
    assert [word for word in ("Owner:", "Runbook:", "Notes:") if word in body] == []


def test_slack_shows_the_owner_and_the_runbook_as_a_link_and_a_button(owned: Notification) -> None:
    message = slack_message(typed(owned, BASE_URL))
    fields = slack_fields(message)
    assert fields["*Owner*"] == OWNER
    # The address the link opens is the text shown: nothing to disguise it; & is escaped for mrkdwn.
    assert fields["*Runbook*"] == "<https://wiki.example.com/runbooks/tls?team=web&amp;step=renew#acm>"
    blocks = message["attachments"][0]["blocks"]
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    assert [(b["text"]["text"], b["url"]) for b in actions["elements"]] == [
        ("Open target", PAGE_URL),
        ("Open runbook", RUNBOOK),
    ]
    assert "*Notes*\nRenewed by cert-manager.\nAsk #web-platform before touching the ingress." in texts(blocks)
    assert len(blocks[1]["fields"]) <= 10  # Block Kit's limit for a section's fields


def test_slack_shows_the_runbook_button_without_a_public_url(
    expiring: tuple[AlertEvent, TargetReport, Issued], now: datetime
) -> None:
    event, report, _ = expiring
    note = note_of(event, make_target(runbook_url=RUNBOOK), report, now)
    blocks = slack_message(typed(note))["attachments"][0]["blocks"]
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    assert [b["text"]["text"] for b in actions["elements"]] == ["Open runbook"]
    assert "*Owner*" not in slack_fields(slack_message(typed(note)))


def test_an_owner_or_runbook_cannot_ping_the_channel_or_disguise_a_link(
    expiring: tuple[AlertEvent, TargetReport, Issued], now: datetime
) -> None:
    event, report, _ = expiring
    target = make_target(
        owner="<!channel> <https://evil.example|web-oncall>",
        runbook_url="https://wiki.example.com/tls|<!here>&<https://evil.example|Renew>",
        notes="<!everyone> see <https://evil.example|the runbook>",
    )
    message = slack_message(typed(note_of(event, target, report, now), BASE_URL))
    blocks = message["attachments"][0]["blocks"]
    shown = "\n".join([message["text"], *texts(blocks)])
    for unsafe in ("<!channel>", "<!here>", "<!everyone>", "<https://evil", "|web-oncall>", "|Renew>"):
        assert unsafe not in shown, unsafe
    assert "&lt;!channel&gt;" in slack_fields(message)["*Owner*"]
    runbook = slack_fields(message)["*Runbook*"]
    assert runbook == "<https://wiki.example.com/tls%7C%3C!here%3E&amp;%3Chttps://evil.example%7CRenew%3E>"
    assert (runbook.count("<"), runbook.count(">"), runbook.count("|")) == (1, 1, 0)
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    button = actions["elements"][1]["url"]
    assert (button.count("<"), button.count("|")) == (0, 0)
