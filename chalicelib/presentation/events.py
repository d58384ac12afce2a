"""Rendering alert events, at the edges that send them: the SNS message (the declared event document,
the email subject and text, the attributes a subscription filters on), Slack, PagerDuty (Events API
v2) and Microsoft Teams (an Adaptive Card).

A notification is typed facts (``domain.alerts.Notification``); ``event_document`` renders it once
into the declared document (``event_shapes.EventDocument``), and every channel's message is made
from that document, so every channel says the same thing and none can say a field the document
does not declare. Nothing in ``services/`` imports this module: the SNS adapter and the relays'
adapters do, each at its own wire.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from typing import Any

from chalicelib.domain.alerts import CLOSING, Notification, incident
from chalicelib.domain.inventory import Source
from chalicelib.domain.models import Severity, short_name
from chalicelib.presentation.event_shapes import (
    DOCUMENT_VERSION,
    EventCertificate,
    EventDocument,
    EventEndpoint,
    EventTarget,
)
from chalicelib.presentation.result_shapes import Finding
from chalicelib.presentation.schema import ABSENT, copy_as, iso, to_json

_COLOURS = {"critical": "#d0021b", "warning": "#f5a623", "info": "#2e7d32"}
_SLACK_TEXT_LIMIT = 2900  # Block Kit section text is limited to 3000 characters
_SLACK_FIELD_LIMIT = 1900  # and a field's text to 2000
_TEAMS_COLOURS = {"critical": "attention", "warning": "warning", "info": "good"}
_PAGERDUTY_SUMMARY_LIMIT = 1024  # Events API v2: payload.summary
_PAGERDUTY_KEY_LIMIT = 255  # and dedup_key
_LISTED = 50  # endpoints a message names one by one; the rest are counted
_SLACK_URL_LIMIT = 3000  # a button's url
# What a URL may hold as it is (RFC 3986's reserved and unreserved characters, and its escapes):
# the rest is percent-encoded, so no ``|``, ``<`` or ``>`` can end a chat link or start another.
_URL_SAFE = ":/?#[]@!$&'()*+,;=-._~%"


def page_url(base_url: str, target_id: str, team: str, *, certificate: str | None = None) -> str:
    """The inventory page (GET /dashboard) opened on one target (or on a certificate several endpoints
    serve: its row, open on them), once a token is given."""
    opened = {"certificate": certificate} if certificate else {"target": target_id}
    return f"{base_url.rstrip('/')}/dashboard#" + urllib.parse.urlencode({**opened, "team": team})


# --- the document the alerts topic carries ---------------------------------------------------------


def event_document(note: Notification, base_url: str | None = None) -> EventDocument:
    """The declared document of a notification: what the alerts topic publishes.

    ``base_url`` (CERTWATCH_PUBLIC_URL) gives an endpoint's ``url`` (the target in the API, for
    programs: it wants a token) and ``page_url`` (the inventory page opened on it, which the
    messages people click link to).
    """
    observed, leaf, managed = note.observed, note.observed.leaf, note.subject.managed
    certificate = None
    if leaf is not None:
        certificate = copy_as(EventCertificate, leaf, arn=ABSENT if managed is None else managed.arn)
    return EventDocument(
        version=DOCUMENT_VERSION,
        id=note.key,
        type=note.event.type,
        severity=note.event.severity,
        summary=note.event.summary,
        team=note.team,
        target=_target(note, base_url),
        certificate=certificate,
        days_left=observed.days_left,
        not_after=None if leaf is None else leaf.not_after,
        threshold_days=note.event.threshold_days,
        previous_fingerprint=note.event.previous_fingerprint,
        status=observed.status,
        findings=tuple(copy_as(Finding, f) for f in note.findings),
        checked_at=observed.checked_at,
        published_at=note.created_at,
        endpoints=tuple(EventEndpoint(Source(h.kind), h.id, h.name) for h in note.event.holders),
    )


def _target(note: Notification, base_url: str | None) -> EventTarget:
    """What the event is about: the managed certificate's facts (ARN, region, ...) or the endpoint's (host,
    port, ...), copied by name, with who acts on it and how from the subject."""
    subject = note.subject
    managed, endpoint = subject.managed, subject.endpoint
    said = {
        "labels": dict(subject.labels),
        "owner": subject.owner,
        "runbook_url": subject.runbook_url,
        "notes": subject.notes,
    }
    if managed is not None:
        return copy_as(EventTarget, managed, id=managed.arn, target=managed.arn, url=None, page_url=None, **said)
    if subject.watched_domain is not None:
        base = base_url.rstrip("/") if base_url else None
        url = f"{base}/domains/{subject.id}" if base else None
        domain = subject.watched_domain
        return EventTarget(
            id=subject.id,
            source=Source.DOMAIN,
            target=domain,
            domain=domain,
            url=url,
            page_url=None,
            labels=dict(subject.labels),
            owner=subject.owner,
            runbook_url=subject.runbook_url,
            notes=subject.notes,
        )
    if endpoint is None:
        raise ValueError(f"alert subject {subject.id} is neither an endpoint nor a managed certificate")
    base = base_url.rstrip("/") if base_url else None
    return copy_as(
        EventTarget,
        endpoint,
        id=subject.id,
        source=Source.ENDPOINT,
        target=str(endpoint),
        url=f"{base}/targets/{subject.id}" if base else None,
        page_url=page_url(base, subject.id, subject.team, certificate=_shared(note)) if base else None,
        **said,
    )


def _shared(note: Notification) -> str | None:
    """The certificate a team's event is about when several endpoints serve it (the page opens its row)."""
    leaf = note.observed.leaf
    endpoints = [h for h in note.event.holders if h.kind == "endpoint"]
    return leaf.fingerprint_sha256 if leaf is not None and len(endpoints) > 1 else None


def wire(document: EventDocument) -> dict[str, Any]:
    """The document as JSON data: only what it declares."""
    return dict(to_json(document))


def attributes(document: EventDocument) -> dict[str, str]:
    """The SNS message attributes a subscription's filter policy reads (days_left is a number)."""
    found = {"type": document.type.value, "severity": document.severity.value, "team": document.team}
    if document.days_left is not None:
        found["days_left"] = str(document.days_left)
    return found


# --- email --------------------------------------------------------------------------------------------


def email_subject(document: EventDocument) -> str:
    """``[certwatch] CRITICAL api.example.com:443 certificate expires in 3 days (2026-12-01)``."""
    subject = f"[certwatch] {document.severity.value.upper()} {_where(document)} {document.summary}"
    return subject if len(subject) < 100 else subject[:98] + "…"  # SNS wants subjects under 100


def email_text(document: EventDocument) -> str:
    target, certificate = document.target, document.certificate
    sni = target.sni if target.sni is not ABSENT else None
    lines = [
        f"{document.severity.value.upper()}: {document.summary}",
        "",
        f"Target:     {target.target}" + (f" (SNI {sni})" if sni else ""),
        f"Team:       {document.team}",
        f"Event:      {document.type.value}",
    ]
    owner, runbook, notes = _ownership(target)
    if owner:
        lines.append(f"Owner:      {owner}")
    if runbook:
        lines.append(f"Runbook:    {runbook}")
    if document.days_left is not None:
        (left, days), (_, until) = _time_left(document)
        shown = f"{days} ({until})" if _expired(document) else f"{days} (expires {until})"
        lines.append(f"{left + ':':<12}{shown}")
    if certificate is not None:
        lines += [
            f"Subject:    {certificate.subject}",
            f"Issuer:     {certificate.issuer}",
            f"Serial:     {certificate.serial}",
        ]
        if certificate.fingerprint_sha256:
            lines.append(f"SHA-256:    {certificate.fingerprint_sha256}")
        if certificate.arn is not ABSENT:
            lines.append(f"ARN:        {certificate.arn}")
    if len(document.endpoints) > 1:
        lines += ["", f"Served by {len(document.endpoints)} endpoints:"]
        lines += [f"  - {e.target}" for e in document.endpoints[:_LISTED]]
        if len(document.endpoints) > _LISTED:
            lines.append(f"  - and {len(document.endpoints) - _LISTED} more")
    if document.findings:
        lines += ["", "Findings:"]
        lines += [f"  - {f.severity.value} {f.code.value}: {f.message}" for f in document.findings]
    if target.labels:
        lines += ["", "Labels:     " + ", ".join(f"{k}={v}" for k, v in sorted(target.labels.items()))]
    if notes:
        lines += ["", "Notes:      " + "\n            ".join(notes.splitlines())]
    if _link(target):
        lines += ["", f"Details:    {_link(target)}"]
    lines += ["", f"Checked at {iso(document.checked_at)} by certwatch (event {document.id})."]
    return "\n".join(lines)


def sns_message(document: EventDocument) -> str:
    """The SNS Message of MessageStructure json: the document by default, the text for email subscribers."""
    compact = json.dumps(wire(document), separators=(",", ":"))
    return json.dumps({"default": compact, "email": email_text(document)})


# --- chat and paging ------------------------------------------------------------------------------


def slack_message(document: EventDocument) -> dict[str, Any]:
    """A Slack incoming-webhook payload: Block Kit blocks in an attachment coloured by severity.

    Text that comes from a served certificate (issuer, names in messages) is escaped, so a server
    being checked cannot put ``<!channel>`` or a disguised link into the alert.
    """
    target = document.target
    host = _mrkdwn(_where(document))
    severity = document.severity.value
    headline = f"*{severity.upper()}* `{host}` {_mrkdwn(document.summary)}"
    owner, runbook, notes = _ownership(target)
    fields = [(name, _mrkdwn(value)) for name, value in event_facts(document)]
    if owner:
        fields.append(("Owner", _mrkdwn(owner)))
    if runbook:
        fields.append(("Runbook", _slack_link(runbook)))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline[:_SLACK_TEXT_LIMIT]}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{text[:_SLACK_FIELD_LIMIT]}"} for name, text in fields],
        },
    ]
    if document.findings:
        listed = "\n".join(f"• *{f.code.value}* ({f.severity.value}): {_mrkdwn(f.message)}" for f in document.findings)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": listed[:_SLACK_TEXT_LIMIT]}})
    if notes:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Notes*\n{_mrkdwn(notes)}"[:_SLACK_TEXT_LIMIT]}}
        )
    buttons = [("Open target", _link(target)), ("Open runbook", runbook and _url_for_chat(runbook))]
    elements = [
        {"type": "button", "text": {"type": "plain_text", "text": text}, "url": url}
        for text, url in buttons
        if url and len(url) <= _SLACK_URL_LIMIT
    ]
    if elements:
        blocks.append({"type": "actions", "elements": elements})
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"certwatch · {iso(document.checked_at)}"}]}
    )
    colour = _COLOURS.get(severity, _COLOURS[Severity.INFO.value])
    return {"text": f"[certwatch] {headline}"[:_SLACK_TEXT_LIMIT], "attachments": [{"color": colour, "blocks": blocks}]}


def event_facts(document: EventDocument) -> list[tuple[str, str]]:
    """The facts every chat message of an event shows, as (name, value) pairs."""
    certificate = document.certificate
    facts = [
        ("Target", document.target.target),
        *_time_left(document),
        ("Issuer", short_name(certificate.issuer) if certificate is not None and certificate.issuer else "-"),
        ("Team", document.team),
        ("Event", document.type.value),
    ]
    if len(document.endpoints) > 1:
        facts.insert(1, ("Endpoints", _endpoints(document)))
    return facts


def _endpoints(document: EventDocument) -> str:
    """ "40: https://a.example.com:443, https://b.example.com:443, ... and 30 more" (the first ten named)."""
    names = [e.target for e in document.endpoints]
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return f"{len(names)}: {shown}"


def _expired(document: EventDocument) -> bool:
    return document.days_left is not None and document.days_left < 0


def _time_left(document: EventDocument) -> tuple[tuple[str, str], tuple[str, str]]:
    """("Days left", "3") and ("Expires", date); for an expired certificate ("Expired", "2 days ago") and
    ("Expired on", date): a person reads "-2 days left" as a typo."""
    days, until = document.days_left, iso(document.not_after) or "-"
    if days is not None and days < 0:  # days_until: minus the whole days since (at least 1)
        return ("Expired", f"{-days} day{'s' if days != -1 else ''} ago"), ("Expired on", until)
    return ("Days left", "-" if days is None else str(days)), ("Expires", until)


def pagerduty_event(document: EventDocument, routing_key: str) -> dict[str, Any] | None:
    """A PagerDuty Events API v2 event: a trigger, or the resolve of the incident a renewal or recovery closes.

    The ``dedup_key`` is the incident the event belongs to (alerts.incident), so every expiry
    threshold of a certificate updates one incident, and its renewal resolves it. None for what
    opens no incident of its own (a "still critical" reminder).
    """
    key = incident(document.id, document.type)
    if key is None:
        return None
    if len(key) > _PAGERDUTY_KEY_LIMIT:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    if document.type in CLOSING:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": key}
    target, where = document.target, _where(document)
    details: dict[str, Any] = {name.lower().replace(" ", "_"): value for name, value in event_facts(document)}
    owner, runbook, notes = _ownership(target)
    details |= {name: value for name, value in (("owner", owner), ("runbook_url", runbook), ("notes", notes)) if value}
    details["event_id"] = document.id
    details["endpoints"] = [e.target for e in document.endpoints[:_LISTED]]
    details["findings"] = [f"{f.code.value} ({f.severity.value}): {f.message}" for f in document.findings]
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": f"{where} {document.summary}"[:_PAGERDUTY_SUMMARY_LIMIT],
            "source": where,
            "severity": document.severity.value,
            "timestamp": iso(document.checked_at or document.published_at),
            "component": target.target or where,
            "group": document.team,
            "class": document.type.value,
            "custom_details": details,
        },
        "client": "certwatch",
    }
    link = _link(target)
    if link:
        event["client_url"] = link
    links = [
        {"href": href, "text": text}
        for href, text in ((link, "Open target in certwatch"), (runbook, "Runbook"))
        if href
    ]
    if links:
        event["links"] = links
    return event


def teams_message(document: EventDocument) -> dict[str, Any]:
    """A Microsoft Teams Workflows message: one Adaptive Card (schema 1.4) with the Slack message's facts.

    Whatever comes from the event is written in TextRuns, which Teams never reads as markdown, so
    a checked server cannot put a disguised link into the card.
    """
    target = document.target
    colour = _TEAMS_COLOURS.get(document.severity.value, _TEAMS_COLOURS[Severity.INFO.value])
    severity = document.severity.value.upper()
    owner, runbook, notes = _ownership(target)
    owned = [(name, value) for name, value in (("Owner", owner), ("Runbook", runbook), ("Notes", notes)) if value]
    facts = [*event_facts(document), *owned]
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": f"certwatch · {severity}", "color": colour, "weight": "bolder"},
        _rich([_run(f"{_where(document)} {document.summary}", size="medium", weight="bolder")]),
        *(_rich([_run(f"{name}: ", weight="bolder"), _run(value[:_SLACK_TEXT_LIMIT])]) for name, value in facts),
    ]
    body += [
        _rich([_run(f"{f.code.value} ({f.severity.value}): ", weight="bolder"), _run(f.message[:_SLACK_FIELD_LIMIT])])
        for f in document.findings[:20]
    ]
    body.append(_rich([_run(f"certwatch · {iso(document.checked_at)}", isSubtle=True)]))
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    actions = [("Open target", _link(target)), ("Open runbook", runbook and _url_for_chat(runbook))]
    opened = [{"type": "Action.OpenUrl", "title": title, "url": url} for title, url in actions if url]
    if opened:
        card["actions"] = opened
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


def _ownership(target: EventTarget) -> tuple[str | None, str | None, str | None]:
    """The owner, runbook URL and notes the document names (None for each it leaves out, null or empty)."""
    said = [getattr(target, name) for name in ("owner", "runbook_url", "notes")]
    owner, runbook, notes = (value if isinstance(value, str) and value.strip() else None for value in said)
    return owner, runbook, notes


def _url_for_chat(url: str) -> str:
    """``url`` with what no URL holds as it is percent-encoded (its own escapes kept)."""
    return urllib.parse.quote(url, safe=_URL_SAFE)


def _slack_link(url: str) -> str:
    """A link Slack shows as the address it opens (no label to disguise it); plain text when too long for a field."""
    escaped = _mrkdwn(_url_for_chat(url))
    return f"<{escaped}>" if len(escaped) + 2 <= _SLACK_FIELD_LIMIT else escaped


def _link(target: EventTarget) -> str | None:
    """Where a person clicking the message goes: the page on the target (a document without one: the API)."""
    return target.page_url or target.url


def _rich(inlines: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": inlines}


def _run(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextRun", "text": text, **style}


def _where(document: EventDocument) -> str:
    """How a subject is named in one line: host:port for an endpoint, the domain for an ACM/IAM
    certificate, and for a certificate several endpoints serve its name and how many they are."""
    target, certificate = document.target, document.certificate
    if len(document.endpoints) > 1 and certificate is not None:
        return f"{short_name(certificate.subject)} ({len(document.endpoints)} endpoints)"
    if target.host is not ABSENT and target.port is not ABSENT:
        return f"{target.host}:{target.port}"
    return target.domain if target.domain is not ABSENT else target.target


def _mrkdwn(text: str) -> str:
    """Escape Slack's control characters (mrkdwn links, mentions and entities)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
