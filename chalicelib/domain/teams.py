"""A team's own settings: how its alerts are told (one place, read by the alerter, set through the API)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TeamSettings:
    """What a team chose; a team that chose nothing has these defaults."""

    # One event per certificate (its expiry, revocation, renewal), naming every endpoint that
    # serves it, rather than one per endpoint.
    group_by_certificate: bool = True
