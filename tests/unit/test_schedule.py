"""The schedule's pure rules: a target's slot, the phases of a window, what a check leaves due, and the claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.schedule import (
    FIRST_GRACE,
    LEASE,
    SLACK,
    Slot,
    Sweeps,
    Window,
    claim,
    first_moment,
    is_due,
    next_check,
    phase_ranges,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SIX_HOURS = 6 * 3600
MINUTE = timedelta(minutes=1)


def test_a_slot_is_its_anchor_rounded_up_to_the_second_and_every_interval_from_it() -> None:
    anchor = NOW + timedelta(microseconds=1)
    slot = Slot.of(anchor, 360)
    assert slot.period == SIX_HOURS
    assert first_moment(anchor) == NOW + timedelta(seconds=1)
    assert slot.latest(NOW + timedelta(seconds=1)) == NOW + timedelta(seconds=1)
    assert slot.latest(NOW + timedelta(milliseconds=999)) == NOW + timedelta(seconds=1) - timedelta(hours=6)
    assert slot.first_after(NOW + timedelta(seconds=1)) == NOW + timedelta(hours=6, seconds=1)
    assert slot.first_after(NOW) == NOW + timedelta(seconds=1)
    # A moment in another time zone is the same moment.
    assert Slot.of(anchor.astimezone(datetime.now().astimezone().tzinfo), 360) == slot


@pytest.mark.parametrize(
    ("after", "until", "ranges"),
    [
        (NOW, NOW, []),  # an empty window
        (NOW - timedelta(seconds=1), NOW, [(0, 0)]),  # NOW is a multiple of six hours: phase 0
        (NOW - timedelta(minutes=15), NOW, [(SIX_HOURS - 899, SIX_HOURS - 1), (0, 0)]),  # across a multiple
        (NOW, NOW + timedelta(minutes=15), [(1, 900)]),
        (NOW - timedelta(hours=6), NOW, [(0, SIX_HOURS - 1)]),  # a whole period: every phase
        (NOW - timedelta(days=3), NOW, [(0, SIX_HOURS - 1)]),
        (NOW + timedelta(microseconds=1), NOW + timedelta(seconds=1), [(1, 1)]),  # whole seconds after ``after``
    ],
)
def test_a_windows_phases_are_those_of_the_moments_after_its_start_up_to_its_end(
    after: datetime, until: datetime, ranges: list[tuple[int, int]]
) -> None:
    assert phase_ranges(SIX_HOURS, after, until) == ranges


def test_every_slot_with_a_moment_in_a_window_is_in_its_phases_and_no_other() -> None:
    after, until = NOW - timedelta(minutes=20), NOW + timedelta(minutes=25)
    for period in (300, 3600, 5400, SIX_HOURS):
        inside = {phase for low, high in phase_ranges(period, after, until) for phase in range(low, high + 1)}
        for phase in range(0, period, 7):
            slot = Slot(period, phase)
            assert (phase in inside) == (slot.latest(until) > after), (period, phase)


def test_a_moment_is_due_unless_a_check_landed_since_shortly_before_it() -> None:
    anchor = NOW - timedelta(days=1)  # long ago: NOW is a later moment of its slot
    assert is_due(NOW, anchor, None)
    assert is_due(NOW, anchor, NOW - timedelta(hours=6))  # the previous moment's check
    assert is_due(NOW, anchor, NOW - SLACK - timedelta(microseconds=1))
    assert not is_due(NOW, anchor, NOW - SLACK)  # a check a moment before counts as its own
    assert not is_due(NOW, anchor, NOW + timedelta(minutes=3))


def test_the_first_moment_counts_a_check_from_first_grace_before_the_anchor() -> None:
    registered = NOW
    anchor = registered + FIRST_GRACE  # as the registry anchors a new target: its first check queued at once
    first = first_moment(anchor)
    assert not is_due(first, anchor, registered + timedelta(seconds=2))  # the check queued at registration
    assert is_due(first, anchor, None)  # it never landed: the sweep's to queue
    assert is_due(first, anchor, registered - timedelta(seconds=1))  # a check before it was anchored there
    assert not is_due(first - timedelta(hours=6), anchor, None)  # a moment before the slot began is none of it


def test_the_next_check_is_the_first_moment_the_last_check_leaves_due() -> None:
    anchor = NOW + FIRST_GRACE
    assert next_check(anchor, 360, None) == anchor
    assert next_check(anchor, 360, NOW + timedelta(seconds=3)) == anchor + timedelta(hours=6)
    assert next_check(anchor, 360, anchor + timedelta(minutes=4)) == anchor + timedelta(hours=6)  # late: no move
    assert next_check(anchor, 360, anchor + timedelta(hours=13)) == anchor + timedelta(hours=18)
    for last in (
        None,
        NOW + timedelta(seconds=3),
        anchor + timedelta(hours=7),
        anchor + timedelta(hours=11, minutes=59),
    ):
        upcoming = next_check(anchor, 360, last)
        assert is_due(upcoming, anchor, last)  # what it says is due, is
        assert not is_due(upcoming - timedelta(hours=6), anchor, last) or upcoming == first_moment(anchor)


def test_sweeps_claim_windows_in_turn_and_go_over_an_hours_claims_an_hour_later() -> None:
    state, window = _claimed(None, NOW)
    assert window == Window(NOW - LEASE)  # the first sweep: the hour before it
    assert claim(state, NOW) is None  # as far as claimed: nothing left
    assert claim(state, NOW - MINUTE) is None
    state, window = _claimed(state, NOW + 15 * MINUTE)
    assert window == Window(NOW)
    state, window = _claimed(state, NOW + 45 * MINUTE)
    assert window == Window(NOW + 15 * MINUTE)
    state, window = _claimed(state, NOW + 60 * MINUTE)  # the first claim is an hour old
    assert window == Window(NOW + 45 * MINUTE, (NOW - LEASE, NOW))
    state, window = _claimed(state, NOW + 90 * MINUTE)
    assert window == Window(NOW + 60 * MINUTE)
    state, window = _claimed(state, NOW + 120 * MINUTE)  # the claims made since, an hour on from the last
    assert window == Window(NOW + 90 * MINUTE, (NOW, NOW + 60 * MINUTE))
    assert state == Sweeps(NOW + 120 * MINUTE, NOW + 120 * MINUTE, NOW + 60 * MINUTE)


def test_the_claims_of_a_long_window_are_gone_over_an_hour_after_it_was_claimed_not_before() -> None:
    state, _ = _claimed(Sweeps(NOW, NOW, NOW - LEASE), NOW + LEASE)  # a sweep an hour on goes over NOW's claims
    outage_end = NOW + timedelta(hours=10)
    state, window = _claimed(state, outage_end)  # ten hours without a sweep
    assert window == Window(NOW + LEASE, (NOW, NOW + LEASE))
    for minutes in (15, 30, 45):
        state, window = _claimed(state, outage_end + minutes * MINUTE)
        assert window.recheck is None  # the long window was queued minutes ago: not gone over yet
    state, window = _claimed(state, outage_end + LEASE)
    assert window.recheck == (NOW + LEASE, outage_end)


def test_the_sweeps_state_of_the_version_before_slots_reads_as_nothing_to_go_over() -> None:
    state, window = _claimed(Sweeps(NOW, NOW, NOW), NOW + LEASE)
    assert window == Window(NOW)  # nothing before NOW's end is gone over: that version leased its own
    assert state.rechecked == NOW


def _claimed(before: Sweeps | None, now: datetime) -> tuple[Sweeps, Window]:
    claimed = claim(before, now)
    assert claimed is not None
    return claimed
