"""The alert event's document, declared once: what the alerts topic carries to every subscriber.

The SNS publisher renders a notification into this shape (``events.py``) and the relays read it
back from the topic (``read_event``) before each channel renders its own message; the OpenAPI
document describes it under ``webhooks`` (it is the body of a generic webhook). ``schema.py``
says how a field is declared; ``CLOSED`` shapes refuse undeclared fields, on the way out as on
the way back in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar

from chalicelib.domain.alerts import EventType
from chalicelib.domain.inventory import Source
from chalicelib.domain.models import Protocol, Severity, Status
from chalicelib.presentation.result_shapes import Certificate, Finding
from chalicelib.presentation.schema import ABSENT, CLOSED, Derived, Doc, Range, from_json

DOCUMENT_VERSION = 1


@dataclass(frozen=True, slots=True)
class EventTarget:
    """What the event is about: a registered endpoint (source endpoint), or a certificate the account
    holds in ACM or IAM (source acm or iam, with its ARN, region and what uses it)."""

    SCHEMA: ClassVar[Mapping[str, Any]] = {**CLOSED}

    id: Annotated[str, Doc("The target's id; for ACM and IAM, the certificate's ARN")]
    source: Source
    target: Annotated[str, Doc("The endpoint as `certwatch check` takes it; for ACM and IAM, the ARN")]
    labels: dict[str, str]
    url: Annotated[str | None, Doc("The target in the API, for programs (CERTWATCH_PUBLIC_URL set)")]
    page_url: Annotated[str | None, Doc("The inventory page opened on the target, for people")]
    host: str = ABSENT
    port: int = ABSENT
    protocol: Protocol = ABSENT
    sni: str | None = ABSENT
    arn: str = ABSENT
    region: str | None = ABSENT
    domain: str = ABSENT
    name: Annotated[str | None, Doc("An IAM server certificate's name")] = ABSENT
    type: Annotated[str, Doc("ACM's type: AMAZON_ISSUED, IMPORTED, PRIVATE; IAM for IAM")] = ABSENT
    in_use_by: Annotated[tuple[str, ...], Doc("The ARNs of the AWS resources using it")] = ABSENT
    # Left out only by documents published before they were declared (version 1 still).
    owner: Annotated[
        str | None,
        Doc("Who acts on it: the target's owner; for ACM and IAM, its certwatch:owner (or owner) tag"),
    ] = ABSENT
    runbook_url: Annotated[
        str | None,
        Doc(
            "How to act: the target's runbook (http or https); for ACM and IAM, its certwatch:runbook (or runbook) tag"
        ),
    ] = ABSENT
    notes: Annotated[str | None, Doc("The target's notes; for ACM and IAM, its certwatch:notes (or notes) tag")] = (
        ABSENT
    )


@dataclass(frozen=True, slots=True)
class EventCertificate(Certificate):
    """The certificate the event is about (the one that expires first where an endpoint serves several)."""

    SCHEMA: ClassVar[Mapping[str, Any]] = {**CLOSED}
    # The event's certificate keeps to its facts (version 1): what it is made of is the result's and the CBOM's.
    DERIVED: ClassVar = Derived(unsaid=("self_issued",))

    arn: Annotated[str, Doc("For ACM and IAM: the certificate's ARN")] = ABSENT


@dataclass(frozen=True, slots=True)
class EventEndpoint:
    """One endpoint (or ACM/IAM certificate) an event is about."""

    SCHEMA: ClassVar[Mapping[str, Any]] = {**CLOSED}

    source: Source
    id: Annotated[str, Doc("The target's id; for ACM and IAM, the certificate's ARN")]
    target: Annotated[str, Doc("The endpoint as `certwatch check` takes it; for ACM and IAM, the ARN")]


@dataclass(frozen=True, slots=True)
class EventDocument:
    """An alert event, as the alerts topic publishes it and a generic webhook receives it (version 1)."""

    SCHEMA: ClassVar[Mapping[str, Any]] = {**CLOSED}

    version: Annotated[int, Range(DOCUMENT_VERSION, DOCUMENT_VERSION)]
    id: Annotated[str, Doc("The event's key: the same for every delivery of this event")]
    type: EventType
    severity: Severity
    summary: str
    team: str
    target: EventTarget
    certificate: EventCertificate | None
    days_left: Annotated[int | None, Doc("Whole days until notAfter; negative once expired")]
    not_after: datetime | None
    threshold_days: Annotated[int | None, Doc("certificate.expiring: the threshold crossed")]
    previous_fingerprint: Annotated[str | None, Doc("certificate.renewed: the certificate it replaces")]
    status: Status | None
    findings: tuple[Finding, ...]
    checked_at: datetime | None
    published_at: datetime
    endpoints: Annotated[
        tuple[EventEndpoint, ...],
        Doc(
            "Every endpoint the event is about: for an event about a certificate (expiring, expired, "
            "revoked, renewal requested, renewed), every endpoint of the team that serves it (renewed: "
            "that served it) where the team groups its events by certificate; otherwise the target alone"
        ),
    ] = ()


def read_event(message: str) -> EventDocument:
    """The event document an alerts-topic message carries; ValueError saying why when it is none."""
    try:
        data = json.loads(message)
    except ValueError as exc:
        raise ValueError(f"not JSON: {message[:200]!r}") from exc
    if not isinstance(data, dict) or data.get("version") != DOCUMENT_VERSION:
        raise ValueError(f"not a version {DOCUMENT_VERSION} certwatch event document")
    return from_json(EventDocument, data)
