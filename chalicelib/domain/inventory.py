"""The certificate inventory's domain: certificates the account holds (ACM, IAM), what is wrong with
them, and one row per certificate across endpoints, ACM and IAM (and one per endpoint that served
none), each with one status. Pure: takes ``now``.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.alerts import Observation
from chalicelib.domain.models import (
    CertificateInfo,
    Endpoint,
    Finding,
    FindingCode,
    Protocol,
    Severity,
    days_until,
    status_for,
    worst_status,
)
from chalicelib.domain.targets import Target, runbook_problem

# ACM renews what it issued when it is in use and validation still works; nobody renews the rest.
AUTO_RENEWED_TYPES = {"AMAZON_ISSUED", "PRIVATE"}
_WEAK_ACM_KEYS = {"RSA_1024": 1024}
_LOWER = {Severity.CRITICAL: Severity.WARNING, Severity.WARNING: Severity.INFO, Severity.INFO: Severity.INFO}


# Events ACM sends to EventBridge about a certificate (source aws.acm).
ACM_EVENT_TYPES = {
    "ACM Certificate Approaching Expiration",
    "ACM Certificate Expired",
    "ACM Certificate Renewal Action Required",
    "ACM Certificate Available",
}


class Source(enum.StrEnum):
    ENDPOINT = "endpoint"
    ACM = "acm"
    IAM = "iam"
    DOMAIN = "domain"  # a watched domain (its CT issuances and registration)


@dataclass(frozen=True, slots=True)
class ManagedCertificate:
    """A certificate the account holds in ACM (per region) or IAM (server certificates)."""

    source: Source
    arn: str
    region: str | None
    domain: str
    sans: tuple[str, ...]
    type: str  # AMAZON_ISSUED, IMPORTED, PRIVATE; IAM for IAM server certificates
    status: str  # ACM's status (ISSUED, PENDING_VALIDATION, EXPIRED, ...); ISSUED for IAM
    not_before: datetime | None
    not_after: datetime | None
    key_algorithm: str  # ACM's names: RSA_2048, EC_prime256v1, ...
    issuer: str | None = None
    serial: str | None = None
    renewal_eligibility: str | None = None  # ELIGIBLE / INELIGIBLE
    renewal_status: str | None = None  # PENDING_AUTO_RENEWAL, PENDING_VALIDATION, SUCCESS, FAILED
    renewal_reason: str | None = None
    in_use_by: tuple[str, ...] = ()
    name: str | None = None  # an IAM server certificate's name
    fingerprint_sha256: str | None = None  # when the certificate body is known
    # Who acts on its alerts and how, from its tags (tagged): what a target's own fields say.
    owner: str | None = None
    runbook_url: str | None = None
    notes: str | None = None

    @property
    def identity(self) -> str:
        """Stable id of this certificate record (the ARN)."""
        return self.arn

    @property
    def auto_renewed(self) -> bool:
        return self.type in AUTO_RENEWED_TYPES and self.renewal_eligibility != "INELIGIBLE"


# The tags of an ACM/IAM certificate read as a target's owner, runbook_url and notes: the
# ``certwatch:`` one first, then the plain one (tag keys compared without regard to case).
OWNERSHIP_TAGS = {
    "owner": ("certwatch:owner", "owner"),
    "runbook_url": ("certwatch:runbook", "runbook"),
    "notes": ("certwatch:notes", "notes"),
}


def tagged(cert: ManagedCertificate, tags: Mapping[str, str]) -> ManagedCertificate:
    """``cert`` with the owner, runbook_url and notes its tags give (OWNERSHIP_TAGS).

    A tag value is text anyone allowed to tag wrote: a runbook that is no http(s) URL a person
    may be sent to (``targets.runbook_problem``) is left out, as is text with control characters.
    """
    by_key = {key.lower(): value.strip() for key, value in tags.items()}
    found: dict[str, str | None] = {}
    for name, keys in OWNERSHIP_TAGS.items():
        value = next((by_key[key] for key in keys if by_key.get(key)), None)
        usable = value is not None and value.isprintable()
        if usable and name == "runbook_url" and runbook_problem(str(value)) is not None:
            usable = False
        found[name] = value if usable else None
    return replace(cert, owner=found["owner"], runbook_url=found["runbook_url"], notes=found["notes"])


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    """Thresholds for certificates held in ACM/IAM."""

    warn_days: int = 30
    critical_days: int = 7
    not_auto_renewed_warn_days: int = 45


@dataclass(frozen=True, slots=True)
class Assessment:
    """A managed certificate judged at ``checked_at``: its findings and what alerting needs."""

    certificate: ManagedCertificate
    findings: tuple[Finding, ...]
    checked_at: datetime
    warn_days: int
    critical_days: int

    @property
    def status(self) -> str:
        return status_for(self.findings).value

    @property
    def days_left(self) -> int | None:
        na = self.certificate.not_after
        return None if na is None else days_until(na, self.checked_at)

    def observation(self) -> Observation:
        """What the alert decision sees: a leaf whose identity changes when ACM renews (same ARN)."""
        return Observation(
            leaf=leaf_info(self.certificate),
            findings=self.findings,
            status=status_for(self.findings),
            days_left=self.days_left,
            checked_at=self.checked_at,
        )


def assess(cert: ManagedCertificate, now: datetime, policy: ManagedPolicy | None = None) -> Assessment:
    """The findings of a certificate held in ACM/IAM."""
    policy = policy or ManagedPolicy()
    found: list[Finding] = []
    unused = not cert.in_use_by and cert.source is Source.ACM
    warn_days = policy.warn_days if cert.auto_renewed else max(policy.warn_days, policy.not_auto_renewed_warn_days)
    if not cert.auto_renewed:
        why = "it was imported" if cert.type == "IMPORTED" else "ACM cannot renew it"
        if cert.source is Source.IAM:
            why = "IAM server certificates are never renewed"
        elif cert.type in AUTO_RENEWED_TYPES:
            why = "ACM says it is not eligible for renewal (not in use, or validation impossible)"
        found.append(
            Finding(
                FindingCode.NOT_AUTO_RENEWED,
                Severity.INFO,
                f"nobody renews this certificate automatically: {why}; replace it before it expires",
            )
        )
    if cert.renewal_status in {"FAILED", "PENDING_VALIDATION"}:
        detail = f" ({cert.renewal_reason})" if cert.renewal_reason else ""
        state = "failed" if cert.renewal_status == "FAILED" else "is stuck pending validation"
        found.append(
            Finding(
                FindingCode.RENEWAL_FAILED,
                Severity.CRITICAL,
                f"ACM's renewal {state}{detail}: check the DNS validation records",
            )
        )
    if unused:
        found.append(Finding(FindingCode.UNUSED, Severity.INFO, "not in use by any AWS resource"))
    found += _expiry(cert, now, warn_days, policy.critical_days, lower=unused)
    bits = _WEAK_ACM_KEYS.get(cert.key_algorithm)
    if bits is not None:
        found.append(Finding(FindingCode.WEAK_KEY, Severity.CRITICAL, f"{bits}-bit RSA key (minimum 2048)"))
    return Assessment(cert, tuple(found), now, warn_days, policy.critical_days)


def _expiry(
    cert: ManagedCertificate, now: datetime, warn_days: int, critical_days: int, *, lower: bool
) -> list[Finding]:
    if cert.not_after is None:
        return []
    left = cert.not_after - now
    when = f"{cert.not_after:%Y-%m-%d %H:%M} UTC"
    found: list[Finding] = []
    if left < timedelta(0):
        found.append(Finding(FindingCode.EXPIRED, Severity.CRITICAL, f"the certificate expired on {when}"))
    elif left <= timedelta(days=critical_days):
        found.append(Finding(FindingCode.EXPIRING_SOON, Severity.CRITICAL, f"the certificate expires {when}"))
    elif left <= timedelta(days=warn_days):
        found.append(Finding(FindingCode.EXPIRING_SOON, Severity.WARNING, f"the certificate expires {when}"))
    if lower:  # an unused certificate breaks nothing when it expires
        found = [Finding(f.code, _LOWER[f.severity], f.message + " (unused)") for f in found]
    return found


def leaf_info(cert: ManagedCertificate) -> CertificateInfo:
    """The certificate in the engine's terms, so alerting and the inventory treat all sources alike."""
    not_before = cert.not_before or cert.not_after or datetime.min
    not_after = cert.not_after or not_before
    identity = cert.fingerprint_sha256 or hashlib.sha256(f"{cert.arn}@{not_after.isoformat()}".encode()).hexdigest()
    family, _, size = cert.key_algorithm.partition("_")
    key_size = int(size) if size.isdigit() else {"prime256v1": 256, "secp384r1": 384, "secp521r1": 521}.get(size, 0)
    return CertificateInfo(
        subject=f"CN={cert.domain}",
        issuer=cert.issuer or "",
        serial=cert.serial or "",
        sans=cert.sans,
        ip_sans=(),
        key_type=family if family != "EC" else f"EC-{size}",
        key_size=key_size,
        signature_algorithm="",
        fingerprint_sha256=identity,
        not_before=not_before,
        not_after=not_after,
        is_ca=False,
        self_issued=False,
    )


class RowStatus(enum.StrEnum):
    """An inventory row's status: its latest verdict (a check's ``Status``), or pending before the first.

    A certificate's row has the worst verdict of the endpoints serving it. An endpoint that served
    no certificate is a row of its own: ``error`` when it never answered, ``pending`` before its
    first check. The API, ``certwatch inventory`` and the page all read these words.
    """

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    ERROR = "error"
    PENDING = "pending"


class RowKind(enum.StrEnum):
    """What an inventory row stands for."""

    CERTIFICATE = "certificate"  # served by endpoints (one row per fingerprint) or held in ACM/IAM (per ARN)
    ENDPOINT = "endpoint"  # a registered endpoint that served no certificate: unreachable, or not checked yet
    UNWATCHED = "unwatched"  # a certificate seen in CT under a watched domain, for names no target checks


@dataclass(frozen=True, slots=True)
class InventoryQuery:
    """What the inventory view narrows to."""

    source: Source | None = None
    status: RowStatus | None = None
    expiring_before: datetime | None = None
    issuer: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointUse:
    """A registered endpoint in an inventory row, as its latest check left it."""

    target_id: str
    target: str
    status: RowStatus
    codes: tuple[str, ...]
    checked_at: datetime | None  # None before the first check
    next_check_at: datetime | None  # None while paused
    paused: bool
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InventoryRow:
    """One certificate in the one inventory (or an endpoint that served none): where it is used, its verdict."""

    id: str  # fingerprint (endpoint certificates), ARN (ACM/IAM) or target id (an endpoint without a certificate)
    source: Source
    subject: str
    sans: tuple[str, ...]
    issuer: str
    key: str
    not_after: datetime | None
    days_left: int | None
    status: RowStatus
    codes: tuple[str, ...]
    used_by: tuple[str, ...] = field(default=())
    region: str | None = None
    team: str | None = None
    kind: RowKind = RowKind.CERTIFICATE
    checked_at: datetime | None = None  # the latest check of an endpoint serving it
    next_check_at: datetime | None = None  # the soonest next check of an endpoint serving it
    endpoints: tuple[EndpointUse, ...] = ()


def endpoint_rows(targets: Iterable[Target], team: str, now: datetime) -> list[InventoryRow]:
    """The team's endpoints in the inventory: one row per certificate served, naming every endpoint that
    serves it, and one row per endpoint that served none (never answered, or not checked yet)."""
    serving: dict[str, list[Target]] = {}
    rows: list[InventoryRow] = []
    for target in targets:
        latest = target.latest
        briefs = latest.certificates if latest is not None else ()
        for brief in briefs:
            serving.setdefault(brief.fingerprint_sha256, []).append(target)
        if not briefs:
            rows.append(_endpoint_row(target, team))
    for fingerprint, served_by in serving.items():
        rows.append(_certificate_row(fingerprint, served_by, team, now))
    return rows


def _use(target: Target) -> EndpointUse:
    latest = target.latest
    return EndpointUse(
        target_id=target.id,
        target=str(target.endpoint),
        status=RowStatus.PENDING if latest is None else RowStatus(latest.status.value),
        codes=() if latest is None else latest.codes,
        checked_at=None if latest is None else latest.checked_at,
        next_check_at=None if target.paused else target.next_check_at,
        paused=target.paused,
        labels=dict(target.spec.labels),
    )


def _endpoint_row(target: Target, team: str) -> InventoryRow:
    use = _use(target)
    return InventoryRow(
        id=target.id,
        source=Source.ENDPOINT,
        subject="",
        sans=(),
        issuer="",
        key="",
        not_after=None,
        days_left=None,
        status=use.status,
        codes=use.codes,
        used_by=(use.target,),
        team=team,
        kind=RowKind.ENDPOINT,
        checked_at=use.checked_at,
        next_check_at=use.next_check_at,
        endpoints=(use,),
    )


def _certificate_row(fingerprint: str, served_by: list[Target], team: str, now: datetime) -> InventoryRow:
    uses = tuple(_use(target) for target in served_by)
    summaries = [target.latest for target in served_by if target.latest is not None]
    brief = next(b for b in summaries[0].certificates if b.fingerprint_sha256 == fingerprint)
    checked = [use.checked_at for use in uses if use.checked_at is not None]
    upcoming = [use.next_check_at for use in uses if use.next_check_at is not None]
    return InventoryRow(
        id=fingerprint,
        source=Source.ENDPOINT,
        subject=brief.subject,
        sans=brief.sans,
        issuer=brief.issuer,
        key=brief.key,
        not_after=brief.not_after,
        days_left=days_until(brief.not_after, now),
        status=RowStatus(worst_status([s.status for s in summaries]).value),
        codes=tuple(dict.fromkeys(code for s in summaries for code in s.codes)),
        used_by=tuple(use.target for use in uses),
        team=team,
        checked_at=max(checked, default=None),
        next_check_at=min(upcoming, default=None),
        endpoints=uses,
    )


def assessment_to_dict(assessment: Assessment) -> dict[str, object]:
    """An assessment as plain data (what the stores keep)."""
    cert = assessment.certificate
    return {
        "source": cert.source.value,
        "arn": cert.arn,
        "region": cert.region,
        "domain": cert.domain,
        "sans": list(cert.sans),
        "type": cert.type,
        "status": cert.status,
        "not_before": _stamp(cert.not_before),
        "not_after": _stamp(cert.not_after),
        "key_algorithm": cert.key_algorithm,
        "issuer": cert.issuer,
        "serial": cert.serial,
        "renewal_eligibility": cert.renewal_eligibility,
        "renewal_status": cert.renewal_status,
        "renewal_reason": cert.renewal_reason,
        "in_use_by": list(cert.in_use_by),
        "name": cert.name,
        "fingerprint_sha256": cert.fingerprint_sha256,
        "owner": cert.owner,
        "runbook_url": cert.runbook_url,
        "notes": cert.notes,
        "findings": [
            {"code": f.code.value, "severity": f.severity.value, "message": f.message} for f in assessment.findings
        ],
        "checked_at": _stamp(assessment.checked_at),
        "warn_days": assessment.warn_days,
        "critical_days": assessment.critical_days,
    }


def assessment_from_dict(data: dict[str, Any]) -> Assessment:
    cert = ManagedCertificate(
        source=Source(data["source"]),
        arn=data["arn"],
        region=data.get("region"),
        domain=data["domain"],
        sans=tuple(data.get("sans") or ()),
        type=data["type"],
        status=data["status"],
        not_before=_unstamp(data.get("not_before")),
        not_after=_unstamp(data.get("not_after")),
        key_algorithm=data["key_algorithm"],
        issuer=data.get("issuer"),
        serial=data.get("serial"),
        renewal_eligibility=data.get("renewal_eligibility"),
        renewal_status=data.get("renewal_status"),
        renewal_reason=data.get("renewal_reason"),
        in_use_by=tuple(data.get("in_use_by") or ()),
        name=data.get("name"),
        fingerprint_sha256=data.get("fingerprint_sha256"),
        owner=data.get("owner"),
        runbook_url=data.get("runbook_url"),
        notes=data.get("notes"),
    )
    findings = tuple(
        Finding(FindingCode(f["code"]), Severity(f["severity"]), f["message"]) for f in data.get("findings") or ()
    )
    checked_at = datetime.fromisoformat(data["checked_at"])
    return Assessment(cert, findings, checked_at, int(data["warn_days"]), int(data["critical_days"]))


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _unstamp(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class DiscoveredEndpoint:
    """A public endpoint found in the account, and where it was found."""

    endpoint: Endpoint
    source: str  # "elbv2:<listener arn>", "cloudfront:<id>", "apigateway:<name>", "apigatewayv2:<name>"
    certificate_arn: str | None
    region: str | None  # None for CloudFront (global)

    @property
    def key(self) -> tuple[str, int, Protocol]:
        """What makes two discovered endpoints the same: host, port and protocol."""
        return (self.endpoint.host, self.endpoint.port, self.endpoint.protocol)


@dataclass(frozen=True, slots=True)
class Discovered:
    """What one discovery found: the endpoints, and ``(service, region, message)`` of what it could not read."""

    endpoints: tuple[DiscoveredEndpoint, ...] = ()
    failures: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CertificateScan:
    """What one scan of a source read: its certificates, and ``(region or "iam", message)`` of what it could not."""

    certificates: tuple[ManagedCertificate, ...] = ()
    failures: tuple[tuple[str, str], ...] = ()
