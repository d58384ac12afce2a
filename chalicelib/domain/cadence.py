"""How an endpoint's certificates are actually renewed, from its check history, and whether that
cadence survives the CA/Browser Forum's shrinking lifetimes (``lifetime.SCHEDULE``).

Each certificate an endpoint serves is a *sighting*: its fingerprint, when certwatch first saw
it served, and its validity. A renewal is a new certificate replacing the one seen before it:
the days between the two changes, how old the replaced certificate was (``age``) and how many
of its days were left. A cadence is *ready* for a maximum lifetime of L days when each of the
last RECENT renewals happened by two thirds of L (older ones do not count: a team that
automated its renewals is judged by how it renews now), leaving a third of an L-day certificate for a
failed renewal to be noticed and retried (the point RENEWAL_OVERDUE assumes). Only endpoints
whose chains end at a public root are held to the schedule. Pure: takes ``now``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.lifetime import LifetimeStep, next_step
from chalicelib.domain.models import Finding, FindingCode, Severity

# The steps the readiness summary counts (ballot SC-081: 100 days from 2027, 47 from 2029).
READINESS_STEPS = (100, 47)
# The renewals a cadence is judged by: the latest few.
RECENT = 3
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Sighting:
    """A certificate first seen served by an endpoint at ``first_seen``."""

    fingerprint: str
    first_seen: datetime
    not_before: datetime
    not_after: datetime
    publicly_trusted: bool


@dataclass(frozen=True, slots=True)
class Renewal:
    """A certificate replaced: when, how long after the previous change, and the old one's age and days left."""

    at: datetime
    days_since_previous_change: int
    age_days: int
    days_left: int


@dataclass(frozen=True, slots=True)
class CadenceBrief:
    """What a cadence is judged by (``cadence_finding``): kept with a target's latest verdict, so a check that
    serves a certificate seen before judges its cadence again without reading the history."""

    renewed_at_age_days: int | None
    publicly_trusted: bool

    def ready_for(self, max_days: int) -> bool | None:
        """Whether renewals as seen leave a third of a ``max_days`` certificate; None when unknown."""
        age = self.renewed_at_age_days
        return None if age is None else age * 3 <= max_days * 2


@dataclass(frozen=True, slots=True)
class Cadence:
    """The renewals seen at one endpoint, oldest first, and what they amount to."""

    certificates_seen: int
    renewals: tuple[Renewal, ...]
    publicly_trusted: bool

    @property
    def known(self) -> bool:
        """Whether at least one renewal was seen (before that there is no cadence to judge)."""
        return bool(self.renewals)

    @property
    def renewed_at_age_days(self) -> int | None:
        """The oldest a certificate got before it was replaced, over the recent renewals: what a
        shorter lifetime must allow."""
        return max((r.age_days for r in self.renewals[-RECENT:]), default=None)

    @property
    def least_days_left(self) -> int | None:
        """The fewest days left at a recent renewal."""
        return min((r.days_left for r in self.renewals[-RECENT:]), default=None)

    @property
    def brief(self) -> CadenceBrief:
        """What this cadence is judged by."""
        return CadenceBrief(self.renewed_at_age_days, self.publicly_trusted)

    def ready_for(self, max_days: int) -> bool | None:
        """Whether renewals as seen leave a third of a ``max_days`` certificate; None when unknown."""
        return self.brief.ready_for(max_days)


def observed_cadence(sightings: Iterable[Sighting]) -> Cadence:
    """The cadence the sightings of one endpoint show."""
    ordered = sorted(sightings, key=lambda s: (s.first_seen, s.fingerprint))
    renewals = tuple(
        Renewal(
            at=new.first_seen,
            days_since_previous_change=(new.first_seen - old.first_seen) // _DAY,
            age_days=(new.first_seen - old.not_before) // _DAY,
            days_left=(old.not_after - new.first_seen) // _DAY,
        )
        for old, new in itertools.pairwise(ordered)
    )
    public = bool(ordered) and ordered[-1].publicly_trusted
    return Cadence(certificates_seen=len(ordered), renewals=renewals, publicly_trusted=public)


def cadence_finding(cadence: CadenceBrief, now: datetime) -> Finding | None:
    """RENEWAL_CADENCE_AT_RISK (warning) when renewals as seen would not survive the schedule's next step."""
    step = next_step(now)
    if step is None or not cadence.publicly_trusted or cadence.ready_for(step.max_days) is not False:
        return None
    return Finding(
        FindingCode.RENEWAL_CADENCE_AT_RISK,
        Severity.WARNING,
        f"certificates here are renewed when {cadence.renewed_at_age_days} days old; public certificates issued "
        f"from {step.since:%Y-%m-%d} live at most {step.max_days} days, and renewing by day "
        f"{step.max_days * 2 // 3} leaves a third for a failed renewal: automate renewal, or renew more often",
    )


@dataclass(frozen=True, slots=True)
class Readiness:
    """How many endpoints of an inventory renew often enough for the coming maximum lifetimes.

    ``known`` counts publicly trusted endpoints with at least one renewal seen; ``unknown``
    those without one yet; ``ready`` maps each of READINESS_STEPS to the endpoints ready for it;
    ``at_risk`` names the endpoints not ready for the schedule's next step.
    """

    known: int
    unknown: int
    ready: dict[int, int]
    next_step: LifetimeStep | None
    at_risk: tuple[str, ...]


def readiness(cadences: Mapping[str, Cadence], now: datetime, steps: Sequence[int] = READINESS_STEPS) -> Readiness:
    """The readiness summary of endpoints (by name) and their cadences."""
    public = {name: c for name, c in cadences.items() if c.publicly_trusted}
    known = {name: c for name, c in public.items() if c.known}
    step = next_step(now)
    at_risk = tuple(
        sorted(name for name, c in known.items() if step is not None and c.ready_for(step.max_days) is False)
    )
    return Readiness(
        known=len(known),
        unknown=len(public) - len(known),
        ready={days: sum(bool(c.ready_for(days)) for c in known.values()) for days in steps},
        next_step=step,
        at_risk=at_risk,
    )
