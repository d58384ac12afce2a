"""Domain objects of certwatch: endpoints, certificates, findings and check results.

Everything here is a frozen dataclass or a ``str`` enum, so a result serializes unchanged and
can be compared in tests. Nothing here does I/O.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.domain.algorithms import CertificateAlgorithms, certificate_algorithms
from chalicelib.errors import InvalidValueError

if TYPE_CHECKING:
    from chalicelib.domain.cadence import Cadence


class Revocation(enum.StrEnum):
    """A certificate's revocation status as its CA gave it (CRL or OCSP)."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RenewalWindow:
    """An ACME CA's suggested renewal window (ARI), and the page that explains it when it moved."""

    start: datetime
    end: datetime
    explanation_url: str | None = None


class Severity(enum.StrEnum):
    """How bad a finding is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class Status(enum.StrEnum):
    """The overall verdict of a check, as a monitoring system reads it."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """Order for "worst of": critical beats error (unknown) beats warning, as in Icinga."""
        return _STATUS_RANK[self]

    @property
    def exit_code(self) -> int:
        """The monitoring-plugin exit status: 0 ok, 1 warning, 2 critical, 3 unknown."""
        return _STATUS_EXIT[self]


_STATUS_RANK = {Status.OK: 0, Status.WARNING: 1, Status.ERROR: 2, Status.CRITICAL: 3}
_STATUS_EXIT = {Status.OK: 0, Status.WARNING: 1, Status.CRITICAL: 2, Status.ERROR: 3}


def worst_status(statuses: list[Status] | tuple[Status, ...]) -> Status:
    """The worst of several statuses; ok when there are none."""
    return max(statuses, key=lambda s: s.rank, default=Status.OK)


class FindingCode(enum.StrEnum):
    """What a check can find. The names are part of the public contract (API, events, CLI)."""

    EXPIRED = "EXPIRED"
    EXPIRING_SOON = "EXPIRING_SOON"
    NOT_YET_VALID = "NOT_YET_VALID"
    HOSTNAME_MISMATCH = "HOSTNAME_MISMATCH"
    SELF_SIGNED = "SELF_SIGNED"
    UNTRUSTED_ROOT = "UNTRUSTED_ROOT"
    INCOMPLETE_CHAIN = "INCOMPLETE_CHAIN"
    CHAIN_EXPIRING = "CHAIN_EXPIRING"
    INVALID_INTERMEDIATE = "INVALID_INTERMEDIATE"
    NAME_CONSTRAINTS_VIOLATED = "NAME_CONSTRAINTS_VIOLATED"
    NOT_FOR_SERVER_AUTH = "NOT_FOR_SERVER_AUTH"
    PATH_LENGTH_EXCEEDED = "PATH_LENGTH_EXCEEDED"
    UNKNOWN_CRITICAL_EXTENSION = "UNKNOWN_CRITICAL_EXTENSION"
    CA_CERTIFICATE_AS_LEAF = "CA_CERTIFICATE_AS_LEAF"
    PATH_VALIDATION_FAILED = "PATH_VALIDATION_FAILED"
    PATH_BUILDING_REQUIRED = "PATH_BUILDING_REQUIRED"
    NOT_WEB_PKI_COMPLIANT = "NOT_WEB_PKI_COMPLIANT"
    CHAIN_TOO_LONG = "CHAIN_TOO_LONG"
    WEAK_KEY = "WEAK_KEY"
    WEAK_SIGNATURE = "WEAK_SIGNATURE"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    RENEWAL_OVERDUE = "RENEWAL_OVERDUE"
    ADDRESSES_DISAGREE = "ADDRESSES_DISAGREE"
    CERTIFICATE_UNPARSEABLE = "CERTIFICATE_UNPARSEABLE"
    CONNECTION_FAILED = "CONNECTION_FAILED"
    CA_BUNDLE_UNUSABLE = "CA_BUNDLE_UNUSABLE"
    # What the CA says, and the rules of the public CAs:
    REVOKED = "REVOKED"
    REVOCATION_UNKNOWN = "REVOCATION_UNKNOWN"
    RENEWAL_REQUESTED = "RENEWAL_REQUESTED"
    LIFETIME_EXCEEDS_POLICY = "LIFETIME_EXCEEDS_POLICY"
    RENEWAL_CADENCE_AT_RISK = "RENEWAL_CADENCE_AT_RISK"
    # The address's cryptography (domain/posture.py):
    NO_POST_QUANTUM_KEY_EXCHANGE = "NO_POST_QUANTUM_KEY_EXCHANGE"
    LEGACY_TLS_ACCEPTED = "LEGACY_TLS_ACCEPTED"
    # Certificates held in ACM/IAM:
    NOT_AUTO_RENEWED = "NOT_AUTO_RENEWED"
    RENEWAL_FAILED = "RENEWAL_FAILED"
    UNUSED = "UNUSED"
    # What the cryptography is made of:
    QUANTUM_VULNERABLE_SIGNATURE = "QUANTUM_VULNERABLE_SIGNATURE"
    # What Certificate Transparency and RDAP say of a watched domain (domains.py):
    RENEWED_NOT_DEPLOYED = "RENEWED_NOT_DEPLOYED"
    UNEXPECTED_ISSUANCE = "UNEXPECTED_ISSUANCE"
    DOMAIN_EXPIRING = "DOMAIN_EXPIRING"
    DOMAIN_WATCH_FAILED = "DOMAIN_WATCH_FAILED"


class FailureReason(enum.StrEnum):
    """Why a connection produced no certificate."""

    DNS = "dns"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    TLS = "tls"
    PROTOCOL = "protocol"
    FORBIDDEN = "forbidden"


class Protocol(enum.StrEnum):
    """How to reach the TLS handshake of an endpoint: implicit TLS or a STARTTLS dialogue."""

    HTTPS = "https"
    TLS = "tls"
    SMTP = "smtp"
    SUBMISSION = "submission"
    SMTPS = "smtps"
    IMAP = "imap"
    IMAPS = "imaps"
    POP3 = "pop3"
    POP3S = "pop3s"
    FTP = "ftp"
    LDAPS = "ldaps"
    POSTGRES = "postgres"


@dataclass(frozen=True, slots=True)
class Finding:
    """One named problem (or remark) about what an endpoint serves."""

    code: FindingCode
    severity: Severity
    message: str
    reason: FailureReason | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to check: a host (name or address literal), port, protocol and optional SNI."""

    host: str
    port: int
    protocol: Protocol = Protocol.HTTPS
    sni: str | None = None
    host_is_address: bool = False

    @property
    def server_name(self) -> str | None:
        """The name sent as SNI: the explicit one, else the host unless it is an address."""
        if self.sni:
            return self.sni
        return None if self.host_is_address else self.host

    @property
    def checked_name(self) -> str:
        """The identity the certificate must cover: the SNI name, else the host itself."""
        return self.sni or self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.protocol.value}://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class PosturePolicy:
    """What a team (or one target) expects of an endpoint's cryptography, beyond its certificate's dates.

    ``require_post_quantum``: an address that negotiates no post-quantum key exchange is a warning
    (NO_POST_QUANTUM_KEY_EXCHANGE), not the default's info. ``quantum_safe_signatures_by``: from this
    date, a chain signed with RSA or ECDSA is QUANTUM_VULNERABLE_SIGNATURE (NIST IR 8547 deprecates
    them after 2030 and disallows them after 2035); None sets no date. ``note_classical``: where
    post-quantum is not required, a classical key exchange is still named, as an info finding (off
    by default: the result names every address's group and its class either way). ``legacy_tls``:
    ask each address, in a second handshake, whether it still accepts TLS 1.0 or 1.1
    (LEGACY_TLS_ACCEPTED); off by default, since it costs a handshake per address and version.
    """

    require_post_quantum: bool = False
    quantum_safe_signatures_by: date | None = None
    note_classical: bool = False
    legacy_tls: bool = False


@dataclass(frozen=True, slots=True)
class CheckPolicy:
    """Thresholds a check is judged by; a target may carry its own."""

    warn_days: int = 30
    critical_days: int = 7
    posture: PosturePolicy = PosturePolicy()


def check_thresholds(
    warn_days: int, critical_days: int, *, warn: str = "warn_days", critical: str = "critical_days"
) -> None:
    """Refuse a critical threshold beyond the warning one: it would be critical before it ever warned.

    ``warn`` and ``critical`` name the two as the caller's user knows them (a body's fields, a
    command line's options).
    """
    if critical_days > warn_days:
        raise InvalidValueError(f"{critical} must not exceed {warn}", field=critical)


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """The facts of one certificate, as read from its DER encoding."""

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
    self_issued: bool

    @property
    def lifetime(self) -> timedelta:
        return self.not_after - self.not_before

    @property
    def common_name(self) -> str:
        return short_name(self.subject)

    @property
    def algorithms(self) -> CertificateAlgorithms:
        """Its key's algorithm, its signature's and that signature's hash, each with its NIST quantum security level."""
        return certificate_algorithms(self.key_type, self.key_size, self.signature_algorithm)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one address of an endpoint served, and what is wrong with it."""

    address: str | None
    status: Status
    checked_at: datetime
    findings: tuple[Finding, ...] = ()
    leaf: CertificateInfo | None = None
    chain: tuple[CertificateInfo, ...] = ()
    trusted_by: str | None = None
    publicly_trusted: bool = False
    tls_version: str | None = None
    cipher: str | None = None
    group: str | None = None
    elapsed_ms: float = 0.0
    # The path a TLS client verifies for the checked name (leaf first, trust anchor last); empty
    # when no client accepts the chain (expired, untrusted, issued for another name, ...).
    verified_chain: tuple[CertificateInfo, ...] = ()
    # What the CA said at the check: the leaf's revocation status (None: not asked, or it names no
    # CRL or OCSP responder), and an ACME CA's suggested renewal window (None: none was offered).
    revocation: Revocation | None = None
    renewal_window: RenewalWindow | None = None
    # The legacy versions (TLSv1, TLSv1.1) the address completed a handshake with when offered
    # alone; None when it was not asked (the legacy probe is off) or no answer told.
    legacy_tls: tuple[str, ...] | None = None

    @property
    def days_left(self) -> int | None:
        if self.leaf is None:
            return None
        return days_until(self.leaf.not_after, self.checked_at)

    @property
    def not_after(self) -> datetime | None:
        return None if self.leaf is None else self.leaf.not_after


@dataclass(frozen=True, slots=True)
class TargetReport:
    """The verdict on one endpoint: one result per address, plus what only the whole shows."""

    endpoint: Endpoint
    results: tuple[CheckResult, ...]
    checked_at: datetime
    target_findings: tuple[Finding, ...] = field(default=())
    # A registered target's renewals as seen over its checks (the checking service adds it).
    cadence: Cadence | None = None

    @property
    def status(self) -> Status:
        statuses = [r.status for r in self.results]
        statuses += [status_for(self.target_findings)]
        return worst_status(statuses)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every distinct finding, the target's own first, then each address's."""
        seen: dict[Finding, None] = dict.fromkeys(self.target_findings)
        for result in self.results:
            seen.update(dict.fromkeys(result.findings))
        return tuple(seen)

    @property
    def soonest(self) -> CheckResult | None:
        """The address whose certificate expires first (the one that will break first)."""
        read = [r for r in self.results if r.leaf is not None]
        return min(read, key=lambda r: r.leaf.not_after if r.leaf else r.checked_at, default=None)

    @property
    def days_left(self) -> int | None:
        soonest = self.soonest
        return None if soonest is None else soonest.days_left

    @property
    def not_after(self) -> datetime | None:
        soonest = self.soonest
        return None if soonest is None else soonest.not_after


def short_name(distinguished_name: str) -> str:
    """The CN of an RFC 4514 name (the whole name when it has none), for short displays."""
    for part in _UNESCAPED_COMMA.split(distinguished_name):
        if part.startswith("CN="):
            return _ESCAPE.sub(r"\1", part[3:])
    return distinguished_name


_UNESCAPED_COMMA = re.compile(r"(?<!\\),")
_ESCAPE = re.compile(r"\\(.)")


def days_until(moment: datetime, now: datetime) -> int:
    """Whole days from ``now`` until ``moment``; once it has passed, minus the whole days since (at least -1).

    The findings' messages count the same way ("expires in 9 days" when 9 days and 23 hours are left).
    """
    left = moment - now
    if left >= timedelta(0):
        return left // timedelta(days=1)
    return -max(1, -left // timedelta(days=1))


def status_for(findings: tuple[Finding, ...] | list[Finding]) -> Status:
    """The status a set of findings amounts to: error when nothing could be read."""
    if any(f.code is FindingCode.CONNECTION_FAILED for f in findings):
        return Status.ERROR
    worst = max((f.severity.rank for f in findings), default=Severity.INFO.rank)
    if worst == Severity.CRITICAL.rank:
        return Status.CRITICAL
    if worst == Severity.WARNING.rank:
        return Status.WARNING
    return Status.OK
