"""The HTTP API's documents, declared once: what each request may hold and what each answer holds.

The OpenAPI document (``chalicelib/http/openapi.py``) is generated from these classes, the
request parser (``chalicelib/http/payloads.py``) reads its field names, bounds and defaults from
them, and the renderers (``documents.py``, ``reports.py``) build answers as instances of them, so
the three cannot drift apart. ``schema.py`` says how a field is declared. The verdict of a check
(its report, addresses, certificates, findings), which the CLI, the store and the events share
with the API, is declared in ``result_shapes.py`` and imported here.

To add a field to a document:

- An answer that shows a domain object (a target, its summary, an inventory row) derives from
  its domain dataclass (``Derived``, see ``schema.py``): add the field there, and it is in the
  answer and the schema. Redeclare it here only to say it otherwise (a Doc, bounds), or list it
  in ``unsaid`` to keep it off the wire.
- In another answer, give it no default, then pass its value where ``documents.py`` builds the
  shape; or default it to ``ABSENT`` when it is only sometimes there.
- In a request, default it to ``ABSENT`` (or to the value its absence means), then read it in
  ``payloads.py`` with the field's declared bounds (``fields(Shape)["name"]``). Until it is read
  the parser accepts it and ignores it, so read it in the same change.

The schema and the parser's list of accepted fields follow without another edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, ClassVar

from chalicelib.domain import domains, inventory, models, targets
from chalicelib.domain.alerts import EventType
from chalicelib.domain.inventory import RowKind, RowStatus, Source
from chalicelib.domain.models import CheckPolicy, FindingCode, Protocol, Severity, Status
from chalicelib.domain.silences import Match
from chalicelib.domain.targets import BULK_OUTCOMES, DEFAULT_INTERVAL_MINUTES, MIN_INTERVAL_MINUTES
from chalicelib.domain.tokens import TEAM_NAME
from chalicelib.presentation.result_shapes import AddressResult as AddressResult
from chalicelib.presentation.result_shapes import Cadence as Cadence
from chalicelib.presentation.result_shapes import Certificate as Certificate
from chalicelib.presentation.result_shapes import CheckResult as CheckResult
from chalicelib.presentation.result_shapes import Finding as Finding
from chalicelib.presentation.result_shapes import NextStep as NextStep
from chalicelib.presentation.result_shapes import Readiness as Readiness
from chalicelib.presentation.result_shapes import Renewal as Renewal
from chalicelib.presentation.schema import ABSENT, CLOSED, As, Choices, Derived, Doc, Extra, Length, Pattern, Range

MAX_BULK_ROWS = 1000
MAX_LABELS = 32
MAX_LABEL_VALUE = 256
LABEL_KEY = r"[A-Za-z0-9_.\-/]{1,64}"
MAX_NOTES = 2000
MAX_REASON = 500
MAX_AUTHOR = 200
MAX_OWNER = 200
MAX_RUNBOOK_URL = 2000
MAX_CA_BUNDLE = 64 * 1024
MAX_SNI = 253
MAX_DAYS = 3650
MAX_ALERT_DAYS = 10
MAX_INTERVAL_MINUTES = 30 * 24 * 60
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_POLICY = CheckPolicy()  # the default thresholds

# --- the types fields share ------------------------------------------------------------------------

Days = Annotated[int, Range(0, MAX_DAYS)]
Interval = Annotated[int, Range(MIN_INTERVAL_MINUTES, MAX_INTERVAL_MINUTES)]
Port = Annotated[int, Range(1, 65535)]
Labels = Annotated[
    dict[Annotated[str, Pattern(LABEL_KEY)], Annotated[str, Length(high=MAX_LABEL_VALUE)]],
    Length(high=MAX_LABELS),
    Doc("String labels; a key is 1-64 of A-Z a-z 0-9 _ . - /"),
]
AlertDays = Annotated[
    tuple[Annotated[int, Range(1, MAX_DAYS)], ...],
    Length(1, MAX_ALERT_DAYS),
    Doc("The target's own alert thresholds in days (default: 30, 14, 7, 3, 1 up to warn_days)"),
]
Notes = Annotated[str, Length(high=MAX_NOTES)]
Owner = Annotated[
    str,
    Length(high=MAX_OWNER),
    Pattern(r"[^\x00-\x1f\x7f]*"),
    Doc("Who acts on the target's alerts: a person, a group or an address, e.g. web-oncall (one line)"),
]
RunbookUrl = Annotated[
    str,
    Length(high=MAX_RUNBOOK_URL),
    Doc("How to act on them: an http(s) URL with a host and no user name or password, shown in every alert"),
]
CaBundle = Annotated[str, Length(high=MAX_CA_BUNDLE), Doc("PEM trust anchors for an internal CA")]
Team = Annotated[str, Pattern(TEAM_NAME)]
StatusText = Annotated[str, Choices.of(Status)]
Code = Annotated[str, Choices.of(FindingCode)]
Outcome = Annotated[str, Choices(BULK_OUTCOMES)]
ExpiringWithin = Annotated[int, Range(0, MAX_DAYS * 10), Doc("Certificates expiring within this many days")]
Switch = Annotated[
    bool,
    Doc(
        "Ask the CA: revocation (CRL, else OCSP) or ACME renewal information; false where the checker may not "
        "reach the CA's servers"
    ),
]

RequirePostQuantum = Annotated[
    bool, Doc("A classical key exchange is a warning (NO_POST_QUANTUM_KEY_EXCHANGE), not said or info")
]
QuantumSafeBy = Annotated[
    date | None,
    Doc("From this date (YYYY-MM-DD) a chain signed with RSA or ECDSA is quantum-vulnerable; null: no date"),
]
NoteClassical = Annotated[
    bool, Doc("Where post-quantum is not required, a classical key exchange is still an info finding")
]
LegacyTls = Annotated[
    bool,
    Doc(
        "Ask each address, in a second handshake, whether it still accepts TLS 1.0 or 1.1 (LEGACY_TLS_ACCEPTED); "
        "CERTWATCH_LEGACY_TLS_PROBE asks every address"
    ),
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Posture(models.PosturePolicy):
    """What an endpoint's cryptography is expected to be, beyond its certificate's dates (docs/posture.md)."""

    DERIVED: ClassVar = Derived()

    require_post_quantum: RequirePostQuantum
    quantum_safe_signatures_by: QuantumSafeBy
    note_classical: NoteClassical
    legacy_tls: LegacyTls


# --- requests --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostureInput:
    """A posture policy (docs/posture.md): a team's fields left out stay as they are; a target's own policy
    is whole, its fields left out are their defaults (false, null)."""

    SCHEMA: ClassVar[Mapping[str, Any]] = {**CLOSED}

    require_post_quantum: RequirePostQuantum = ABSENT
    quantum_safe_signatures_by: QuantumSafeBy = ABSENT
    note_classical: NoteClassical = ABSENT
    legacy_tls: LegacyTls = ABSENT


OwnPosture = Annotated[PostureInput | None, Doc("The target's own posture policy; null or left out: its team's")]


@dataclass(frozen=True, slots=True)
class TargetInput:
    """Either target, or host (with port and protocol); null for an optional field means its default.
    critical_days must not exceed warn_days (30 unless given)."""

    SCHEMA: ClassVar[Mapping[str, Any]] = {
        **CLOSED,
        "oneOf": [
            {
                "required": ["target"],
                "not": {"anyOf": [{"required": ["host"]}, {"required": ["port"]}, {"required": ["protocol"]}]},
            },
            {"required": ["host"], "not": {"required": ["target"]}},
        ],
    }

    target: Annotated[
        str,
        Length(low=1),
        Doc(
            "Any target form `certwatch check` accepts: example.com, example.com:8443, "
            "https://example.com/path, [2001:db8::1]:443, smtp://mail.example.com, ..."
        ),
    ] = ABSENT
    host: Annotated[str, Length(low=1), Doc("Instead of target: the host name or address")] = ABSENT
    port: Annotated[Port | None, Doc("Default: the protocol's port")] = ABSENT
    protocol: Protocol = Protocol.HTTPS
    sni: Annotated[
        Annotated[str, Length(high=MAX_SNI)] | None, Doc("Server name to send and to match the certificate against")
    ] = ABSENT
    labels: Labels = ABSENT
    warn_days: Days | None = _POLICY.warn_days
    critical_days: Days | None = _POLICY.critical_days
    check_interval_minutes: Interval | None = DEFAULT_INTERVAL_MINUTES
    ca_bundle: CaBundle | None = ABSENT
    notes: Notes | None = ABSENT
    owner: Owner | None = ABSENT
    runbook_url: RunbookUrl | None = ABSENT
    alert_days: AlertDays | None = ABSENT
    revocation: Switch | None = True
    ari: Switch | None = True
    posture: OwnPosture = ABSENT


@dataclass(frozen=True, slots=True)
class TargetChanges:
    """The fields to change: null leaves a field as it is, but clears notes, owner and runbook_url.
    critical_days must not exceed warn_days once the change is applied."""

    SCHEMA: ClassVar[Mapping[str, Any]] = {**CLOSED, "minProperties": 1}

    labels: Labels = ABSENT
    warn_days: Days | None = ABSENT
    critical_days: Days | None = ABSENT
    check_interval_minutes: Interval | None = ABSENT
    notes: Notes | None = ABSENT
    owner: Owner | None = ABSENT
    runbook_url: RunbookUrl | None = ABSENT
    paused: bool | None = ABSENT
    alert_days: AlertDays | None = ABSENT
    revocation: Switch | None = ABSENT
    ari: Switch | None = ABSENT
    posture: Annotated[PostureInput | None, Doc("The target's own posture policy, whole; null: its team's again")] = (
        ABSENT
    )


BulkRows = Annotated[
    tuple[Any, ...],
    Length(1, MAX_BULK_ROWS),
    Extra({"contains": {"not": {"type": "object", "maxProperties": 0}}}),
    Doc("TargetInput rows: a row that is not one is reported as rejected, and blocks no other row"),
]


@dataclass(frozen=True, slots=True)
class BulkUpload:
    """The rows of a bulk import, in an object (a bare list of rows is taken too)."""

    SCHEMA: ClassVar[Mapping[str, Any]] = CLOSED

    targets: BulkRows


@dataclass(frozen=True, slots=True)
class DiscoverRequest:
    """What to do with the endpoints found; no body at all proposes without registering."""

    SCHEMA: ClassVar[Mapping[str, Any]] = CLOSED

    register: bool = False


# --- query strings ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamQuery:
    """The query string of an operation on one team's targets."""

    team: Annotated[Team, Doc("Act on this team (admin tokens only; default: the token's own team)")] = ABSENT


@dataclass(frozen=True, slots=True)
class PageQuery(TeamQuery):
    """The query string of a listing, a page at a time."""

    limit: Annotated[int, Range(1, MAX_LIMIT)] = DEFAULT_LIMIT
    cursor: Annotated[str, Doc("From next_cursor (opaque: any other text is a 400 invalid_cursor)")] = ABSENT


@dataclass(frozen=True, slots=True)
class TargetQuery(PageQuery):
    """The query string of ``GET /targets``."""

    status: Status = ABSENT
    label: Annotated[str, Pattern(LABEL_KEY + r":[\s\S]*"), Doc("key:value")] = ABSENT
    expiring_within_days: ExpiringWithin = ABSENT


@dataclass(frozen=True, slots=True)
class CertificateQuery(PageQuery):
    """The query string of ``GET /certificates``."""

    source: Source = ABSENT
    status: RowStatus = ABSENT
    expiring_within_days: ExpiringWithin = ABSENT
    issuer: Annotated[str, Doc("Text in the issuer")] = ABSENT


# --- answers ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamSettings:
    """How a team's alerts are told, and what its endpoints' cryptography is expected to be."""

    SCHEMA: ClassVar[Mapping[str, Any]] = {**CLOSED}

    group_by_certificate: Annotated[
        bool,
        Doc(
            "One event per certificate (its expiry, revocation, renewal request and renewal), naming every "
            "endpoint of the team that serves it; false: one per endpoint"
        ),
    ]
    posture: Annotated[Posture, Doc("What the team's endpoints are judged by (a target may carry its own)")]


@dataclass(frozen=True, slots=True)
class TeamSettingsChanges:
    """The team settings to change; those left out stay as they are."""

    SCHEMA: ClassVar[Mapping[str, Any]] = {**CLOSED, "minProperties": 1}

    group_by_certificate: bool = ABSENT
    posture: Annotated[PostureInput, Doc("The posture policy's fields to change")] = ABSENT


@dataclass(frozen=True, slots=True)
class SilenceInput:
    """A silence to make: exactly one of target, certificate, label and finding; for days, or until ends_at
    (at most CERTWATCH_SILENCE_MAX_DAYS either way); and why."""

    SCHEMA: ClassVar[Mapping[str, Any]] = {
        **CLOSED,
        "allOf": [
            {"oneOf": [{"required": [name]} for name in ("target", "certificate", "label", "finding")]},
            {"oneOf": [{"required": ["days"]}, {"required": ["ends_at"]}]},
        ],
    }

    reason: Annotated[str, Length(1, MAX_REASON)]
    target: Annotated[str, Pattern(r"tg_[0-9a-f]{20}"), Doc("A target's id: its events")] = ABSENT
    certificate: Annotated[str, Pattern(r"[0-9a-f]{64}"), Doc("A SHA-256 fingerprint: its events")] = ABSENT
    label: Annotated[str, Pattern(LABEL_KEY + r"=[\s\S]{0,256}"), Doc("key=value: its targets' events")] = ABSENT
    finding: Annotated[FindingCode, Doc("Events whose findings include this code")] = ABSENT
    days: Annotated[int, Range(1, 365), Doc("How long, from now")] = ABSENT
    ends_at: Annotated[datetime, Doc("Until when")] = ABSENT
    until_certificate_changes: Annotated[
        bool, Doc("A target's or a certificate's silence: end early, once the certificate is replaced")
    ] = False
    author: Annotated[str, Length(1, MAX_AUTHOR), Doc("Who asks (default: the token's id)")] = ABSENT


@dataclass(frozen=True, slots=True)
class Silence:
    """A silence: what it quiets, who made it and why, and until when."""

    id: str
    team: str
    match: Match
    value: Annotated[str, Doc("The target id, fingerprint, key=value label or finding code it quiets")]
    author: str
    reason: str
    created_at: datetime
    ends_at: datetime
    ended_at: Annotated[datetime | None, Doc("When it was ended early (DELETE, or its certificate replaced)")]
    until_certificate_changes: Annotated[str | None, Doc("The certificate whose replacement ends it")]
    active: bool


@dataclass(frozen=True, slots=True)
class SilencePage:
    """A team's silences, newest first (ended ones too)."""

    items: tuple[Silence, ...]
    max_days: Annotated[int, Doc("The longest a silence or window may last here (CERTWATCH_SILENCE_MAX_DAYS)")]


@dataclass(frozen=True, slots=True)
class MaintenanceInput:
    """Planned work: the team's events (of the targets with all these labels; every target without) are
    quieted from starts_at (default: now) to ends_at, at most CERTWATCH_SILENCE_MAX_DAYS."""

    SCHEMA: ClassVar[Mapping[str, Any]] = {**CLOSED}

    ends_at: datetime
    reason: Annotated[str, Length(1, MAX_REASON)]
    starts_at: datetime = ABSENT
    labels: Labels = ABSENT
    author: Annotated[str, Length(1, MAX_AUTHOR), Doc("Who plans it (default: the token's id)")] = ABSENT


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A maintenance window of a team."""

    id: str
    team: str
    starts_at: datetime
    ends_at: datetime
    ended_at: datetime | None
    labels: dict[str, str]
    author: str
    reason: str
    created_at: datetime
    active: bool


@dataclass(frozen=True, slots=True)
class MaintenancePage:
    """A team's maintenance windows, soonest first (past ones too)."""

    items: tuple[MaintenanceWindow, ...]


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as it was recorded: delivered (published), waiting to be (pending), or kept quiet (silenced)."""

    id: Annotated[str, Doc("The event's key")]
    type: EventType
    severity: Severity
    summary: str
    team: str
    target_id: Annotated[str, Doc("The target (or ACM/IAM alert id) whose check decided it")]
    endpoints: Annotated[tuple[str, ...], Doc("Every endpoint it is about")]
    created_at: datetime
    state: Annotated[str, Choices(("published", "pending", "silenced"))]
    silenced_by: Annotated[str | None, Doc("The silence or maintenance window that kept it quiet")]


@dataclass(frozen=True, slots=True)
class EventPage:
    """A team's recent events, newest first."""

    items: tuple[RecordedEvent, ...]


@dataclass(frozen=True, slots=True)
class EventQuery(TeamQuery):
    """The query string of ``GET /events``."""

    limit: Annotated[int, Range(1, MAX_LIMIT)] = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class Health:
    """Up, and the version answering."""

    status: Annotated[str, Choices(("ok",))]
    version: str


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """What went wrong: a code to act on and a message to read."""

    code: str
    message: str
    field: Annotated[str, Doc("The field or query parameter at fault")] = ABSENT
    existing_id: Annotated[str, Doc("The target the team already registered for this endpoint")] = ABSENT


@dataclass(frozen=True, slots=True)
class Error:
    """Every error answer."""

    error: ErrorDetail


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultSummary(targets.ResultSummary):
    """The latest verdict on a target."""

    DERIVED: ClassVar = Derived(unsaid=("certificates", "digest", "result_at", "cadence"))

    codes: tuple[Code, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointFields(models.Endpoint):
    """A target's endpoint, said in the target's own document."""

    DERIVED: ClassVar = Derived(unsaid=("host_is_address",))

    port: Port


@dataclass(frozen=True, slots=True, kw_only=True)
class SpecFields(targets.TargetSpec):
    """What a team asked for a target, said in the target's own document."""

    DERIVED: ClassVar = Derived(inline=("endpoint",))

    endpoint: EndpointFields
    labels: Labels
    warn_days: Days
    critical_days: Days
    check_interval_minutes: Interval
    alert_days: AlertDays | None
    revocation: Switch
    ari: Switch
    posture: Annotated[Posture | None, Doc("The target's own posture policy; null: its team's")]


@dataclass(frozen=True, slots=True, kw_only=True)
class Target(targets.Target):
    """A registered target with its latest result summary (null before its first check)."""

    DERIVED: ClassVar = Derived(
        unsaid=("scheduled_at",),
        says=("target", "next_check_at"),
        inline=("spec",),
        after={"target": "team", "paused": "spec", "source": "paused", "next_check_at": "updated_at"},
    )

    spec: SpecFields
    latest: ResultSummary | None

    @property
    def target(self) -> Annotated[str, Doc("Canonical form, e.g. https://example.com:443")]:
        return str(self.endpoint)


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetWithResult(Target):
    """A target with its latest full check result (null before its first check)."""

    result: Annotated[dict[str, Any] | None, As(CheckResult)]


@dataclass(frozen=True, slots=True)
class TargetPage:
    """A page of targets; next_cursor fetches the next one (null on the last page)."""

    items: tuple[Target, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class BulkRowOutcome:
    """What became of one row of a bulk import (rows are numbered from 1)."""

    row: int
    outcome: Outcome
    target: Annotated[Target, Doc("The target created")] = ABSENT
    existing_id: Annotated[str, Doc("The target this row duplicates")] = ABSENT
    error: Annotated[ErrorDetail, Doc("Why the row was rejected, or must be sent again")] = ABSENT


@dataclass(frozen=True, slots=True)
class BulkOutcomes:
    """One outcome per row, and how many rows had each outcome."""

    results: tuple[BulkRowOutcome, ...]
    created: int
    duplicate: int
    rejected: int
    retry: int
    not_processed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class InventoryEndpoint(inventory.EndpointUse):
    """A registered endpoint serving an inventory row's certificate, as its latest check left it."""

    DERIVED: ClassVar = Derived()

    checked_at: Annotated[datetime | None, Doc("null before its first check")]
    next_check_at: Annotated[datetime | None, Doc("null while paused")]
    labels: Labels


@dataclass(frozen=True, slots=True, kw_only=True)
class InventoryRow(inventory.InventoryRow):
    """One certificate certwatch knows (or an endpoint that served none): where it comes from, where it is used,
    and its verdict."""

    DERIVED: ClassVar = Derived(after={"kind": "id"})

    id: Annotated[str, Doc("SHA-256 fingerprint, the ACM/IAM ARN, or the target id of an endpoint without one")]
    kind: Annotated[
        RowKind,
        Doc("certificate; endpoint for a registered endpoint that served no certificate (unreachable, not checked)"),
    ]
    status: Annotated[
        RowStatus,
        Doc("The worst verdict of the endpoints serving it; error: never answered; pending: not checked yet"),
    ]
    checked_at: Annotated[datetime | None, Doc("The latest check of an endpoint serving it (null for ACM/IAM)")]
    next_check_at: Annotated[datetime | None, Doc("The soonest next check of an endpoint serving it")]
    endpoints: Annotated[tuple[InventoryEndpoint, ...], Doc("The registered endpoints serving it")]


@dataclass(frozen=True, slots=True)
class CertificatePage:
    """A page of certificates, and notes on what could not be read (e.g. a region out of reach)."""

    items: tuple[InventoryRow, ...]
    next_cursor: str | None
    notes: tuple[str, ...]
    readiness: Annotated[Readiness | None, Doc("null when no endpoint is in the view")]


@dataclass(frozen=True, slots=True)
class DiscoveredEndpoint:
    """An endpoint found behind one of the account's certificates, and what became of it."""

    target: str
    host: str
    port: Port
    protocol: Protocol
    source: Annotated[str, Doc("elbv2:<listener arn>, cloudfront:<id>, apigateway:<name> or apigatewayv2:<name>")]
    certificate_arn: str | None
    region: Annotated[str | None, Doc("null for CloudFront (global)")]
    outcome: Annotated[str, Choices(("proposed", *BULK_OUTCOMES))]
    target_id: Annotated[str, Doc("The target registered for it")] = ABSENT
    existing_id: Annotated[str, Doc("The target the team already had for it")] = ABSENT
    error: ErrorDetail = ABSENT


@dataclass(frozen=True, slots=True)
class Discovery:
    """What discovery found (and registered), and where it could not look."""

    endpoints: tuple[DiscoveredEndpoint, ...]
    failures: tuple[str, ...]


# --- watched domains (docs/domains.md) --------------------------------------------------------------

MAX_ALLOWED = 50
IssuerNames = Annotated[
    tuple[Annotated[str, Length(1, 500)], ...],
    Length(high=MAX_ALLOWED),
    Doc("Issuers whose certificates are expected: a distinguished name or its CN, e.g. R11"),
]
KeyHashes = Annotated[
    tuple[Annotated[str, Pattern(r"[0-9a-f]{64}")], ...],
    Length(high=MAX_ALLOWED),
    Doc("SHA-256 (hex) of subject public keys (SPKI) whose certificates are expected, whoever issues them"),
]


RegistrationDays = Annotated[
    tuple[Annotated[int, Range(1, MAX_DAYS)], ...],
    Length(1, MAX_ALERT_DAYS),
    Doc("Days before the registration ends at which it is told (default: 30, 14, 7, 3, 1)"),
]


@dataclass(frozen=True, slots=True)
class DomainInput:
    """A domain to watch in Certificate Transparency (and its registration over RDAP)."""

    SCHEMA: ClassVar[Mapping[str, Any]] = {**CLOSED}

    domain: Annotated[str, Length(1, 253), Doc("A registered domain (or a name under one), e.g. example.com")]
    include_subdomains: Annotated[bool, Doc("Certificates for names under it count too")] = True
    allowed_issuers: IssuerNames = ABSENT
    allowed_keys: KeyHashes = ABSENT
    owner: Owner = ABSENT
    alert_days: RegistrationDays = ABSENT


@dataclass(frozen=True, slots=True)
class DomainFinding:
    """What is wrong with a watched domain now."""

    code: Code
    severity: Severity
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchedDomain(domains.WatchedDomain):
    """A watched domain: what the team asked for, and what its sweeps learnt."""

    DERIVED: ClassVar = Derived()

    allowed_issuers: Annotated[
        tuple[str, ...], Doc("Expected issuers: as given, else those of the first sweep (review them)")
    ]
    allowed_keys: KeyHashes
    cursor: Annotated[str | None, Doc("The CT source's cursor: issuances after it are read next")]
    problem: Annotated[str | None, Doc("Why the last sweep could not read CT or RDAP (DOMAIN_WATCH_FAILED)")]
    registration_expires_at: Annotated[datetime | None, Doc("When the registration ends, as the registry says")]
    alert_days: Annotated[RegistrationDays | None, Doc("Its own thresholds (null: 30, 14, 7, 3, 1)")]
    findings: tuple[DomainFinding, ...]
    unwatched: Annotated[
        tuple[str, ...],
        Doc("Names valid CT certificates cover under it that no target checks (seen in CT, not watched)"),
    ]


@dataclass(frozen=True, slots=True)
class DomainPage:
    """A team's watched domains, by name."""

    items: tuple[WatchedDomain, ...]


DomainRows = Annotated[
    tuple[Any, ...],
    Length(1, MAX_BULK_ROWS),
    Doc("DomainInput rows: a row that is not one is reported as rejected, and blocks no other row"),
]


@dataclass(frozen=True, slots=True)
class DomainBulkRow:
    """What became of one row of ``POST /domains/bulk`` (rows are numbered from 1)."""

    row: int
    outcome: Annotated[str, Choices(domains.DOMAIN_OUTCOMES)]
    domain: Annotated[WatchedDomain, Doc("The domain now watched")] = ABSENT
    existing_id: Annotated[str, Doc("The watched domain this row duplicates")] = ABSENT
    error: Annotated[ErrorDetail, Doc("Why the row was rejected, or must be sent again")] = ABSENT


@dataclass(frozen=True, slots=True)
class DomainBulkOutcomes:
    """One outcome per row, and how many rows had each outcome."""

    results: tuple[DomainBulkRow, ...]
    created: int
    duplicate: int
    rejected: int
    retry: int
