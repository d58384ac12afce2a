"""The documents a check answers, declared once: a report, its addresses, certificates and findings.

The verdict, as everything that speaks of a check says it: ``certwatch check --json``, a target's
``result`` in the API, the stored result, the checker's events. The HTTP API's own resources and
requests are in ``shapes.py``, which imports these so that the OpenAPI describes them from one place
(docs/architecture.md, "Where modules are cut").
``schema.py`` says how a field is declared.

A finding, a certificate, an address's result and a renewal are the domain's own dataclasses
(``domain/models.py``, ``domain/cadence.py``) said on the wire: each shape here derives from its
domain class (``Derived``) and names only what the wire says otherwise, so a field added there
is in the document, the OpenAPI and the renderers without another edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar

from chalicelib.domain import cadence, models
from chalicelib.domain.models import FailureReason, Protocol, Status
from chalicelib.domain.posture import KeyExchange, key_exchange
from chalicelib.presentation.schema import ABSENT, CLOSED, Derived, Doc


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding(models.Finding):
    """One thing found about a certificate or a connection."""

    DERIVED: ClassVar = Derived()

    reason: Annotated[FailureReason, Doc("For CONNECTION_FAILED: dns, refused, timeout, tls, protocol, forbidden")] = (
        ABSENT
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Certificate(models.CertificateInfo):
    """A certificate a server sent."""

    DERIVED: ClassVar = Derived(unsaid=("self_issued",), says=("algorithms",))


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressResult(models.CheckResult):
    """The check of one address of an endpoint."""

    DERIVED: ClassVar = Derived(
        # What /metrics reads (presentation/metrics.py); the document says them as findings.
        unsaid=("verified_chain", "revocation", "renewal_window"),
        says=("days_left", "not_after", "key_exchange"),
        after={"days_left": "status", "not_after": "days_left", "checked_at": "cipher", "key_exchange": "group"},
    )

    findings: tuple[Finding, ...]
    leaf: Certificate | None
    chain: tuple[Certificate, ...]
    publicly_trusted: Annotated[bool, Doc("The path ends at a public root (the CA/Browser Forum's rules apply)")]
    group: Annotated[
        str | None,
        Doc("The key exchange group negotiated, as OpenSSL names it (X25519MLKEM768, x25519, secp256r1, ...)"),
    ]
    legacy_tls: Annotated[
        tuple[str, ...] | None,
        Doc(
            "The legacy versions (TLSv1, TLSv1.1) the address accepted when offered alone; null when not asked "
            "(the legacy probe is off by default) or no answer told"
        ),
    ]

    @property
    def key_exchange(self) -> Annotated[KeyExchange | None, Doc("What the group is made of; null when none named")]:
        return key_exchange(self.group)


@dataclass(frozen=True, slots=True, kw_only=True)
class Renewal(cadence.Renewal):
    """A change of the certificate an endpoint serves."""

    DERIVED: ClassVar = Derived()

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
