"""Webhook rules: the Standard Webhooks signature, URLs and filters, incidents, the PagerDuty and Teams bodies."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chalicelib.domain.alerts import AlertPolicy, EventType, incident
from chalicelib.domain.models import Severity
from chalicelib.domain.webhooks import (
    Destination,
    Format,
    message_id,
    new_destination_id,
    new_secret,
    parse_url,
    secret_key,
    signature,
)
from chalicelib.errors import InvalidValueError
from chalicelib.presentation.event_shapes import EventDocument
from chalicelib.presentation.events import pagerduty_event, teams_message
from chalicelib.presentation.schema import from_json
from chalicelib.services.webhooks import CLAIM_LEASE, new_destination
from lab.certs import make_cert
from tests.support.events import event_data
from tests.support.pki import Pki
from tests.unit.test_alerts import DAY, HOUR, NAME, TARGET, Watch, leaf_until

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "data" / "adaptive-card-1.4.schema.json").read_text())
CARD = jsonschema.Draft6Validator(SCHEMA, format_checker=jsonschema.Draft6Validator.FORMAT_CHECKER)
ROUTING_KEY = "R0UT1NGK3Y0123456789abcdefABCDEF"


# --- the signature ---------------------------------------------------------------------------------


def test_the_signature_is_the_one_the_standard_webhooks_reference_library_computes() -> None:
    # The test vector of standard-webhooks/libraries (python tests, test_sign_function).
    secret, webhook_id = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek"
    body = b'{"test": 2432232314}'
    assert signature(secret, webhook_id, 1614265330, body) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert secret_key(secret) == base64.b64decode(secret.removeprefix("whsec_"))
    assert new_secret() != secret


@pytest.mark.parametrize(
    "secret",
    ["", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2hvcnQ=", "whsec_not base64 at all!!"],
    ids=["empty", "prefix-only", "no-prefix", "too-short", "not-base64"],
)
def test_what_is_no_signing_secret_is_refused(secret: str) -> None:
    with pytest.raises(InvalidValueError, match="whsec_ followed by the base64"):
        secret_key(secret)


def test_the_message_id_is_stable_and_has_no_full_stop() -> None:
    key = "arn:aws:acm:eu-west-1:123456789012:certificate/abc:00ff:expiring:30"
    assert message_id(key) == message_id(key)
    assert message_id(key) != message_id(key + "x")
    assert message_id(key).startswith("msg_")
    assert "." not in message_id(key)


# --- destination URLs ------------------------------------------------------------------------------


def test_a_url_is_read_into_host_port_and_request_target() -> None:
    url = parse_url(" https://Hooks.Example.COM:8443/in/certwatch?token=s3cret#ignored ")
    assert (url.scheme, url.host, url.port) == ("https", "hooks.example.com", 8443)
    assert url.target == "/in/certwatch?token=s3cret"
    assert url.shown == "https://hooks.example.com:8443/…"
    assert "s3cret" not in repr(url)
    assert parse_url("https://hooks.example.com").target == "/"
    assert parse_url("http://127.0.0.1/x").port == 80
    assert parse_url("https://[2001:db8::1]/x").host == "2001:db8::1"
    assert parse_url("https://[2001:db8::1]/x").shown == "https://[2001:db8::1]/…"
    assert parse_url("https://bücher.example/").host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example.com/s3cret", "starts with https://"),
        ("hooks.example.com/s3cret", "starts with https://"),
        ("https://user:s3cret@hooks.example.com/", "no user name or password"),
        ("https:///s3cret", "no host"),
        ("https://hooks.example.com:99999/s3cret", "cannot be read"),
        ("https://bad_host!.example/s3cret", "invalid host"),
    ],
)
def test_a_bad_url_is_refused_without_repeating_it(url: str, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message) as refused:
        parse_url(url)
    assert "s3cret" not in str(refused.value)


def test_a_destination_holds_its_secret_out_of_its_repr() -> None:
    destination = new_destination("https://hooks.example.com/a?t=s3cret", vet=lambda url: [], now=_now())
    assert destination.format is Format.GENERIC
    assert destination.secret.startswith("whsec_")
    assert destination.secret not in repr(destination)
    assert "s3cret" not in repr(destination)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": Format.PAGERDUTY}, "needs --routing-key"),
        ({"format": Format.PAGERDUTY, "routing_key": "short"}, "routing key"),
        ({"routing_key": ROUTING_KEY}, "pagerduty only"),
        ({"format": Format.TEAMS, "secret": new_secret()}, "generic only"),
        ({"secret": "whsec_c2hvcnQ="}, "whsec_ followed by"),
        ({"team": "Not A Team"}, "team 'Not A Team'"),
        ({"min_severity": "bad"}, "info, warning or critical"),
        ({"types": ["certificate.gone"]}, "unknown event type"),
    ],
)
def test_new_destination_refuses_what_does_not_fit_its_format(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        new_destination("https://hooks.example.com/", vet=lambda url: [], now=_now(), **kwargs)


def test_new_destination_asks_vet_about_the_url() -> None:
    asked: list[str] = []

    def refuse(url: Any) -> None:
        asked.append(url.host)
        raise InvalidValueError("refused by the address policy")

    with pytest.raises(InvalidValueError, match="address policy"):
        new_destination("https://internal.example/", vet=refuse, now=_now())
    assert asked == ["internal.example"]


def test_a_claim_outlasts_the_webhooks_function_so_lambdas_retry_finds_a_dead_claim_free() -> None:
    config = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json").read_text())
    for stage, settings in config["stages"].items():
        timeout = settings["lambda_functions"]["webhooks"]["lambda_timeout"]
        assert 0 < timeout <= CLAIM_LEASE.total_seconds(), stage


# --- filters -----------------------------------------------------------------------------------------


def _document(
    type: str = "certificate.expiring", severity: str = "critical", team: str = "web"
) -> tuple[str, EventType, Severity]:
    """What a destination's filters read of an event: its team, type and severity."""
    return team, EventType(type), Severity(severity)


def _destination(**kwargs: Any) -> Destination:
    return Destination(new_destination_id(), url=parse_url("https://hooks.example.com/"), **kwargs)


def test_filters_by_team_severity_and_type() -> None:
    everything = _destination(format=Format.GENERIC)
    web_critical = _destination(format=Format.GENERIC, team="web", min_severity=Severity.CRITICAL)
    expiry = _destination(format=Format.GENERIC, types=frozenset({EventType.EXPIRING, EventType.EXPIRED}))
    cases = {
        "critical expiring, web": _document(),
        "warning expiring, web": _document(severity="warning"),
        "critical expiring, api": _document(team="api"),
        "info renewed, web": _document(type="certificate.renewed", severity="info"),
        "critical unreachable, web": _document(type="endpoint.unreachable"),
    }
    wanted = {name: [d.wants(*doc) for d in (everything, web_critical, expiry)] for name, doc in cases.items()}
    assert wanted == {
        "critical expiring, web": [True, True, True],
        "warning expiring, web": [True, False, True],
        "critical expiring, api": [True, False, True],
        "info renewed, web": [True, False, False],
        "critical unreachable, web": [True, True, False],
    }


def test_pagerduty_gets_the_resolving_events_of_its_team_whatever_its_other_filters() -> None:
    pager = _destination(
        format=Format.PAGERDUTY, team="web", min_severity=Severity.CRITICAL, types=frozenset({EventType.EXPIRING})
    )
    assert pager.wants(*_document(type="certificate.renewed", severity="info"))
    assert pager.wants(*_document(type="certificate.recovered", severity="info"))
    assert not pager.wants(*_document(type="certificate.recovered", severity="info", team="api"))
    assert not pager.wants(*_document(type="endpoint.unreachable"))
    assert not pager.wants(*_document(severity="warning"))


# --- incidents: what opens one is what closes it -------------------------------------------------------


def test_every_threshold_and_the_expiry_of_a_certificate_are_one_incident_its_renewal_closes(
    pki: Pki, now: datetime
) -> None:
    watch = Watch(pki.trust)
    old = [leaf_until(pki, now, 20 * DAY), pki.intermediate]
    for day in (0, 7, 14, 18, 21):
        watch.check(old, now + day * DAY)
    watch.check([leaf_until(pki, now + 21 * DAY, 80 * DAY), pki.intermediate], now + 22 * DAY)
    opening = watch.of_type(EventType.EXPIRING) + watch.of_type(EventType.EXPIRED)
    (renewed,) = watch.of_type(EventType.RENEWED)
    assert len(opening) >= 4
    assert {incident(e.key, e.type) for e in opening} == {incident(renewed.key, renewed.type)}
    assert incident(renewed.key, renewed.type) == f"{TARGET}:{old[0].fingerprint}"


def test_an_unreachable_episode_is_one_incident_its_recovery_closes(pki: Pki, now: datetime) -> None:
    watch = Watch(pki.trust)
    chain = [leaf_until(pki, now, 80 * DAY), pki.intermediate]
    for episode in range(2):
        start = now + episode * 10 * HOUR
        watch.check(chain, start)
        watch.fail(start + HOUR)
        watch.fail(start + 2 * HOUR)
        watch.check(chain, start + 3 * HOUR)
    down, recovered = watch.of_type(EventType.UNREACHABLE), watch.of_type(EventType.RECOVERED)
    assert [incident(e.key, e.type) for e in down] == [incident(e.key, e.type) for e in recovered]
    assert len({incident(e.key, e.type) for e in down}) == 2


def test_a_problem_episode_is_one_incident_its_recovery_closes(pki: Pki, now: datetime) -> None:
    watch = Watch(pki.trust)
    mismatch = [make_cert("other.example.com", issuer=pki.intermediate, now=now), pki.intermediate]
    self_signed = [make_cert("other.example.com", now=now)]
    healthy = [leaf_until(pki, now, 80 * DAY), pki.intermediate]
    watch.check(mismatch, now)
    watch.check(self_signed, now + HOUR)  # a new code in the same episode
    watch.check(healthy, now + 2 * HOUR)
    problems, (recovered,) = watch.of_type(EventType.PROBLEM), watch.of_type(EventType.RECOVERED)
    assert len(problems) == 2
    assert {incident(e.key, e.type) for e in problems} == {incident(recovered.key, recovered.type)}
    assert incident(recovered.key, recovered.type) == f"{TARGET}:problems:0"


def test_a_still_critical_reminder_opens_no_incident(pki: Pki, now: datetime) -> None:
    watch = Watch(pki.trust, AlertPolicy(repeat_critical_hours=1))
    chain = [make_cert(NAME, now=now)]
    for hours in range(4):
        watch.check(chain, now + hours * HOUR)
    repeats = [e for e in watch.events if ":repeat:" in e.key]
    assert repeats
    assert {incident(e.key, e.type) for e in repeats} == {None}


# --- PagerDuty ------------------------------------------------------------------------------------------


def _event_document(type: str, key: str, severity: str = "critical", url: str | None = None) -> EventDocument:
    return from_json(EventDocument, event_data(type, key, severity, url))


@pytest.mark.parametrize("severity", ["critical", "warning", "info"])
def test_an_opening_event_is_a_trigger_with_its_incident_as_dedup_key(severity: str) -> None:
    key = f"{TARGET}:{'ab' * 32}:expiring:3"
    event = pagerduty_event(_event_document("certificate.expiring", key, severity, "https://cw.example/t"), ROUTING_KEY)
    assert event is not None
    assert event["event_action"] == "trigger"
    assert event["routing_key"] == ROUTING_KEY
    assert event["dedup_key"] == f"{TARGET}:{'ab' * 32}"
    payload = event["payload"]
    assert payload["severity"] == severity
    assert payload["summary"] == "api.example.com:443 certificate expires in 3 days (2026-12-01)"
    assert (payload["source"], payload["group"]) == ("api.example.com:443", "web")
    assert payload["class"] == "certificate.expiring"
    assert payload["custom_details"]["issuer"] == "Example CA"
    assert event["links"] == [{"href": "https://cw.example/t", "text": "Open target in certwatch"}]


def test_pagerduty_and_teams_link_to_the_page_of_the_target_when_the_document_names_it() -> None:
    data = event_data("certificate.expiring", f"{TARGET}:{'ab' * 32}:expiring:3", url="https://cw.example/t")
    page = "https://cw.example/dashboard#target=t&team=web"
    data["target"]["page_url"] = page
    document = from_json(EventDocument, data)

    event = pagerduty_event(document, ROUTING_KEY)
    card = teams_message(document)["attachments"][0]["content"]

    assert event is not None
    assert event["client_url"] == page
    assert event["links"] == [{"href": page, "text": "Open target in certwatch"}]
    assert card["actions"][0]["url"] == page


def test_a_renewal_resolves_the_incident_of_the_certificate_it_replaces() -> None:
    old = "ab" * 32
    event = pagerduty_event(_event_document("certificate.renewed", f"{TARGET}:{old}:renewed:{'cd' * 32}", "info"), "k")
    assert event == {"routing_key": "k", "event_action": "resolve", "dedup_key": f"{TARGET}:{old}"}


def test_a_reminder_and_a_key_of_no_incident_send_nothing() -> None:
    assert pagerduty_event(_event_document("certificate.problem", f"{TARGET}:{'ab' * 32}:repeat:7"), "k") is None
    assert pagerduty_event(_event_document("certificate.revoked", f"{TARGET}:x"), "k") is None


def test_a_dedup_key_longer_than_pagerduty_takes_is_hashed() -> None:
    target = "arn:aws:acm:eu-west-1:123456789012:certificate/" + "x" * 200
    event = pagerduty_event(_event_document("certificate.expiring", f"{target}:{'ab' * 32}:expiring:3"), "k")
    assert event is not None
    assert len(event["dedup_key"]) <= 255
    assert event["dedup_key"].startswith("sha256:")


# --- Teams -------------------------------------------------------------------------------------------------


def test_the_teams_message_carries_a_valid_adaptive_card_with_the_slack_facts() -> None:
    document = _event_document("certificate.expiring", "k", url="https://cw.example/targets/tg")
    message = teams_message(document)
    (attachment,) = message["attachments"]
    assert message["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert [e.message for e in CARD.iter_errors(card)] == []
    text = _card_text(card)
    for fact in ("Target: ", "https://api.example.com:443", "Days left: ", "3", "Issuer: ", "Example CA", "Team: "):
        assert fact in text
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open target", "url": "https://cw.example/targets/tg"}
    ]


def test_the_schema_check_would_catch_a_broken_card() -> None:
    card = teams_message(_event_document("certificate.expiring", "k"))["attachments"][0]["content"]
    card["body"][0]["colour"] = "red"
    assert list(CARD.iter_errors(card))


def test_text_from_a_served_certificate_never_reaches_markdown() -> None:
    data = event_data("certificate.problem", "k")
    data["certificate"]["issuer"] = "CN=[Click to renew](https://evil.example)"
    data["findings"][0]["message"] = "**urgent** [renew here](https://evil.example)"
    card = teams_message(from_json(EventDocument, data))["attachments"][0]["content"]
    assert [e.message for e in CARD.iter_errors(card)] == []
    markdown = [block["text"] for block in card["body"] if block["type"] == "TextBlock"]
    assert not any("evil" in text for text in markdown)
    assert "evil.example" in _card_text(card)  # shown, as plain text runs


# --- owner, runbook and notes --------------------------------------------------------------------------

RUNBOOK = "https://wiki.example.com/runbooks/tls?team=web&step=renew"


def _owned_document(runbook: str = RUNBOOK, url: str | None = "https://cw.example/t") -> EventDocument:
    data = event_data("certificate.expiring", f"{TARGET}:{'ab' * 32}:expiring:3", url=url)
    data["target"] |= {"owner": "web-oncall", "runbook_url": runbook, "notes": "Renewed by cert-manager."}
    return from_json(EventDocument, data)


def test_pagerduty_details_name_the_owner_runbook_and_notes_and_link_the_runbook() -> None:
    event = pagerduty_event(_owned_document(), ROUTING_KEY)
    assert event is not None
    details = event["payload"]["custom_details"]
    assert (details["owner"], details["runbook_url"], details["notes"]) == (
        "web-oncall",
        RUNBOOK,
        "Renewed by cert-manager.",
    )
    assert event["links"] == [
        {"href": "https://cw.example/t", "text": "Open target in certwatch"},
        {"href": RUNBOOK, "text": "Runbook"},
    ]


def test_pagerduty_without_owner_or_runbook_has_neither() -> None:
    event = pagerduty_event(_event_document("certificate.expiring", f"{TARGET}:{'ab' * 32}:expiring:3"), ROUTING_KEY)
    assert event is not None
    assert not {"owner", "runbook_url", "notes"} & set(event["payload"]["custom_details"])
    assert "links" not in event


def test_the_teams_card_shows_owner_runbook_and_notes_and_opens_the_runbook() -> None:
    card = teams_message(_owned_document())["attachments"][0]["content"]
    assert [e.message for e in CARD.iter_errors(card)] == []
    text = _card_text(card)
    for fact in ("Owner: web-oncall", f"Runbook: {RUNBOOK}", "Notes: Renewed by cert-manager."):
        assert fact in text
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open target", "url": "https://cw.example/t"},
        {"type": "Action.OpenUrl", "title": "Open runbook", "url": RUNBOOK},
    ]
    alone = teams_message(_owned_document(url=None))["attachments"][0]["content"]
    assert alone["actions"] == [{"type": "Action.OpenUrl", "title": "Open runbook", "url": RUNBOOK}]
    assert [e.message for e in CARD.iter_errors(alone)] == []


def test_a_runbook_in_teams_is_plain_text_and_its_action_an_encoded_url() -> None:
    card = teams_message(_owned_document("https://wiki.example.com/[x](https://evil.example)|a"))["attachments"][0]
    content = card["content"]
    assert [e.message for e in CARD.iter_errors(content)] == []
    markdown = [block["text"] for block in content["body"] if block["type"] == "TextBlock"]
    assert not any("evil" in text for text in markdown)
    assert content["actions"][-1]["url"] == "https://wiki.example.com/[x](https://evil.example)%7Ca"


def _card_text(card: dict[str, Any]) -> str:
    parts = []
    for block in card["body"]:
        if block["type"] == "TextBlock":
            parts.append(block["text"])
        for inline in block.get("inlines", []):
            parts.append(inline["text"])
    return "".join(parts)


def _now() -> datetime:
    return datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
