"""``certwatch webhook ...``: the operator's commands for webhook destinations (generic, PagerDuty, Teams).

A destination lives in SSM Parameter Store as one SecureString (URL, secret and filters); the
stage's webhooks function reads them. The URL and the secret are never printed but once: the
signing secret of a generic destination when it is added.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from certwatch import aws
from certwatch.admin import sample_event, services
from chalicelib.domain.alerts import EventType, incident
from chalicelib.domain.clock import utc_now
from chalicelib.domain.models import Severity
from chalicelib.domain.webhooks import Destination, Format
from chalicelib.presentation.reports import columns, iso

if TYPE_CHECKING:  # the AWS and HTTP parts load when a command runs, not to read a command line
    from chalicelib.deps import Container


def webhook_add(args: argparse.Namespace) -> int:
    from chalicelib.services.webhooks import new_destination

    services_ = services(args)
    destination = new_destination(
        args.url,
        format=Format(args.format),
        secret=args.secret,
        routing_key=args.routing_key,
        team=args.team,
        min_severity=args.min_severity,
        types=args.types or (),
        vet=services_.webhook_poster.addresses,
        now=utc_now(),
    )
    name = aws.destination_admin(services_).add(destination)
    print(f"added webhook {destination.id} ({_describe(destination)}) in SSM parameter {name}", file=sys.stderr)
    if destination.format is Format.GENERIC:
        print("its signing secret is shown only now; receivers verify webhook-signature with it:", file=sys.stderr)
        print(destination.secret)
    return 0


def webhook_list(args: argparse.Namespace) -> int:
    rows = [("ID", "FORMAT", "DESTINATION", "TEAM", "MIN-SEVERITY", "TYPES", "CREATED")]
    for d in aws.destination_admin(services(args)).destinations():
        types = ",".join(sorted(d.types)) or "every type"
        created = (iso(d.created_at) if d.created_at else None) or ""
        rows.append((d.id, d.format.value, d.url.shown, d.team or "every team", d.min_severity.value, types, created))
    print(columns(rows))
    return 0


def webhook_remove(args: argparse.Namespace) -> int:
    aws.destination_admin(services(args)).remove(args.destination_id)
    print(f"removed webhook {args.destination_id}; it gets no events from now on (within a minute)")
    return 0


def webhook_test(args: argparse.Namespace) -> int:
    services_ = services(args)
    destination = aws.destination_admin(services_).get(args.destination_id)
    poster = services_.webhook_poster
    stage, base_url = services_.settings.stage, services_.settings.public_url
    document = sample_event(stage, utc_now(), base_url=base_url, by="certwatch webhook test")
    poster.deliver(destination, document)
    if destination.format is Format.PAGERDUTY:
        opened = incident(document.id, EventType.EXPIRING)
        resolve = replace(document, type=EventType.RENEWED, severity=Severity.INFO, id=f"{opened}:renewed:test")
        poster.deliver(destination, resolve)
        print(f"sent a sample trigger to webhook {destination.id}, then resolved it")
    else:
        print(f"sent a sample event to webhook {destination.id} ({destination.url.shown})")
    return 0


def add_from_environment(container: Container, url: str, secret: str | None) -> Destination:
    """The local stack's CERTWATCH_WEBHOOK_URL (and _SECRET): one generic destination, added at start."""
    from chalicelib.services.webhooks import new_destination

    destination = new_destination(url, secret=secret, vet=container.webhook_poster.addresses, now=utc_now())
    aws.destination_admin(container).add(destination)
    return destination


def _describe(destination: Destination) -> str:
    parts = [destination.format.value, f"to {destination.url.shown}"]
    parts.append(f"team={destination.team}" if destination.team else "every team")
    parts.append(f"severity>={destination.min_severity.value}")
    if destination.types:
        parts.append("types=" + ",".join(sorted(destination.types)))
    return ", ".join(parts)
