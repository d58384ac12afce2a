"""The alert decisions: which events a run of checks gives rise to, from reports built by the real analysis."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.alerts import (
    DEFAULT_THRESHOLDS,
    AlertEvent,
    AlertPolicy,
    AlertState,
    EventType,
    decide,
    incident,
    thresholds_for,
)
from chalicelib.domain.analysis import analyze_chain
from chalicelib.domain.models import (
    CheckPolicy,
    CheckResult,
    Endpoint,
    FailureReason,
    Finding,
    FindingCode,
    Severity,
    Status,
    TargetReport,
    status_for,
)
from chalicelib.domain.truststore import TrustStore
from lab.certs import Issued, make_ca, make_cert
from tests.support.pki import Pki

NAME = "api.example.com"
TARGET = "tg_0000000000aa1b2c3d4e"
ENDPOINT = Endpoint(NAME, 443)
ADDRESS = "192.0.2.10"
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def report_of(
    chain: list[Issued], at: datetime, trust: TrustStore, *, policy: CheckPolicy | None = None
) -> TargetReport:
    """What a check at ``at`` reports about a server sending ``chain``: the real analysis, one address."""
    analysis = analyze_chain([c.der for c in chain], name=NAME, now=at, trust=trust, policy=policy or CheckPolicy())
    result = CheckResult(
        address=ADDRESS,
        status=status_for(analysis.findings),
        checked_at=at,
        findings=analysis.findings,
        leaf=analysis.leaf,
        chain=analysis.chain,
        trusted_by=analysis.trusted_by,
    )
    return TargetReport(ENDPOINT, (result,), at)


def unreachable_report(at: datetime) -> TargetReport:
    """What a check reports when no address answers."""
    refused = Finding(
        FindingCode.CONNECTION_FAILED,
        Severity.CRITICAL,
        f"connection refused by {ADDRESS}:443",
        reason=FailureReason.REFUSED,
    )
    return TargetReport(ENDPOINT, (CheckResult(ADDRESS, Status.ERROR, at, (refused,)),), at)


@dataclass
class Watch:
    """One target checked again and again, its alert state carried from one decision to the next."""

    trust: TrustStore
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    state: AlertState = field(default_factory=AlertState)
    events: list[AlertEvent] = field(default_factory=list)

    def check(self, chain: list[Issued], at: datetime) -> list[AlertEvent]:
        # The check and the alerts follow the same thresholds, as a target's spec gives both.
        policy = CheckPolicy(warn_days=max(30, self.policy.critical_days), critical_days=self.policy.critical_days)
        return self.see(report_of(chain, at, self.trust, policy=policy), at)

    def fail(self, at: datetime) -> list[AlertEvent]:
        return self.see(unreachable_report(at), at)

    def see(self, report: TargetReport, at: datetime) -> list[AlertEvent]:
        self.state, events = decide(TARGET, self.state, report, self.policy, at)
        self.events += events
        return events

    def of_type(self, kind: EventType) -> list[AlertEvent]:
        return [e for e in self.events if e.type is kind]


def every(start: datetime, stop: datetime, step: timedelta) -> list[datetime]:
    moments = []
    while start <= stop:
        moments.append(start)
        start += step
    return moments


def leaf_until(pki: Pki, now: datetime, left: timedelta, lifetime: timedelta = 90 * DAY) -> Issued:
    """A leaf for NAME, issued by the test intermediate, that has ``left`` of its ``lifetime`` left at ``now``."""
    not_after = now + left
    return make_cert(NAME, issuer=pki.intermediate, not_before=not_after - lifetime, not_after=not_after)


def assert_unique_keys(events: list[AlertEvent]) -> None:
    counts = Counter(e.key for e in events)
    assert [key for key, n in counts.items() if n > 1] == []


@pytest.fixture
def watch(pki: Pki) -> Watch:
    return Watch(pki.trust)


# --- expiry ------------------------------------------------------------------------------------


def test_thresholds_crossed_one_by_one_are_each_announced_once(pki: Pki, now: datetime, watch: Watch) -> None:
    leaf = leaf_until(pki, now, 40 * DAY)
    chain = [leaf, pki.intermediate]
    # Every six hours from 40 days left until the last minute: each threshold is met exactly once.
    for at in every(now, now + 40 * DAY - timedelta(minutes=1), 6 * HOUR):
        watch.check(chain, at)

    expiring = watch.of_type(EventType.EXPIRING)
    assert [(e.threshold_days, e.severity) for e in expiring] == [
        (30, Severity.WARNING),
        (14, Severity.WARNING),
        (7, Severity.CRITICAL),
        (3, Severity.CRITICAL),
        (1, Severity.CRITICAL),
    ]
    assert watch.events == expiring, "nothing but the thresholds is news here"
    assert_unique_keys(watch.events)
    expires = f"{leaf.cert.not_valid_after_utc:%Y-%m-%d}"
    assert [e.summary for e in expiring] == [
        f"certificate expires in {days} day{'s' if days != 1 else ''} ({expires})" for days in (30, 14, 7, 3, 1)
    ]
    for event in expiring:
        assert event.key == f"{TARGET}:{leaf.fingerprint}:expiring:{event.threshold_days}"
        assert [f.code for f in event.findings] == [FindingCode.EXPIRING_SOON]


def test_a_threshold_is_announced_the_moment_it_is_reached(pki: Pki, now: datetime, watch: Watch) -> None:
    chain = [leaf_until(pki, now, 30 * DAY + timedelta(seconds=1)), pki.intermediate]
    assert watch.check(chain, now) == []
    (event,) = watch.check(chain, now + timedelta(seconds=1))
    assert event.threshold_days == 30
    assert event.summary.startswith("certificate expires in 30 days")


def test_expiring_today_reads_today(pki: Pki, now: datetime, watch: Watch) -> None:
    (event,) = watch.check([leaf_until(pki, now, 5 * HOUR), pki.intermediate], now)
    assert event.threshold_days == 1
    assert event.summary.startswith("certificate expires today (")


@pytest.mark.parametrize(
    ("critical_days", "expected"),
    [
        (7, {30: Severity.WARNING, 14: Severity.WARNING, 7: Severity.CRITICAL, 3: Severity.CRITICAL}),
        (14, {30: Severity.WARNING, 14: Severity.CRITICAL, 7: Severity.CRITICAL, 3: Severity.CRITICAL}),
        (3, {30: Severity.WARNING, 14: Severity.WARNING, 7: Severity.WARNING, 3: Severity.CRITICAL}),
    ],
)
def test_severity_is_warning_above_critical_days_and_critical_at_or_below(
    pki: Pki, now: datetime, critical_days: int, expected: dict[int, Severity]
) -> None:
    watch = Watch(pki.trust, AlertPolicy(critical_days=critical_days))
    chain = [leaf_until(pki, now, 31 * DAY), pki.intermediate]
    for days in (31, 30, 14, 7, 3):
        watch.check(chain, now + (31 - days) * DAY)
    assert {e.threshold_days: e.severity for e in watch.events} == expected


def test_first_seen_at_five_days_announces_only_the_tightest_threshold(pki: Pki, now: datetime, watch: Watch) -> None:
    leaf = leaf_until(pki, now, 5 * DAY)
    chain = [leaf, pki.intermediate]
    (first,) = watch.check(chain, now)
    assert first.type is EventType.EXPIRING
    assert first.threshold_days == 7
    assert first.severity is Severity.CRITICAL
    assert first.summary == f"certificate expires in 5 days ({leaf.cert.not_valid_after_utc:%Y-%m-%d})"

    # Hourly until 3 days are left: the looser thresholds (30, 14) are never announced afterwards.
    for at in every(now + HOUR, now + 2 * DAY - HOUR, HOUR):
        assert watch.check(chain, at) == []
    (second,) = watch.check(chain, now + 2 * DAY)
    assert second.threshold_days == 3
    assert [e.threshold_days for e in watch.events] == [7, 3]


def test_expired_is_announced_once_and_once_more_if_still_in_place_a_day_later(
    pki: Pki, now: datetime, watch: Watch
) -> None:
    leaf = leaf_until(pki, now, 2 * DAY)
    chain = [leaf, pki.intermediate]
    for at in every(now, now + 5 * DAY, 4 * HOUR):
        watch.check(chain, at)
    assert [(e.type, e.threshold_days) for e in watch.events] == [
        (EventType.EXPIRING, 3),
        (EventType.EXPIRING, 1),
        (EventType.EXPIRED, None),
        (EventType.EXPIRED, None),
    ]
    expired, still = watch.of_type(EventType.EXPIRED)
    assert expired.severity is Severity.CRITICAL
    assert expired.key == f"{TARGET}:{leaf.fingerprint}:expired"
    assert expired.summary == f"certificate expired on {leaf.cert.not_valid_after_utc:%Y-%m-%d}"
    assert [f.code for f in expired.findings] == [FindingCode.EXPIRED]
    assert still.key == f"{TARGET}:{leaf.fingerprint}:expired:still-there"
    assert still.summary.endswith("and is still in place a day later")
    assert incident(still.key, still.type) == incident(expired.key, expired.type) == f"{TARGET}:{leaf.fingerprint}"


def test_a_certificate_first_seen_expired_for_days_is_announced_as_still_in_place_only(
    pki: Pki, now: datetime, watch: Watch
) -> None:
    chain = [leaf_until(pki, now, -3 * DAY), pki.intermediate]
    (event,) = watch.check(chain, now)
    assert event.type is EventType.EXPIRED
    assert event.key.endswith(":expired:still-there")
    assert watch.check(chain, now + DAY) == []


# --- renewal -----------------------------------------------------------------------------------


def test_a_new_certificate_after_an_expiry_announcement_is_announced_as_renewed(
    pki: Pki, now: datetime, watch: Watch
) -> None:
    old = leaf_until(pki, now, 6 * DAY)
    (expiring,) = watch.check([old, pki.intermediate], now)
    assert expiring.threshold_days == 7

    new = leaf_until(pki, now + DAY, 90 * DAY)
    (renewed,) = watch.check([new, pki.intermediate], now + DAY)
    assert renewed.type is EventType.RENEWED
    assert renewed.severity is Severity.INFO
    assert renewed.previous_fingerprint == old.fingerprint
    assert renewed.key == f"{TARGET}:{old.fingerprint}:renewed:{new.fingerprint}"
    assert renewed.summary == f"a new certificate is served, valid until {new.cert.not_valid_after_utc:%Y-%m-%d}"
    assert watch.state.fingerprint == new.fingerprint
    assert watch.check([new, pki.intermediate], now + 2 * DAY) == []


def test_a_new_certificate_after_an_expired_announcement_is_announced_as_renewed(
    pki: Pki, now: datetime, watch: Watch
) -> None:
    old = leaf_until(pki, now, -DAY)
    watch.check([old, pki.intermediate], now)
    (renewed,) = watch.check([leaf_until(pki, now, 90 * DAY), pki.intermediate], now + HOUR)
    assert renewed.type is EventType.RENEWED
    assert renewed.previous_fingerprint == old.fingerprint


def test_a_new_certificate_nobody_was_warned_about_is_no_news(pki: Pki, now: datetime, watch: Watch) -> None:
    assert watch.check([leaf_until(pki, now, 60 * DAY), pki.intermediate], now) == []
    assert watch.check([leaf_until(pki, now, 90 * DAY), pki.intermediate], now + DAY) == []
    assert watch.events == []


def test_thresholds_are_rearmed_for_the_new_certificate(pki: Pki, now: datetime, watch: Watch) -> None:
    old = leaf_until(pki, now, 10 * DAY)
    new = leaf_until(pki, now, 40 * DAY)
    for at in every(now, now + 9 * DAY, DAY):
        watch.check([old, pki.intermediate], at)
    assert [e.threshold_days for e in watch.events] == [14, 7, 3, 1]

    renewal_day = now + 9 * DAY + HOUR
    for at in every(renewal_day, now + 40 * DAY - HOUR, 12 * HOUR):
        watch.check([new, pki.intermediate], at)
    after = watch.events[4:]
    assert after[0].type is EventType.RENEWED
    assert [(e.threshold_days, e.key.split(":")[1]) for e in after[1:]] == [
        (days, new.fingerprint) for days in (30, 14, 7, 3, 1)
    ]
    assert_unique_keys(watch.events)
    assert not any(old.fingerprint in key for key in watch.state.announced if ":renewed:" not in key)


# --- problems ----------------------------------------------------------------------------------


def _problem_chains(pki: Pki, now: datetime) -> dict[FindingCode, Callable[[], list[Issued]]]:
    def leaf(**kwargs: Any) -> Issued:
        kwargs.setdefault("issuer", pki.intermediate)
        return make_cert(NAME, now=now, **kwargs)

    def untrusted() -> list[Issued]:
        foreign_root = make_ca("Foreign Root", now=now)
        foreign_intermediate = make_ca("Foreign Intermediate", issuer=foreign_root, now=now)
        return [leaf(issuer=foreign_intermediate), foreign_intermediate]

    def weak_signature() -> list[Issued]:
        rsa_intermediate = make_ca("certwatch RSA Intermediate", issuer=pki.root, key="rsa2048", now=now)
        return [leaf(issuer=rsa_intermediate, hash_name="sha1"), rsa_intermediate]

    def chain_expiring() -> list[Issued]:
        intermediate = make_ca("Short-lived Intermediate", issuer=pki.root, days=3, now=now)
        return [leaf(issuer=intermediate), intermediate]

    return {
        FindingCode.HOSTNAME_MISMATCH: lambda: [leaf(sans=["other.example.com"]), pki.intermediate],
        FindingCode.SELF_SIGNED: lambda: [leaf(issuer=None)],
        FindingCode.UNTRUSTED_ROOT: untrusted,
        FindingCode.INCOMPLETE_CHAIN: lambda: [leaf()],
        FindingCode.WEAK_KEY: lambda: [leaf(key="rsa1024"), pki.intermediate],
        FindingCode.WEAK_SIGNATURE: weak_signature,
        FindingCode.NOT_YET_VALID: lambda: [leaf(not_before=now + DAY), pki.intermediate],
        FindingCode.CHAIN_EXPIRING: chain_expiring,
    }


PROBLEM_NAMES = {
    FindingCode.HOSTNAME_MISMATCH: "certificate does not cover the name",
    FindingCode.SELF_SIGNED: "self-signed certificate",
    FindingCode.UNTRUSTED_ROOT: "untrusted certificate chain",
    FindingCode.INCOMPLETE_CHAIN: "incomplete certificate chain",
    FindingCode.WEAK_KEY: "weak key",
    FindingCode.WEAK_SIGNATURE: "weak signature",
    FindingCode.NOT_YET_VALID: "certificate not yet valid",
    FindingCode.CHAIN_EXPIRING: "intermediate or root certificate expiring",
}


@pytest.mark.parametrize("code", list(PROBLEM_NAMES), ids=str)
def test_a_critical_finding_is_a_problem_announced_once_then_recovered(
    pki: Pki, now: datetime, watch: Watch, code: FindingCode
) -> None:
    broken = _problem_chains(pki, now)[code]()
    healthy = [leaf_until(pki, now, 80 * DAY), pki.intermediate]

    (problem,) = watch.check(broken, now)
    assert problem.type is EventType.PROBLEM
    assert problem.severity is Severity.CRITICAL
    assert [f.code for f in problem.findings] == [code]
    assert problem.summary == PROBLEM_NAMES[code]
    assert problem.key == f"{TARGET}:{broken[0].fingerprint}:problem:0:{code.value}"
    assert watch.check(broken, now + HOUR) == []

    (recovered,) = watch.check(healthy, now + 2 * HOUR)
    assert recovered.type is EventType.RECOVERED
    assert recovered.severity is Severity.INFO
    assert recovered.summary == f"resolved: {code.value}"
    assert watch.check(healthy, now + 3 * HOUR) == []

    # The problem coming back after the recovery is a new episode, announced again.
    (again,) = watch.check(broken, now + 4 * HOUR)
    assert again.type is EventType.PROBLEM
    assert again.key == f"{TARGET}:{broken[0].fingerprint}:problem:1:{code.value}"
    (recovered_again,) = watch.check(healthy, now + 5 * HOUR)
    assert recovered_again.type is EventType.RECOVERED
    assert_unique_keys(watch.events)


def test_a_new_problem_code_gets_an_event_of_its_own(pki: Pki, now: datetime, watch: Watch) -> None:
    leaf = make_cert("other.example.com", issuer=pki.intermediate, now=now)
    (mismatch,) = watch.check([leaf, pki.intermediate], now)
    assert [f.code for f in mismatch.findings] == [FindingCode.HOSTNAME_MISMATCH]

    # The same leaf, now without its intermediate: only the new problem is news.
    (incomplete,) = watch.check([leaf], now + HOUR)
    assert incomplete.type is EventType.PROBLEM
    assert [f.code for f in incomplete.findings] == [FindingCode.INCOMPLETE_CHAIN]
    assert incomplete.key.endswith(":problem:0:INCOMPLETE_CHAIN")
    assert watch.check([leaf], now + 2 * HOUR) == []

    (recovered,) = watch.check([leaf_until(pki, now, 80 * DAY), pki.intermediate], now + 3 * HOUR)
    assert recovered.type is EventType.RECOVERED
    assert recovered.summary == "resolved: HOSTNAME_MISMATCH, INCOMPLETE_CHAIN"


def test_problems_found_together_are_one_event(pki: Pki, now: datetime, watch: Watch) -> None:
    leaf = make_cert("other.example.com", issuer=pki.intermediate, now=now, key="rsa1024")
    (event,) = watch.check([leaf], now)
    assert [f.code for f in event.findings] == [
        FindingCode.HOSTNAME_MISMATCH,
        FindingCode.INCOMPLETE_CHAIN,
        FindingCode.WEAK_KEY,
    ]
    assert event.summary == "certificate does not cover the name, incomplete certificate chain, weak key"


def test_warnings_other_than_an_overdue_renewal_are_not_problems(pki: Pki, now: datetime, watch: Watch) -> None:
    intermediate = make_ca("Ageing Intermediate", issuer=pki.root, days=20, now=now)  # CHAIN_EXPIRING, warning
    leaf = make_cert(NAME, issuer=intermediate, now=now)
    report = report_of([leaf, intermediate], now, pki.trust)
    assert {f.code: f.severity for f in report.findings} == {FindingCode.CHAIN_EXPIRING: Severity.WARNING}
    assert watch.see(report, now) == []


def test_an_overdue_renewal_is_a_problem_outside_the_expiry_thresholds(pki: Pki, now: datetime, watch: Watch) -> None:
    chain = [leaf_until(pki, now, 100 * DAY, lifetime=365 * DAY), pki.intermediate]
    (overdue,) = watch.check(chain, now)
    assert overdue.type is EventType.PROBLEM
    assert overdue.severity is Severity.WARNING
    assert overdue.summary == "renewal overdue"
    assert [f.code for f in overdue.findings] == [FindingCode.RENEWAL_OVERDUE]
    assert watch.check(chain, now + DAY) == []


def test_an_overdue_renewal_is_no_news_inside_the_expiry_thresholds(pki: Pki, now: datetime, watch: Watch) -> None:
    chain = [leaf_until(pki, now, 20 * DAY), pki.intermediate]  # 20 of 90 days left: overdue too
    report = report_of(chain, now, pki.trust)
    assert FindingCode.RENEWAL_OVERDUE in {f.code for f in report.findings}
    (event,) = watch.see(report, now)
    assert event.type is EventType.EXPIRING
    assert event.threshold_days == 30


def test_entering_the_thresholds_does_not_call_an_overdue_renewal_resolved(
    pki: Pki, now: datetime, watch: Watch
) -> None:
    chain = [leaf_until(pki, now, 31 * DAY, lifetime=365 * DAY), pki.intermediate]
    (overdue,) = watch.check(chain, now)
    assert overdue.summary == "renewal overdue"
    events = watch.check(chain, now + DAY)  # 30 days left: inside the thresholds, still not renewed
    assert [e.type for e in events] == [EventType.EXPIRING]


# --- reachability ------------------------------------------------------------------------------


def test_unreachable_is_announced_after_two_failures_once_per_episode(pki: Pki, now: datetime, watch: Watch) -> None:
    chain = [leaf_until(pki, now, 80 * DAY), pki.intermediate]
    assert watch.check(chain, now) == []
    assert watch.fail(now + HOUR) == []
    (down,) = watch.fail(now + 2 * HOUR)
    assert down.type is EventType.UNREACHABLE
    assert down.severity is Severity.CRITICAL
    assert down.key == f"{TARGET}:unreachable:0"
    assert down.summary == f"unreachable for 2 checks in a row: connection refused by {ADDRESS}:443"
    assert [f.reason for f in down.findings] == [FailureReason.REFUSED]
    for hours in range(3, 10):
        assert watch.fail(now + hours * HOUR) == []

    (up,) = watch.check(chain, now + 10 * HOUR)
    assert up.type is EventType.RECOVERED
    assert up.severity is Severity.INFO
    assert up.summary == "the endpoint answers again"
    assert watch.check(chain, now + 11 * HOUR) == []

    # A second outage is a new episode with a key of its own.
    assert watch.fail(now + 12 * HOUR) == []
    (down_again,) = watch.fail(now + 13 * HOUR)
    assert down_again.key == f"{TARGET}:unreachable:1"
    (up_again,) = watch.check(chain, now + 14 * HOUR)
    assert up_again.type is EventType.RECOVERED
    assert_unique_keys(watch.events)


def test_a_single_blip_is_never_announced(pki: Pki, now: datetime, watch: Watch) -> None:
    chain = [leaf_until(pki, now, 80 * DAY), pki.intermediate]
    for hours in range(0, 24, 2):
        watch.check(chain, now + hours * HOUR)
        watch.fail(now + (hours + 1) * HOUR)
    assert watch.events == []


def test_a_target_never_reached_is_announced_unreachable(now: datetime, watch: Watch) -> None:
    assert watch.fail(now) == []
    (down,) = watch.fail(now + HOUR)
    assert down.type is EventType.UNREACHABLE


@pytest.mark.parametrize("after", [1, 3, 5])
def test_how_many_failures_make_an_outage_is_configurable(pki: Pki, now: datetime, after: int) -> None:
    watch = Watch(pki.trust, AlertPolicy(unreachable_after=after))
    for n in range(1, after):
        assert watch.fail(now + n * HOUR) == []
    (down,) = watch.fail(now + after * HOUR)
    assert down.type is EventType.UNREACHABLE
    assert down.summary.startswith(f"unreachable for {after} checks in a row")
    assert watch.fail(now + (after + 1) * HOUR) == []


def test_coming_back_expiring_announces_both(pki: Pki, now: datetime, watch: Watch) -> None:
    watch.fail(now)
    watch.fail(now + HOUR)
    events = watch.check([leaf_until(pki, now, 5 * DAY), pki.intermediate], now + 2 * HOUR)
    assert [e.type for e in events] == [EventType.RECOVERED, EventType.EXPIRING]


# --- determinism and repetition ----------------------------------------------------------------


def test_decide_is_deterministic(pki: Pki, now: datetime, watch: Watch) -> None:
    """Two workers deciding from the same state and report produce the same keys: the store keeps one."""
    leaf = make_cert("other.example.com", issuer=pki.intermediate, not_after=now + 5 * DAY, now=now)
    steps: list[TargetReport] = [
        unreachable_report(now),
        unreachable_report(now + HOUR),
        report_of([leaf], now + 2 * HOUR, pki.trust),
        report_of([leaf, pki.intermediate], now + 3 * HOUR, pki.trust),
        report_of([leaf_until(pki, now, 80 * DAY), pki.intermediate], now + 4 * HOUR, pki.trust),
    ]
    for report in steps:
        before = watch.state
        first = decide(TARGET, before, report, watch.policy, report.checked_at)
        second = decide(TARGET, before, report, watch.policy, report.checked_at)
        assert first == second
        watch.see(report, report.checked_at)
    assert {e.type for e in watch.events} == {
        EventType.UNREACHABLE,
        EventType.RECOVERED,
        EventType.EXPIRING,
        EventType.PROBLEM,
        EventType.RENEWED,
    }


def test_critical_problems_are_not_repeated_by_default(pki: Pki, now: datetime, watch: Watch) -> None:
    assert watch.policy.repeat_critical_hours is None
    chain = [make_cert(NAME, now=now)]  # self-signed: critical for as long as it is served
    for at in every(now, now + 3 * DAY, HOUR):
        watch.check(chain, at)
    assert len(watch.events) == 1


def _buckets(events: list[AlertEvent]) -> list[int]:
    return [int(e.key.rsplit(":", 1)[1]) for e in events if ":repeat:" in e.key]


def test_a_repeat_comes_at_most_once_per_bucket(pki: Pki, now: datetime) -> None:
    watch = Watch(pki.trust, AlertPolicy(repeat_critical_hours=24))
    chain = [make_cert(NAME, now=now)]
    for at in every(now, now + 3 * DAY, HOUR):
        watch.check(chain, at)
    repeats = [e for e in watch.events if ":repeat:" in e.key]
    buckets = _buckets(repeats)
    assert len(buckets) == len(set(buckets))
    assert set(buckets) <= {int(at.timestamp() // 86400) for at in every(now, now + 3 * DAY, HOUR)}
    assert len(repeats) >= 3  # the three midnights crossed
    for repeat in repeats:
        assert repeat.type is EventType.PROBLEM
        assert repeat.severity is Severity.CRITICAL
        assert repeat.summary == "still critical"
        assert [f.code for f in repeat.findings] == [FindingCode.SELF_SIGNED]
    assert_unique_keys(watch.events)


def test_no_repeat_in_the_bucket_of_the_first_announcement(pki: Pki, now: datetime) -> None:
    watch = Watch(pki.trust, AlertPolicy(repeat_critical_hours=24))
    chain = [make_cert(NAME, now=now)]
    watch.check(chain, now)  # 12:00: the problem is announced
    assert watch.check(chain, now + HOUR) == []  # 13:00, same day: no repeat yet


def test_warnings_are_never_repeated(pki: Pki, now: datetime) -> None:
    watch = Watch(pki.trust, AlertPolicy(repeat_critical_hours=1))
    chain = [leaf_until(pki, now, 20 * DAY), pki.intermediate]  # warning: expires in 20 days
    for at in every(now, now + DAY, HOUR):
        watch.check(chain, at)
    assert [e.type for e in watch.events] == [EventType.EXPIRING]


# --- thresholds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("warn_days", "critical_days", "explicit", "expected"),
    [
        (30, 7, None, (30, 14, 7, 3, 1)),
        (21, 5, None, (21, 14, 7, 5, 3, 1)),
        (10, 3, None, (10, 7, 3, 1)),
        (60, 7, None, (60, 30, 14, 7, 3, 1)),
        (30, 7, (5, 20, 20, 1), (20, 5, 1)),
        (30, 7, (45,), (45,)),
        (30, 7, (), (30, 14, 7, 3, 1)),
    ],
)
def test_thresholds_for(
    warn_days: int, critical_days: int, explicit: tuple[int, ...] | None, expected: tuple[int, ...]
) -> None:
    assert thresholds_for(warn_days, critical_days, explicit) == expected


def test_default_thresholds_are_the_documented_ones() -> None:
    assert DEFAULT_THRESHOLDS == (30, 14, 7, 3, 1)
    assert AlertPolicy().thresholds == DEFAULT_THRESHOLDS
    assert thresholds_for(30, 7) == DEFAULT_THRESHOLDS


def test_explicit_alert_days_are_the_only_thresholds_announced(pki: Pki, now: datetime) -> None:
    watch = Watch(pki.trust, AlertPolicy(thresholds=thresholds_for(30, 7, (20, 2)), critical_days=7))
    # A 60-day lifetime: the renewal is overdue only inside the thresholds, where it is no news.
    chain = [leaf_until(pki, now, 35 * DAY, lifetime=60 * DAY), pki.intermediate]
    for at in every(now, now + 35 * DAY - HOUR, 12 * HOUR):
        watch.check(chain, at)
    assert [(e.threshold_days, e.severity) for e in watch.events] == [(20, Severity.WARNING), (2, Severity.CRITICAL)]


def _with(report: TargetReport, *findings: Finding) -> TargetReport:
    """The report with findings the CA's answers add (revocation, renewal information)."""
    (result,) = report.results
    extended = replace(result, findings=result.findings + findings, status=status_for(result.findings + findings))
    return replace(report, results=(extended,))


def test_what_the_ca_says_is_announced_once_per_certificate_and_a_new_certificate_is_the_all_clear(
    pki: Pki, now: datetime
) -> None:
    leaf = make_cert(NAME, issuer=pki.intermediate, now=now)
    healthy = report_of([leaf, pki.intermediate], now, pki.trust)
    requested = Finding(FindingCode.RENEWAL_REQUESTED, Severity.WARNING, "the CA asks for renewal now")
    urgent = Finding(FindingCode.RENEWAL_REQUESTED, Severity.CRITICAL, "the CA asks for renewal now")
    revoked = Finding(FindingCode.REVOKED, Severity.CRITICAL, "the certificate was revoked (reason: keyCompromise)")
    policy = AlertPolicy()
    state = AlertState()
    seen: list[list[tuple[EventType, Severity]]] = []
    for report in (
        _with(healthy, requested),
        _with(healthy, requested),
        _with(healthy, urgent),
        _with(healthy, urgent, revoked),
        _with(healthy, urgent, revoked),
    ):
        state, events = decide(TARGET, state, report, policy, now)
        seen.append([(e.type, e.severity) for e in events])
    assert seen == [
        [(EventType.RENEWAL_REQUESTED, Severity.WARNING)],
        [],
        [(EventType.RENEWAL_REQUESTED, Severity.CRITICAL)],
        [(EventType.REVOKED, Severity.CRITICAL)],  # not a certificate.problem as well
        [],
    ]
    renewed = report_of([make_cert(NAME, issuer=pki.intermediate, now=now), pki.intermediate], now, pki.trust)
    state, events = decide(TARGET, state, renewed, policy, now)
    assert [e.type for e in events] == [EventType.RENEWED]
