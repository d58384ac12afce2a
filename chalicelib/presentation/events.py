"""Rendering alert events for people: the SNS message (JSON document, email text, attributes), Slack,
PagerDuty (Events API v2) and Microsoft Teams (an Adaptive Card).

The JSON document is versioned and is the contract for subscribers; the email text, the Slack
blocks, the PagerDuty event and the Teams card are made from it, so every channel says the same thing.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from datetime import datetime
from typing import Any

from chalicelib.domain.alerts import CLOSING, AlertEvent, AlertSubject, EventType, Notification, incident
from chalicelib.domain.models import Severity, short_name
from chalicelib.domain.targets import Target
from chalicelib.presentation.reports import endpoint_fields, finding_to_dict, iso

DOCUMENT_VERSION = 1
_COLOURS = {"critical": "#d0021b", "warning": "#f5a623", "info": "#2e7d32"}
_SLACK_TEXT_LIMIT = 2900  # Block Kit section text is limited to 3000 characters
_SLACK_FIELD_LIMIT = 1900  # and a field's text to 2000
_TEAMS_COLOURS = {"critical": "attention", "warning": "warning", "info": "good"}
_PAGERDUTY_SUMMARY_LIMIT = 1024  # Events API v2: payload.summary
_PAGERDUTY_KEY_LIMIT = 255  # and dedup_key


def target_subject(target: Target, base_url: str | None = None) -> AlertSubject:
    """A registered endpoint as the subject of alerts.

    ``url`` is the target in the API (for programs: it wants a token); ``page_url`` the inventory
    page opened on it, which the messages people click link to.
    """
    endpoint, spec = target.endpoint, target.spec
    base = base_url.rstrip("/") if base_url else None
    return AlertSubject(
        id=target.id,
        team=target.team,
        warn_days=spec.warn_days,
        critical_days=spec.critical_days,
        alert_days=spec.alert_days,
        details={
            "id": target.id,
            "source": "endpoint",
            **endpoint_fields(endpoint),
            "sni": endpoint.sni,
            "labels": dict(spec.labels),
            "url": f"{base}/targets/{target.id}" if base else None,
            "page_url": page_url(base, target.id, target.team) if base else None,
        },
    )


def page_url(base_url: str, target_id: str, team: str) -> str:
    """The inventory page (GET /dashboard) opened on one target, once a token is given."""
    return f"{base_url.rstrip('/')}/dashboard#" + urllib.parse.urlencode({"target": target_id, "team": team})


def notification(
    event: AlertEvent,
    subject: AlertSubject | Target,
    report_document: dict[str, Any],
    now: datetime,
    *,
    base_url: str | None = None,
) -> Notification:
    """The Notification of ``event`` about ``subject``, from the check result document."""
    if isinstance(subject, Target):
        subject = target_subject(subject, base_url)
    document: dict[str, Any] = {
        "version": DOCUMENT_VERSION,
        "id": event.key,
        "type": event.type.value,
        "severity": event.severity.value,
        "summary": event.summary,
        "team": subject.team,
        "target": subject.details,
        "certificate": _soonest_leaf(report_document),
        "days_left": report_document.get("days_left"),
        "not_after": report_document.get("not_after"),
        "threshold_days": event.threshold_days,
        "previous_fingerprint": event.previous_fingerprint,
        "status": report_document.get("status"),
        "findings": [finding_to_dict(f) for f in event.findings] or report_document.get("findings", []),
        "checked_at": report_document.get("checked_at"),
        "published_at": iso(now),
    }
    attributes = {"type": event.type.value, "severity": event.severity.value, "team": subject.team}
    if isinstance(document["days_left"], int):
        attributes["days_left"] = str(document["days_left"])
    return Notification(
        key=event.key,
        team=subject.team,
        target_id=subject.id,
        document=document,
        subject=email_subject(document),
        text=email_text(document),
        created_at=now,
        attributes=attributes,
    )


def email_subject(document: dict[str, Any]) -> str:
    """``[certwatch] CRITICAL api.example.com:443 certificate expires in 3 days (2026-12-01)``."""
    subject = f"[certwatch] {document['severity'].upper()} {_where(document['target'])} {document['summary']}"
    return subject if len(subject) < 100 else subject[:98] + "…"  # SNS wants subjects under 100


def email_text(document: dict[str, Any]) -> str:
    target, certificate = document["target"], document.get("certificate") or {}
    lines = [
        f"{document['severity'].upper()}: {document['summary']}",
        "",
        f"Target:     {target['target']}" + (f" (SNI {target['sni']})" if target.get("sni") else ""),
        f"Team:       {document['team']}",
        f"Event:      {document['type']}",
    ]
    if document.get("days_left") is not None:
        (left, days), (_, until) = _time_left(document)
        shown = f"{days} ({until})" if _expired(document) else f"{days} (expires {until})"
        lines.append(f"{left + ':':<12}{shown}")
    if certificate:
        lines += [
            f"Subject:    {certificate.get('subject')}",
            f"Issuer:     {certificate.get('issuer')}",
            f"Serial:     {certificate.get('serial')}",
        ]
        if certificate.get("fingerprint_sha256"):
            lines.append(f"SHA-256:    {certificate['fingerprint_sha256']}")
        if certificate.get("arn"):
            lines.append(f"ARN:        {certificate['arn']}")
    if document.get("findings"):
        lines += ["", "Findings:"]
        lines += [f"  - {f['severity']} {f['code']}: {f['message']}" for f in document["findings"]]
    if target.get("labels"):
        lines += ["", "Labels:     " + ", ".join(f"{k}={v}" for k, v in sorted(target["labels"].items()))]
    if _link(target):
        lines += ["", f"Details:    {_link(target)}"]
    lines += ["", f"Checked at {document.get('checked_at')} by certwatch (event {document['id']})."]
    return "\n".join(lines)


def slack_message(document: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook payload: Block Kit blocks in an attachment coloured by severity.

    Text that comes from a served certificate (issuer, names in messages) is escaped, so a server
    being checked cannot put ``<!channel>`` or a disguised link into the alert.
    """
    target = document["target"]
    host = _mrkdwn(_where(target))
    headline = f"*{document['severity'].upper()}* `{host}` {_mrkdwn(document['summary'])}"
    facts = event_facts(document)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline[:_SLACK_TEXT_LIMIT]}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{_mrkdwn(value)[:_SLACK_FIELD_LIMIT]}"} for name, value in facts
            ],
        },
    ]
    findings = document.get("findings") or []
    if findings:
        listed = "\n".join(f"• *{f['code']}* ({f['severity']}): {_mrkdwn(f['message'])}" for f in findings)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": listed[:_SLACK_TEXT_LIMIT]}})
    if _link(target):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open target"}, "url": _link(target)}
                ],
            }
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"certwatch · {document.get('checked_at')}"}]}
    )
    colour = _COLOURS.get(document["severity"], _COLOURS[Severity.INFO.value])
    return {"text": f"[certwatch] {headline}"[:_SLACK_TEXT_LIMIT], "attachments": [{"color": colour, "blocks": blocks}]}


def event_facts(document: dict[str, Any]) -> list[tuple[str, str]]:
    """The facts every chat message of an event shows, as (name, value) pairs."""
    target, certificate = document["target"], document.get("certificate") or {}
    return [
        ("Target", str(target["target"])),
        *_time_left(document),
        ("Issuer", short_name(str(certificate.get("issuer") or "-"))),
        ("Team", str(document["team"])),
        ("Event", str(document["type"])),
    ]


def _expired(document: dict[str, Any]) -> bool:
    days = document.get("days_left")
    return isinstance(days, int) and days < 0


def _time_left(document: dict[str, Any]) -> tuple[tuple[str, str], tuple[str, str]]:
    """("Days left", "3") and ("Expires", date); for an expired certificate ("Expired", "2 days ago") and
    ("Expired on", date): a person reads "-2 days left" as a typo."""
    days, until = document.get("days_left"), str(document.get("not_after") or "-")
    if isinstance(days, int) and days < 0:  # days_until: minus the whole days since (at least 1)
        return ("Expired", f"{-days} day{'s' if days != -1 else ''} ago"), ("Expired on", until)
    return ("Days left", "-" if days is None else str(days)), ("Expires", until)


def pagerduty_event(document: dict[str, Any], routing_key: str) -> dict[str, Any] | None:
    """A PagerDuty Events API v2 event: a trigger, or the resolve of the incident a renewal or recovery closes.

    The ``dedup_key`` is the incident the event belongs to (alerts.incident), so every expiry
    threshold of a certificate updates one incident, and its renewal resolves it. None for what
    opens no incident of its own (a "still critical" reminder).
    """
    try:
        kind = EventType(document["type"])
    except ValueError:
        return None
    key = incident(str(document["id"]), kind)
    if key is None:
        return None
    if len(key) > _PAGERDUTY_KEY_LIMIT:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    if kind in CLOSING:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": key}
    target, where = document["target"], _where(document["target"])
    details: dict[str, Any] = {name.lower().replace(" ", "_"): value for name, value in event_facts(document)}
    details["event_id"] = document["id"]
    details["findings"] = [f"{f['code']} ({f['severity']}): {f['message']}" for f in document.get("findings") or []]
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": f"{where} {document['summary']}"[:_PAGERDUTY_SUMMARY_LIMIT],
            "source": where,
            "severity": document["severity"],
            "timestamp": document.get("checked_at") or document["published_at"],
            "component": str(target.get("target") or where),
            "group": document["team"],
            "class": document["type"],
            "custom_details": details,
        },
        "client": "certwatch",
    }
    if _link(target):
        event["client_url"] = _link(target)
        event["links"] = [{"href": _link(target), "text": "Open target in certwatch"}]
    return event


def teams_message(document: dict[str, Any]) -> dict[str, Any]:
    """A Microsoft Teams Workflows message: one Adaptive Card (schema 1.4) with the Slack message's facts.

    Whatever comes from the event is written in TextRuns, which Teams never reads as markdown, so
    a checked server cannot put a disguised link into the card.
    """
    target = document["target"]
    colour = _TEAMS_COLOURS.get(document["severity"], _TEAMS_COLOURS[Severity.INFO.value])
    severity = document["severity"].upper()
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": f"certwatch · {severity}", "color": colour, "weight": "bolder"},
        _rich([_run(f"{_where(target)} {document['summary']}", size="medium", weight="bolder")]),
        *(_rich([_run(f"{name}: ", weight="bolder"), _run(value)]) for name, value in event_facts(document)),
    ]
    body += [
        _rich([_run(f"{f['code']} ({f['severity']}): ", weight="bolder"), _run(str(f["message"])[:_SLACK_FIELD_LIMIT])])
        for f in (document.get("findings") or [])[:20]
    ]
    body.append(_rich([_run(f"certwatch · {document.get('checked_at')}", isSubtle=True)]))
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if _link(target):
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open target", "url": _link(target)}]
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


def _link(target: dict[str, Any]) -> str | None:
    """Where a person clicking the message goes: the page on the target (a document without one: the API)."""
    link = target.get("page_url") or target.get("url")
    return str(link) if link else None


def _rich(inlines: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": inlines}


def _run(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextRun", "text": text, **style}


def _where(target: dict[str, Any]) -> str:
    """How a subject is named in one line: host:port for an endpoint, the domain for an ACM/IAM certificate."""
    if target.get("host") is not None and target.get("port") is not None:
        return f"{target['host']}:{target['port']}"
    return str(target.get("domain") or target.get("target") or target.get("id"))


def _mrkdwn(text: str) -> str:
    """Escape Slack's control characters (mrkdwn links, mentions and entities)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _soonest_leaf(report_document: dict[str, Any]) -> dict[str, Any] | None:
    leaves = [r["leaf"] for r in report_document.get("results", []) if r.get("leaf")]
    if not leaves:
        return None
    leaf: dict[str, Any] = min(leaves, key=lambda leaf: leaf["not_after"])
    return leaf
