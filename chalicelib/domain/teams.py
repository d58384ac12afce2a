"""A team's own settings: how its alerts are told, what its endpoints' cryptography is expected to be
(one place, read by the alerter and the checker, set through the API)."""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.domain.models import PosturePolicy


@dataclass(frozen=True, slots=True)
class TeamSettings:
    """What a team chose; a team that chose nothing has these defaults."""

    # One event per certificate (its expiry, revocation, renewal), naming every endpoint that
    # serves it, rather than one per endpoint.
    group_by_certificate: bool = True
    # What the team's endpoints are judged by beyond their certificates' dates (a target may carry its own).
    posture: PosturePolicy = field(default_factory=PosturePolicy)
