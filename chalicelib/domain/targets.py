"""The target registry's domain: what a team asked certwatch to watch, and its latest verdict."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
import re
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.cadence import CadenceBrief
from chalicelib.domain.endpoints import normalize_hostname
from chalicelib.domain.models import CheckPolicy, Endpoint, PosturePolicy, Protocol, Status, TargetReport
from chalicelib.domain.schedule import next_check
from chalicelib.errors import InvalidTargetError, InvalidValueError

_TARGET_ID = re.compile(r"tg_[0-9a-f]{20}")

DEFAULT_INTERVAL_MINUTES = 360
MIN_INTERVAL_MINUTES = 5
# How old the stored full result of an unchanged verdict may grow before a check writes it again.
FULL_RESULT_FRESH_FOR = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """What a client asks certwatch to watch, and how."""

    endpoint: Endpoint
    labels: dict[str, str] = field(default_factory=dict)
    warn_days: int = 30
    critical_days: int = 7
    check_interval_minutes: int = DEFAULT_INTERVAL_MINUTES
    ca_bundle: str | None = None
    notes: str | None = None
    owner: str | None = None  # who acts on its alerts: a person, a group or an address, as the team writes it
    runbook_url: str | None = None  # how to act: an http(s) page (see runbook_url)
    alert_days: tuple[int, ...] | None = None  # thresholds to announce; None: derived from warn_days
    revocation: bool = True  # ask the CA whether the served chain is revoked (CRL, OCSP)
    ari: bool = True  # ask an ACME CA for its renewal window (RFC 9773)
    posture: PosturePolicy | None = None  # its own posture policy; None: its team's

    @property
    def policy(self) -> CheckPolicy:
        return self.policy_within(PosturePolicy())

    def policy_within(self, team: PosturePolicy) -> CheckPolicy:
        """What a check of the target is judged by, in a team whose posture policy is ``team``: its own
        thresholds, and its own posture policy where it has one, else the team's."""
        posture = team if self.posture is None else self.posture
        return CheckPolicy(warn_days=self.warn_days, critical_days=self.critical_days, posture=posture)


@dataclass(frozen=True, slots=True)
class CertificateBrief:
    """A served certificate in a few words, enough for the inventory (one row per fingerprint)."""

    fingerprint_sha256: str
    subject: str
    issuer: str
    key: str
    not_after: datetime
    sans: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResultSummary:
    """The latest verdict on a target, kept on the target itself so a listing needs no extra read."""

    status: Status
    days_left: int | None
    not_after: datetime | None
    codes: tuple[str, ...]
    checked_at: datetime  # the latest check, whether or not its full result was written again
    certificates: tuple[CertificateBrief, ...] = ()
    # What the verdict is, without its times (``verdict_digest``): a check that finds the same
    # need not write the full result again. ``result_at``: when the full result was last
    # written (None on a record written before it was kept: then it is written in full).
    digest: str = ""
    result_at: datetime | None = None
    # The renewal cadence in brief (None before a history was read): while the certificates served are
    # ``certificates``, the history is what it was, and a check judges its cadence from this alone.
    cadence: CadenceBrief | None = None

    @classmethod
    def of(cls, report: TargetReport) -> ResultSummary:
        leaves = {r.leaf.fingerprint_sha256: r.leaf for r in report.results if r.leaf is not None}
        return cls(
            digest=verdict_digest(report),
            result_at=report.checked_at,
            cadence=None if report.cadence is None else report.cadence.brief,
            status=report.status,
            days_left=report.days_left,
            not_after=report.not_after,
            codes=tuple(dict.fromkeys(f.code.value for f in report.findings)),
            checked_at=report.checked_at,
            certificates=tuple(
                CertificateBrief(
                    fingerprint_sha256=leaf.fingerprint_sha256,
                    subject=leaf.subject,
                    issuer=leaf.issuer,
                    key=f"{leaf.key_type} {leaf.key_size}",
                    not_after=leaf.not_after,
                    sans=leaf.sans + leaf.ip_sans,
                )
                for leaf in leaves.values()
            ),
        )

    def same_verdict(self, earlier: ResultSummary) -> bool:
        """Whether this verdict is the one ``earlier`` recorded (a record without a digest says nothing)."""
        return bool(earlier.digest) and earlier.digest == self.digest

    def unchanged_since(self, earlier: ResultSummary, *, fresh_for: timedelta = FULL_RESULT_FRESH_FOR) -> bool:
        """Whether this verdict is the one ``earlier`` recorded, and its full result younger than ``fresh_for``."""
        return self.same_verdict(earlier) and earlier.result_fresh(self.checked_at, fresh_for=fresh_for)

    def result_fresh(self, now: datetime, *, fresh_for: timedelta = FULL_RESULT_FRESH_FOR) -> bool:
        """Whether the full result this summary's verdict was written with is younger than ``fresh_for`` at ``now``."""
        return self.result_at is not None and now - self.result_at < fresh_for


def verdict_digest(report: TargetReport) -> str:
    """A fingerprint of what a check found, its times left out: the addresses, each one's chain, every finding."""
    said = {
        "addresses": [
            [r.address, r.status.value, [c.fingerprint_sha256 for c in (r.leaf, *r.chain) if c is not None]]
            for r in report.results
        ],
        "findings": [[f.code.value, f.severity.value, f.message] for f in report.findings],
    }
    return hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Target:
    """A registered endpoint: its spec, its owner, its schedule and its latest verdict."""

    id: str
    team: str
    spec: TargetSpec
    created_at: datetime
    updated_at: datetime
    scheduled_at: datetime  # the anchor of its slot (schedule.Slot): registered, resumed or given a new interval
    paused: bool = False
    source: str = "api"
    latest: ResultSummary | None = None

    @property
    def endpoint(self) -> Endpoint:
        return self.spec.endpoint

    @property
    def next_check_at(self) -> datetime:
        """The moment of its slot its next check is due at (already past when a check is late)."""
        last = self.latest.checked_at if self.latest is not None else None
        return next_check(self.scheduled_at, self.spec.check_interval_minutes, last)

    @property
    def key(self) -> str:
        return endpoint_key(self.spec.endpoint)


@dataclass(frozen=True, slots=True)
class TargetChanges:
    """A partial update (PATCH): only the fields that are set change."""

    labels: dict[str, str] | None = None
    warn_days: int | None = None
    critical_days: int | None = None
    check_interval_minutes: int | None = None
    notes: str | None = None
    owner: str | None = None
    runbook_url: str | None = None
    cleared: frozenset[str] = frozenset()  # among CLEARABLE: the fields a null in the request empties
    alert_days: tuple[int, ...] | None = None
    paused: bool | None = None
    revocation: bool | None = None
    ari: bool | None = None
    posture: PosturePolicy | None = None  # the target's own, whole; null in a PATCH: its team's again


# The fields of a TargetSpec a TargetChanges may set (paused and cleared are handled apart).
SPEC_CHANGES = (
    "labels",
    "warn_days",
    "critical_days",
    "check_interval_minutes",
    "notes",
    "owner",
    "runbook_url",
    "alert_days",
    "revocation",
    "ari",
    "posture",
)
# The fields a change may empty (null in a PATCH): the free-text ones, and the target's own posture
# policy (its team's applies again); the others fall back to defaults instead.
CLEARABLE = ("notes", "owner", "runbook_url", "posture")


@dataclass(frozen=True, slots=True)
class TargetFilter:
    """What ``GET /targets`` narrows a listing to."""

    status: Status | None = None
    label: tuple[str, str] | None = None
    expiring_before: datetime | None = None

    def matches(self, target: Target) -> bool:
        latest = target.latest
        if self.status is not None and (latest is None or latest.status is not self.status):
            return False
        if self.label is not None and target.spec.labels.get(self.label[0]) != self.label[1]:
            return False
        if self.expiring_before is not None:
            return latest is not None and latest.not_after is not None and latest.not_after <= self.expiring_before
        return True


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing; ``cursor`` fetches the next one (None on the last page)."""

    items: tuple[Target, ...]
    cursor: str | None


# What can become of one row of a bulk import. ``retry``: the data store failed on this row;
# ``not_processed``: the request's time ran out before the row was reached. Both may be sent again.
BULK_OUTCOMES = ("created", "duplicate", "rejected", "retry", "not_processed")


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A bulk row refused before registration (malformed); its number still counts."""

    reason: str
    code: str = "invalid_field"


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    """What became of one row of a bulk import."""

    row: int
    outcome: str  # one of BULK_OUTCOMES
    target: Target | None = None
    existing_id: str | None = None
    error_code: str | None = None
    reason: str | None = None


def endpoint_key(endpoint: Endpoint) -> str:
    """What makes two registrations the same target for one team: the handshake they reach.

    That is the host, port and SNI, and how TLS starts: implicit TLS is one way whatever the
    scheme (``https://``, ``tls://``, ``smtps://``, ...), SMTP's STARTTLS one on port 587 as on
    25. Case, a trailing dot, a default port and an SNI equal to the host are gone already (the
    endpoint is normalized when parsed). Implicit TLS keys as ``https``, as every ``https://``
    target's key always read, so those keys are what earlier versions stored.
    """
    way = _HANDSHAKES.get(endpoint.protocol, endpoint.protocol.value)
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    return f"{way}://{host}:{endpoint.port}#{endpoint.sni or ''}"


def legacy_endpoint_key(endpoint: Endpoint) -> str:
    """The key versions before ``endpoint_key`` stored: the scheme as given (for a store's older items)."""
    return f"{endpoint}#{endpoint.sni or ''}"


_IMPLICIT_TLS = (Protocol.HTTPS, Protocol.TLS, Protocol.SMTPS, Protocol.IMAPS, Protocol.POP3S, Protocol.LDAPS)
_HANDSHAKES = dict.fromkeys(_IMPLICIT_TLS, Protocol.HTTPS.value) | {Protocol.SUBMISSION: Protocol.SMTP.value}


def runbook_problem(text: str) -> str | None:
    """Why ``text`` is no runbook address a person may be sent to from an alert, or None when it is one.

    It must be an absolute http(s) URL (RFC 3986) with a host and no user name or password (a
    password in a link every alert repeats is a leaked password), written without spaces or
    control characters, which ``urlsplit`` would silently drop or a chat message would cut at.
    """
    if not text or any(c.isspace() or not c.isprintable() for c in text):
        return "an http(s) URL without spaces or control characters, such as https://wiki.example.com/runbooks/tls"
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - urlsplit reads the port only when asked: a bad one raises here
    except ValueError:
        return "an http(s) URL with a valid host and port"
    if parts.scheme.lower() not in ("http", "https"):
        return "an http:// or https:// URL"
    if "@" in parts.netloc:
        return "a URL without a user name or password"
    host = parts.hostname or ""
    if not host:
        return "an http(s) URL with a host"
    if not is_address(host):
        try:
            normalize_hostname(host, what="host")
        except InvalidTargetError as exc:
            return f"an http(s) URL with a valid host ({exc})"
    return None


def is_address(host: str) -> bool:
    """Whether ``host`` is an IP address literal rather than a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def new_target_id() -> str:
    """A target id that sorts by creation time: 12 hex digits of milliseconds, 8 random."""
    return f"tg_{int(time.time() * 1000):012x}{secrets.token_hex(4)}"


def is_target_id(text: str) -> bool:
    """Whether ``text`` has the shape of the ids ``new_target_id`` makes."""
    return _TARGET_ID.fullmatch(text) is not None


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise InvalidValueError("invalid cursor", field="cursor", code="invalid_cursor") from exc
    if not isinstance(position, dict):
        raise InvalidValueError("invalid cursor", field="cursor", code="invalid_cursor")
    return position


def apply_changes(target: Target, changes: TargetChanges, now: datetime) -> Target:
    """The target as ``changes`` leave it: what a store's update writes, and what a change is judged by first."""
    updates: dict[str, Any] = {
        name: getattr(changes, name) for name in SPEC_CHANGES if getattr(changes, name) is not None
    }
    updates |= dict.fromkeys(set(CLEARABLE) & changes.cleared)
    paused = target.paused if changes.paused is None else changes.paused
    # Resumed or given an interval: its slot starts now (checked at the next sweep, then an interval apart).
    anchor = now if reschedules(changes) else target.scheduled_at
    return replace(target, spec=replace(target.spec, **updates), paused=paused, updated_at=now, scheduled_at=anchor)


def reschedules(changes: TargetChanges) -> bool:
    """Whether ``changes`` start the target's slot anew: resuming it, or setting its interval (not pausing it)."""
    return changes.paused is False or (changes.paused is None and changes.check_interval_minutes is not None)
