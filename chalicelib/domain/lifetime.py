"""The shrinking maximum lifetime of publicly trusted TLS certificates (CA/Browser Forum ballot SC-081).

Baseline Requirements 6.3.2: a subscriber certificate issued (notBefore) before 15 March 2026
may be valid for at most 398 days; from then 200, from 15 March 2027 100, from 15 March 2029
47. Clients that enforce the limit refuse a longer certificate. The rule is the public CAs':
a chain that ends at a team's own CA is never judged by it.

The lifetime is notAfter minus notBefore. (The BRs count the validity period inclusively, one
second more; certwatch does not flag a certificate for that one second.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.domain.models import CertificateInfo, Finding, FindingCode, Severity


@dataclass(frozen=True, slots=True)
class LifetimeStep:
    """From ``since`` (a certificate's notBefore), the longest lifetime allowed, in days."""

    since: datetime
    max_days: int


SCHEDULE: tuple[LifetimeStep, ...] = (
    LifetimeStep(datetime(2020, 9, 1, tzinfo=UTC), 398),
    LifetimeStep(datetime(2026, 3, 15, tzinfo=UTC), 200),
    LifetimeStep(datetime(2027, 3, 15, tzinfo=UTC), 100),
    LifetimeStep(datetime(2029, 3, 15, tzinfo=UTC), 47),
)


def max_lifetime_days(issued: datetime) -> int | None:
    """The maximum lifetime in force for a certificate issued at ``issued`` (None before September 2020)."""
    allowed = None
    for step in SCHEDULE:
        if issued >= step.since:
            allowed = step.max_days
    return allowed


def next_step(now: datetime) -> LifetimeStep | None:
    """The next tightening of the schedule after ``now`` (None once the last one is in force)."""
    return next((step for step in SCHEDULE if step.since > now), None)


def lifetime_finding(leaf: CertificateInfo) -> Finding | None:
    """LIFETIME_EXCEEDS_POLICY for a publicly trusted leaf valid longer than allowed on its notBefore."""
    allowed = max_lifetime_days(leaf.not_before)
    if allowed is None or leaf.lifetime <= timedelta(days=allowed):
        return None
    days = leaf.lifetime / timedelta(days=1)
    shown = f"{days:.0f}" if days == int(days) else f"{days:.1f}"
    return Finding(
        FindingCode.LIFETIME_EXCEEDS_POLICY,
        Severity.CRITICAL,
        f"the certificate is valid for {shown} days, longer than the {allowed} days public CAs may issue "
        f"since {_step_since(leaf.not_before):%Y-%m-%d} (CA/Browser Forum, issued {leaf.not_before:%Y-%m-%d}); "
        "clients that enforce the limit refuse it",
    )


def _step_since(issued: datetime) -> datetime:
    return max(step.since for step in SCHEDULE if issued >= step.since)
