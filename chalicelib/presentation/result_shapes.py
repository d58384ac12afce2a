"""The documents a check answers, declared once: a report, its addresses, certificates and findings.

Part of the API's declared shapes (``shapes.py`` imports them, and the OpenAPI document describes
them from there); kept apart so that what renders a check's verdict (``certwatch check --json``,
the checker's events) loads these few classes, not every request and answer of the API.
``schema.py`` says how a field is declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar

from chalicelib.domain.models import FailureReason, FindingCode, Protocol, Severity, Status
from chalicelib.presentation.schema import ABSENT, CLOSED, Doc


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found about a certificate or a connection."""

    code: FindingCode
    severity: Severity
    message: str
    reason: Annotated[FailureReason, Doc("For CONNECTION_FAILED: dns, refused, timeout, tls, protocol, forbidden")] = (
        ABSENT
    )


@dataclass(frozen=True, slots=True)
class Certificate:
    """A certificate a server sent."""

    subject: str
    issuer: str
    serial: str
    sans: tuple[str, ...]
    ip_sans: tuple[str, ...]
    key_type: str
    key_size: int
    signature_algorithm: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime
    is_ca: bool


@dataclass(frozen=True, slots=True)
class AddressResult:
    """The check of one address of an endpoint."""

    address: str | None
    status: Status
    days_left: int | None
    not_after: datetime | None
    findings: tuple[Finding, ...]
    leaf: Certificate | None
    chain: tuple[Certificate, ...]
    trusted_by: str | None
    publicly_trusted: Annotated[bool, Doc("The path ends at a public root (the CA/Browser Forum's rules apply)")]
    tls_version: str | None
    cipher: str | None
    checked_at: datetime
    elapsed_ms: float


@dataclass(frozen=True, slots=True)
class Renewal:
    """A change of the certificate an endpoint serves."""

    at: datetime
    days_since_previous_change: int
    age_days: Annotated[int, Doc("How old the replaced certificate was")]
    days_left: Annotated[int, Doc("Days the replaced certificate had left")]


@dataclass(frozen=True, slots=True)
class NextStep:
    """The next cut of the CA/Browser Forum's maximum lifetime."""

    SCHEMA: ClassVar[Mapping[str, Any]] = {**CLOSED}

    since: Annotated[str, Doc("The date it takes effect (YYYY-MM-DD)")]
    max_days: int
    ready: Annotated[bool | None, Doc("Whether this endpoint's renewals would survive it")] = ABSENT


@dataclass(frozen=True, slots=True)
class Cadence:
    """How an endpoint's certificates are renewed, from its check history. Ready for L days: each of the
    last three renewals happened by two thirds of L."""

    certificates_seen: int
    renewals: tuple[Renewal, ...]
    renewed_at_age_days: int | None
    least_days_left: int | None
    publicly_trusted: bool
    ready_for_100_days: bool | None
    ready_for_47_days: bool | None
    next_step: Annotated[NextStep | None, Doc("null once the last cut is in force")]


@dataclass(frozen=True, slots=True)
class Readiness:
    """The team's public endpoints by renewal cadence."""

    endpoints_with_cadence: int
    endpoints_without_renewal_seen: int
    ready_for_100_days: int
    ready_for_47_days: int
    next_step: NextStep | None
    not_ready_for_next_step: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The engine's full result: the same document `certwatch check --json` prints."""

    target: str
    host: str
    port: int
    protocol: Protocol
    sni: str | None
    status: Status
    days_left: int | None
    not_after: datetime | None
    findings: tuple[Finding, ...]
    results: Annotated[tuple[AddressResult, ...], Doc("One per address checked")]
    checked_at: datetime
    cadence: Annotated[Cadence, Doc("Registered targets: how the endpoint's certificates are renewed")] = ABSENT
