"""What a silence or a maintenance window keeps quiet, and what it never can."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.alerts import (
    AlertEvent,
    AlertSubject,
    EventType,
    Holder,
    Notification,
    Observation,
)
from chalicelib.domain.models import CertificateInfo, Endpoint, Finding, FindingCode, Severity, Status
from chalicelib.domain.silences import MaintenanceWindow, Match, Silence, check_span, silenced_by
from chalicelib.errors import InvalidValueError

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
TEAM = "web"
OLD, NEW = "a" * 64, "b" * 64


def leaf(fingerprint: str = OLD, not_after: datetime = NOW + 5 * DAY) -> CertificateInfo:
    return CertificateInfo(
        "CN=api.example.com",
        "CN=CA",
        "1",
        ("api.example.com",),
        (),
        "EC-secp256r1",
        256,
        "ecdsa-with-SHA256",
        fingerprint,
        not_after - 90 * DAY,
        not_after,
        False,
        False,
    )


def note(
    *,
    target: str = "tg_a",
    type: EventType = EventType.EXPIRING,
    key: str | None = None,
    fingerprint: str = OLD,
    labels: dict[str, str] | None = None,
    holders: tuple[str, ...] = (),
    code: FindingCode = FindingCode.EXPIRING_SOON,
) -> Notification:
    finding = Finding(code, Severity.CRITICAL, "something")
    event = AlertEvent(
        key or f"{TEAM}:{fingerprint}:expiring:7",
        type,
        Severity.CRITICAL,
        "certificate expires in 5 days",
        findings=(finding,),
        holders=tuple(Holder("endpoint", h, f"tls://{h}.example.com:443") for h in holders or (target,)),
    )
    subject = AlertSubject(target, TEAM, endpoint=Endpoint(f"{target}.example.com", 443), labels=labels or {})
    observed = Observation(leaf(fingerprint), (finding,), Status.CRITICAL, 5, checked_at=NOW)
    return Notification.of(event, subject, observed, NOW)


def silence(match: Match, value: str, *, until: str | None = None, ends: timedelta = 7 * DAY) -> Silence:
    return Silence(f"si_{match.value}", TEAM, match, value, "alice", "planned", NOW - HOUR, NOW + ends, until)


def window(
    *, start: timedelta = -HOUR, end: timedelta = HOUR, labels: dict[str, str] | None = None
) -> MaintenanceWindow:
    return MaintenanceWindow("mw_1", TEAM, NOW + start, NOW + end, "bob", "upgrade", NOW - DAY, labels or {})


STILL_THERE = f"{TEAM}:{OLD}:expired:still-there"


@pytest.mark.parametrize(
    ("quiet", "told", "kept"),
    [
        (silence(Match.TARGET, "tg_a"), note(), note(target="tg_b")),
        (silence(Match.CERTIFICATE, OLD), note(), note(fingerprint=NEW)),
        (silence(Match.LABEL, "env=prod"), note(labels={"env": "prod"}), note(labels={"env": "dev"})),
        (silence(Match.FINDING, "HOSTNAME_MISMATCH"), note(code=FindingCode.HOSTNAME_MISMATCH), note()),
    ],
    ids=["target", "certificate", "label", "finding"],
)
def test_a_silence_quiets_what_it_names_and_nothing_else(
    quiet: Silence, told: Notification, kept: Notification
) -> None:
    assert silenced_by(told, [quiet], [], NOW) == quiet.id
    assert silenced_by(kept, [quiet], [], NOW) is None


def test_a_silence_quiets_only_while_it_lasts_and_only_its_team() -> None:
    quiet = silence(Match.TARGET, "tg_a", ends=HOUR)
    assert silenced_by(note(), [quiet], [], NOW + 2 * HOUR) is None
    assert silenced_by(note(), [replace(quiet, ended_at=NOW - HOUR)], [], NOW) is None
    assert silenced_by(note(), [replace(quiet, team="api")], [], NOW) is None


def test_an_event_of_a_certificate_many_serve_is_quiet_only_when_every_endpoint_is() -> None:
    grouped = note(holders=("tg_a", "tg_b"))
    assert silenced_by(grouped, [silence(Match.TARGET, "tg_a")], [], NOW) is None
    both = [silence(Match.TARGET, "tg_a"), replace(silence(Match.TARGET, "tg_b"), id="si_b")]
    assert silenced_by(grouped, both, [], NOW) in {"si_target", "si_b"}


def test_a_silence_until_the_certificate_changes_quiets_that_certificate_only() -> None:
    quiet = silence(Match.TARGET, "tg_a", until=OLD)
    assert silenced_by(note(), [quiet], [], NOW) == quiet.id
    assert silenced_by(note(fingerprint=NEW), [quiet], [], NOW) is None


def test_a_maintenance_window_quiets_its_period_and_its_labels() -> None:
    assert silenced_by(note(), [], [window()], NOW) == "mw_1"
    assert silenced_by(note(), [], [window(start=HOUR, end=2 * HOUR)], NOW) is None, "not yet begun"
    assert silenced_by(note(), [], [window(start=-2 * HOUR, end=-HOUR)], NOW) is None, "over"
    assert silenced_by(note(labels={"env": "prod"}), [], [window(labels={"env": "prod"})], NOW) == "mw_1"
    assert silenced_by(note(labels={"env": "dev"}), [], [window(labels={"env": "prod"})], NOW) is None


@pytest.mark.parametrize(
    "quiet",
    [silence(Match.TARGET, "tg_a"), silence(Match.LABEL, "env=prod"), silence(Match.FINDING, "EXPIRED")],
    ids=["target", "label", "finding"],
)
def test_a_certificate_still_in_place_a_day_after_it_expired_is_told_despite_a_silence(quiet: Silence) -> None:
    still = note(type=EventType.EXPIRED, key=STILL_THERE, labels={"env": "prod"}, code=FindingCode.EXPIRED)
    first = note(type=EventType.EXPIRED, key=f"{TEAM}:{OLD}:expired", labels={"env": "prod"}, code=FindingCode.EXPIRED)
    assert silenced_by(first, [quiet], [], NOW) == quiet.id, "at its expiry, the silence holds"
    assert silenced_by(still, [quiet], [], NOW) is None
    assert silenced_by(still, [], [window()], NOW) is None, "nor does a maintenance window hide it"


def test_only_a_silence_naming_the_certificate_hides_it_still_in_place() -> None:
    still = note(type=EventType.EXPIRED, key=STILL_THERE)
    assert silenced_by(still, [silence(Match.CERTIFICATE, OLD)], [], NOW) == "si_certificate"
    assert silenced_by(still, [silence(Match.CERTIFICATE, NEW)], [], NOW) is None


@pytest.mark.parametrize(
    ("start", "end", "wrong"),
    [
        (NOW, NOW - HOUR, "before now"),
        (NOW + 2 * DAY, NOW + DAY, "after starts_at"),
        (NOW, NOW + 31 * DAY, "at most 30 days"),
        (NOW + 10 * DAY, NOW + 41 * DAY, "at most 30 days"),
    ],
    ids=["ended", "backwards", "too-long", "too-long-later"],
)
def test_a_silence_or_window_is_never_open_ended(start: datetime, end: datetime, wrong: str) -> None:
    with pytest.raises(InvalidValueError, match=wrong):
        check_span(start, end, NOW, 30)
    check_span(NOW + 10 * DAY, NOW + 40 * DAY, NOW, 30)  # 30 days, starting later
