"""Watched domains and what Certificate Transparency and RDAP say of them: pure, given ``now``.

A watched domain is a scope, not a target: every certificate issued for its names (and its
sub-domains' when ``include_subdomains``) is read from a CT source, and the registration's own
expiry from the registry's RDAP server. The judgements here are:

* ``RENEWED_NOT_DEPLOYED`` on a target: CT shows a certificate for the target's name issued
  more than a grace period ago and valid now, newer than the one some address still serves.
* ``UNEXPECTED_ISSUANCE`` on a domain: a certificate from an issuer (and for a key) the domain
  did not allow.
* ``DOMAIN_EXPIRING`` on a domain: the registration ends within one of its thresholds (30, 14, 7,
  3, 1 days unless it has its own ``alert_days``).

A precertificate and its final certificate are one issuance: RFC 6962 3.2 defines the TBS hash
without the poison and SCT extensions, so both have the same ``tbs_sha256``; a source that
cannot give it is matched by issuer and serial instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chalicelib.domain.endpoints import normalize_hostname
from chalicelib.domain.hostnames import covers
from chalicelib.domain.inventory import InventoryRow, RowKind, RowStatus, Source
from chalicelib.domain.models import Finding, FindingCode, Severity, TargetReport, days_until
from chalicelib.domain.targets import is_address
from chalicelib.errors import InvalidTargetError, InvalidValueError

DOMAIN_ID = r"dm_[0-9a-f]{16}"
DEFAULT_GRACE = timedelta(hours=48)
# When a registration's end is told (days before it), and when it is critical: as a certificate's defaults.
REGISTRATION_THRESHOLDS = (30, 14, 7, 3, 1)
REGISTRATION_CRITICAL_DAYS = 7
# Certificates issued this close together are one renewal (an ECDSA and an RSA certificate for the same
# names, a client that ordered twice): serving either of them is serving the renewal.
SAME_RENEWAL = timedelta(hours=1)
CRT_SH = "https://crt.sh/?q="


@dataclass(frozen=True, slots=True)
class WatchedDomain:
    """A domain a team watches in CT (and whose registration it watches over RDAP).

    ``allowed_issuers`` are issuer names (the distinguished name, or its CN) and
    ``allowed_keys`` the SHA-256 of a subject public key (SPKI) whose certificates are expected;
    with neither, the issuers seen in the first sweep become the allowed ones, shown for review.
    The rest is what the sweeps learnt: the CT cursor (each issuance is read once), whether the
    first sweep is done, when the next one is due, the last failure, the registration's expiry.
    """

    id: str
    team: str
    domain: str
    created_at: datetime
    include_subdomains: bool = True
    allowed_issuers: tuple[str, ...] = ()
    allowed_keys: tuple[str, ...] = ()
    owner: str | None = None
    cursor: str | None = None
    baselined: bool = False
    next_sweep_at: datetime | None = None
    swept_at: datetime | None = None
    problem: str | None = None
    registration_expires_at: datetime | None = None
    registrar_checked_at: datetime | None = None
    alert_days: tuple[int, ...] | None = None  # when the registration's end is told; None: the defaults

    @property
    def thresholds(self) -> tuple[int, ...]:
        """The days before the registration's end at which it is told (tightest last)."""
        return tuple(sorted(set(self.alert_days or REGISTRATION_THRESHOLDS), reverse=True))

    def findings_at(self, now: datetime) -> tuple[Finding, ...]:
        """What is wrong with the domain now: its CT or RDAP fetch failed, or its registration ends soon."""
        found = []
        if self.problem:
            found.append(Finding(FindingCode.DOMAIN_WATCH_FAILED, Severity.WARNING, self.problem))
        expiring = registration_finding(self, now)
        if expiring is not None:
            found.append(expiring)
        return tuple(found)


@dataclass(frozen=True, slots=True)
class DomainRequest:
    """A domain to watch, as asked for (``POST /domains``, ``certwatch domains add``)."""

    domain: str
    include_subdomains: bool = True
    allowed_issuers: tuple[str, ...] = ()
    allowed_keys: tuple[str, ...] = ()
    owner: str | None = None
    alert_days: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class DomainOutcome:
    """What became of one row of ``POST /domains/bulk`` (rows numbered from 1): created, duplicate, rejected
    (with why), or retry (the data store failed on it: send it again)."""

    row: int
    outcome: str
    domain: WatchedDomain | None = None
    existing_id: str | None = None
    error_code: str | None = None
    reason: str | None = None


DOMAIN_OUTCOMES = ("created", "duplicate", "rejected", "retry")


def watchable(name: str) -> str:
    """``name`` as a watched domain: a DNS name of two labels or more (CT is searched by registered domain
    or a name under one: ``com`` is not), in A-label form; InvalidValueError otherwise."""
    text = name.strip()
    if text.startswith("*."):
        raise InvalidValueError(
            "a domain, not a wildcard: example.com (include_subdomains covers the names under it)", field="domain"
        )
    if is_address(text.strip("[]")):
        raise InvalidValueError("a domain name, not an address", field="domain")
    try:
        domain = normalize_hostname(text, what="domain")
    except InvalidTargetError as exc:
        raise InvalidValueError(str(exc), field="domain") from exc
    if "." not in domain:
        raise InvalidValueError(f"{domain!r} is a top-level domain: watch a registered domain under it", field="domain")
    return domain


@dataclass(frozen=True, slots=True)
class Issuance:
    """One certificate issuance as CT records it (its precertificate and certificate as one)."""

    id: str  # the source's own id: its cursor
    tbs_sha256: str
    dns_names: tuple[str, ...]
    pubkey_sha256: str
    issuer: str
    not_before: datetime
    not_after: datetime
    serial: str | None = None  # lower-case hex, as CertificateInfo.serial; None when the source gave no certificate
    cert_sha256: str | None = None
    precert: bool = False

    @property
    def crt_sh_url(self) -> str:
        """The issuance on crt.sh (by the SHA-256 of the certificate, else of its TBS)."""
        return CRT_SH + (self.cert_sha256 or self.tbs_sha256)

    def valid(self, now: datetime) -> bool:
        return self.not_before <= now < self.not_after


@dataclass(frozen=True, slots=True)
class IssuancePage:
    """What a CT source gave since a cursor: the issuances, the cursor after them, and how long it asked
    to wait (seconds) when it stopped answering before the end."""

    issuances: tuple[Issuance, ...]
    cursor: str | None
    retry_after: int | None = None


def coalesce(issuances: Iterable[Issuance]) -> list[Issuance]:
    """Each issuance once: a precertificate and its certificate (same TBS hash, or same issuer and serial)
    are one, the certificate's facts kept; in the order first seen."""
    kept: dict[str, Issuance] = {}
    alias: dict[tuple[str, str], str] = {}
    for issuance in issuances:
        key = issuance.tbs_sha256
        if issuance.serial is not None:
            key = alias.setdefault((issuance.issuer, issuance.serial), key)
        earlier = kept.get(key)
        if earlier is None or (earlier.precert and not issuance.precert):
            kept[key] = issuance if earlier is None else replace(issuance, id=earlier.id)
    return list(kept.values())


def in_scope(domain: WatchedDomain, name: str) -> bool:
    """Whether ``name`` (a DNS name or wildcard pattern) is the domain, or under it when sub-domains count."""
    name = name.lower().rstrip(".").removeprefix("*.")
    return name == domain.domain or (domain.include_subdomains and name.endswith("." + domain.domain))


def issuer_cn(name: str) -> str:
    """The CN of an issuer's name, in either order CT sources write it (``CN=R11,O=Let's Encrypt,C=US`` or
    ``C=US, O=Let's Encrypt, CN=R11``); the whole name when it has none."""
    for part in _parts(name):
        if part.upper().startswith("CN="):
            return part[3:]
    return name


def _parts(name: str) -> list[str]:
    return [p.strip() for p in _UNESCAPED_COMMA.split(name) if p.strip()]


def _rfc4514(name: str) -> str:
    """A name CT sources write most significant first (``C=US, O=..., CN=R11``) in RFC 4514's order, as the
    inventory's other rows give it (``CN=R11,O=...,C=US``)."""
    parts = _parts(name)
    return ",".join(reversed(parts)) if parts and not parts[0].upper().startswith("CN=") else ",".join(parts)


def _name_key(name: str) -> tuple[str, ...]:
    """A distinguished name compared whatever its order and spacing."""
    return tuple(sorted(p.lower() for p in _parts(name)))


_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


def allowed(domain: WatchedDomain, issuance: Issuance) -> bool:
    """Whether the domain expects this issuance: its issuer (by name or CN) or its key is allowed."""
    if issuance.pubkey_sha256.lower() in {k.lower() for k in domain.allowed_keys}:
        return True
    cn, key = issuer_cn(issuance.issuer).lower(), _name_key(issuance.issuer)
    return any(given.lower() == cn or _name_key(given) == key for given in domain.allowed_issuers)


def unexpected_issuance(domain: WatchedDomain, issuance: Issuance) -> Finding | None:
    """UNEXPECTED_ISSUANCE for an issuance of the domain's names the domain did not allow, else None."""
    names = [n for n in issuance.dns_names if in_scope(domain, n)]
    if not names or allowed(domain, issuance):
        return None
    serial = issuance.serial or "unknown"
    message = (
        f"a certificate for {', '.join(names)} was issued by {issuer_cn(issuance.issuer)} "
        f"(serial {serial}, valid from {issuance.not_before:%Y-%m-%d %H:%M} UTC), an issuer {domain.domain} "
        f"does not allow: {issuance.crt_sh_url}"
    )
    return Finding(FindingCode.UNEXPECTED_ISSUANCE, Severity.CRITICAL, message)


def baseline_issuers(issuances: Iterable[Issuance]) -> tuple[str, ...]:
    """The issuers of a first sweep, to allow by default (shown for review)."""
    return tuple(sorted({i.issuer for i in issuances}))


def renewed_not_deployed(
    report: TargetReport,
    issuances: Iterable[Issuance],
    now: datetime,
    *,
    grace: timedelta = DEFAULT_GRACE,
    critical_days: int = 7,
) -> Finding | None:
    """RENEWED_NOT_DEPLOYED when CT holds a newer certificate for the target's name than an address serves.

    The newer certificate must cover the name, be valid now and have been issued more than
    ``grace`` ago (its notBefore, which is when the CA issued it for the CAs that backdate at
    most a little): younger ones are being deployed. The finding names that certificate and
    every address still serving an older one; critical when one of those expires within
    ``critical_days``. An address that serves the new certificate, any newer one, or one issued within
    an hour of it (the same renewal: a dual ECDSA and RSA deployment), is fine.
    """
    name = report.endpoint.checked_name
    served = [r for r in report.results if r.leaf is not None]
    if not served:
        return None
    candidates = [i for i in issuances if i.valid(now) and i.not_before <= now - grace and covers(i.dns_names, name)]
    if not candidates:
        return None
    newest = max(candidates, key=lambda i: i.not_before)
    stale = [
        r
        for r in served
        if r.leaf is not None
        and r.leaf.not_before < newest.not_before - SAME_RENEWAL
        and r.leaf.serial != newest.serial
    ]
    if not stale:
        return None
    soonest = min(r.leaf.not_after for r in stale if r.leaf is not None)
    critical = days_until(soonest, now) <= critical_days
    where = ", ".join(r.address or name for r in stale)
    old = stale[0].leaf
    assert old is not None
    message = (
        f"a newer certificate for {name} (serial {newest.serial or 'unknown'}, issued by "
        f"{issuer_cn(newest.issuer)} at {newest.not_before:%Y-%m-%d %H:%M} UTC) is in Certificate Transparency, "
        f"but {where} still serve{'s' if len(stale) == 1 else ''} the older one (serial {old.serial}, expires "
        f"{soonest:%Y-%m-%d}): deploy it"
    )
    return Finding(FindingCode.RENEWED_NOT_DEPLOYED, Severity.CRITICAL if critical else Severity.WARNING, message)


def unwatched_rows(
    domains: Iterable[WatchedDomain], issuances: Iterable[Issuance], watched: Iterable[str], team: str, now: datetime
) -> list[InventoryRow]:
    """The inventory's "seen in CT, not watched": one row per valid CT certificate under a watched domain that
    covers names no target of the team checks (those names are its ``sans``); never checked, so pending."""
    checked = {n.lower() for n in watched}
    scopes = list(domains)
    rows = []
    for issuance in issuances:
        if not issuance.valid(now):
            continue
        names = sorted({n for n in issuance.dns_names if n not in checked and any(in_scope(d, n) for d in scopes)})
        if not names:
            continue
        rows.append(
            InventoryRow(
                id=issuance.cert_sha256 or issuance.tbs_sha256,
                source=Source.DOMAIN,
                subject=names[0],
                sans=tuple(names),
                issuer=_rfc4514(issuance.issuer),
                key="",
                not_after=issuance.not_after,
                days_left=days_until(issuance.not_after, now),
                status=RowStatus.PENDING,
                codes=(),
                team=team,
                kind=RowKind.UNWATCHED,
            )
        )
    return rows


def registration_finding(domain: WatchedDomain, now: datetime) -> Finding | None:
    """DOMAIN_EXPIRING when the registration ends within the widest threshold (critical within 7 days)."""
    ends, thresholds = domain.registration_expires_at, domain.thresholds
    if ends is None or not thresholds:
        return None
    left = days_until(ends, now)
    if left > max(thresholds):
        return None
    severity = Severity.CRITICAL if left <= REGISTRATION_CRITICAL_DAYS else Severity.WARNING
    when = "has ended" if left < 0 else f"ends in {left} day{'s' if left != 1 else ''}"
    message = f"the registration of {domain.domain} {when} ({ends:%Y-%m-%d}): renew it with the registrar"
    return Finding(FindingCode.DOMAIN_EXPIRING, severity, message)


def registration_threshold(domain: WatchedDomain, now: datetime) -> int | None:
    """The tightest threshold the registration's end has crossed (announced once each), or None."""
    ends = domain.registration_expires_at
    if ends is None:
        return None
    crossed = [t for t in domain.thresholds if ends - now <= timedelta(days=t)]
    return min(crossed) if crossed else None


def suggestions(
    domain: WatchedDomain, issuances: Iterable[Issuance], watched: Iterable[str], now: datetime
) -> list[str]:
    """Names under the domain that valid CT certificates cover and no target checks ("seen in CT, not watched").

    A wildcard is shown as it is (``*.example.com``): it covers names nobody can list.
    """
    checked = {n.lower() for n in watched}
    names: set[str] = set()
    for issuance in issuances:
        if not issuance.valid(now):
            continue
        names.update(n.lower() for n in issuance.dns_names if in_scope(domain, n))
    return sorted(n for n in names if n not in checked)
