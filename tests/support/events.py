"""Alert events as subscribers get them: a notification rendered the way the SNS publisher renders it,
and checked against the declared event document (the OpenAPI's ``webhooks``) every time."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.alerts import Notification
from chalicelib.presentation.event_shapes import EventDocument
from chalicelib.presentation.events import email_subject, email_text, event_document, wire
from tests.support.contract import check_event


def typed(note: Notification, base_url: str | None = None) -> EventDocument:
    """The declared document of ``note``, checked as JSON against the schema."""
    document = event_document(note, base_url)
    check_event(wire(document), f"event {note.key}")
    return document


def rendered(note: Notification, base_url: str | None = None) -> dict[str, Any]:
    """The JSON document the alerts topic carries for ``note`` (checked against the schema)."""
    return wire(typed(note, base_url))


def subject_line(note: Notification, base_url: str | None = None) -> str:
    """The email subject of ``note``."""
    return email_subject(typed(note, base_url))


def text(note: Notification, base_url: str | None = None) -> str:
    """The email text of ``note``."""
    return email_text(typed(note, base_url))


def event_data(
    type: str = "certificate.expiring",
    key: str = "tg_0000000000aa1b2c3d4e:" + "ab" * 32 + ":expiring:3",
    severity: str = "critical",
    url: str | None = None,
    team: str = "web",
) -> dict[str, Any]:
    """An event document as JSON data (the declared one: tests/support/contract checks it), to alter."""
    data = {
        "version": 1,
        "id": key,
        "type": type,
        "severity": severity,
        "summary": "certificate expires in 3 days (2026-12-01)",
        "team": team,
        "target": {
            "id": "tg_0000000000aa1b2c3d4e",
            "source": "endpoint",
            "target": "https://api.example.com:443",
            "labels": {},
            "url": url,
            "page_url": None,
            "host": "api.example.com",
            "port": 443,
            "protocol": "https",
            "sni": None,
        },
        "certificate": {
            "subject": "CN=api.example.com",
            "issuer": "CN=Example CA,O=Example",
            "serial": "1",
            "sans": ["api.example.com"],
            "ip_sans": [],
            "key_type": "EC-secp256r1",
            "key_size": 256,
            "signature_algorithm": "ecdsa-with-SHA256",
            "fingerprint_sha256": "ab" * 32,
            "not_before": "2026-09-02T00:00:00Z",
            "not_after": "2026-12-01T00:00:00Z",
            "is_ca": False,
        },
        "days_left": 3,
        "not_after": "2026-12-01T00:00:00Z",
        "threshold_days": 3,
        "previous_fingerprint": None,
        "status": severity if severity != "info" else "ok",
        "findings": [{"code": "EXPIRING_SOON", "severity": severity, "message": "expires in 3 days"}],
        "checked_at": "2026-11-28T00:00:00Z",
        "published_at": "2026-11-28T00:00:01Z",
    }
    check_event(data)
    return data
