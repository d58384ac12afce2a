"""The renewal cadence seen at an endpoint, and its readiness for the coming maximum lifetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain.cadence import Sighting, cadence_finding, observed_cadence, readiness
from chalicelib.domain.models import FindingCode, Severity

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _every(days: int, count: int, *, lifetime: int = 100, public: bool = True) -> list[Sighting]:
    """``count`` certificates, each first served ``days`` after the last, issued a day before."""
    start = NOW - days * (count - 1) * DAY
    return [
        Sighting(
            f"{n:064x}",
            start + n * days * DAY,
            start + n * days * DAY - DAY,
            start + (n * days + lifetime) * DAY,
            public,
        )
        for n in range(count)
    ]


def test_renewals_are_counted_between_certificate_changes() -> None:
    cadence = observed_cadence(reversed(_every(90, 3)))  # any order in, oldest first out
    assert cadence.certificates_seen == 3
    assert [(r.days_since_previous_change, r.age_days, r.days_left) for r in cadence.renewals] == [(90, 91, 10)] * 2
    assert (cadence.renewed_at_age_days, cadence.least_days_left) == (91, 10)
    assert not observed_cadence(_every(90, 1)).known


def test_ready_means_renewed_by_two_thirds_of_the_lifetime() -> None:
    assert observed_cadence(_every(59, 2)).ready_for(100) is True  # renewed at 60 days: a third of 100 left
    assert observed_cadence(_every(90, 2)).ready_for(100) is False  # the team: 90 days on 100-day certs
    assert observed_cadence(_every(30, 2)).ready_for(47) is True
    assert observed_cadence(_every(59, 2)).ready_for(47) is False
    assert observed_cadence(_every(59, 1)).ready_for(100) is None


def test_a_team_that_renews_faster_now_is_judged_by_its_recent_renewals() -> None:
    slow_then_fast = _every(300, 3) + [
        Sighting(f"{n:064x}", NOW + n * 30 * DAY, NOW + n * 30 * DAY - DAY, NOW + (n * 30 + 47) * DAY, True)
        for n in range(1, 4)
    ]
    cadence = observed_cadence(slow_then_fast)
    assert len(cadence.renewals) == 5
    assert cadence.renewed_at_age_days == 31  # the last three renewals; the yearly ones before do not count
    assert cadence.ready_for(47) is True


def test_a_public_endpoint_not_ready_for_the_next_step_gets_a_warning() -> None:
    finding = cadence_finding(observed_cadence(_every(90, 2)).brief, NOW)
    assert finding is not None
    assert (finding.code, finding.severity) == (FindingCode.RENEWAL_CADENCE_AT_RISK, Severity.WARNING)
    assert "2027-03-15" in finding.message
    assert cadence_finding(observed_cadence(_every(59, 2)).brief, NOW) is None
    assert (
        cadence_finding(observed_cadence(_every(90, 2, public=False)).brief, NOW) is None
    )  # a private CA: no schedule
    assert (
        cadence_finding(observed_cadence(_every(90, 2)).brief, datetime(2030, 1, 1, tzinfo=UTC)) is None
    )  # no next step


def test_readiness_counts_public_endpoints_by_the_steps_they_survive() -> None:
    summary = readiness(
        {
            "slow": observed_cadence(_every(90, 3)),
            "brisk": observed_cadence(_every(59, 3)),
            "fast": observed_cadence(_every(20, 3)),
            "fresh": observed_cadence(_every(20, 1)),
            "private": observed_cadence(_every(300, 3, public=False)),
        },
        NOW,
    )
    assert (summary.known, summary.unknown) == (3, 1)
    assert summary.ready == {100: 2, 47: 1}
    assert summary.at_risk == ("slow",)
