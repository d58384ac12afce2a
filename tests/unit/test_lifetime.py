"""The CA/Browser Forum's shrinking lifetimes: judged on notBefore, for chains that end at a public root only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.analysis import analyze_chain
from chalicelib.domain.lifetime import max_lifetime_days, next_step
from chalicelib.domain.models import CheckPolicy, FindingCode, Severity
from chalicelib.domain.truststore import TrustStore
from lab.certs import make_cert
from tests.support.pki import Pki

STEP_200 = datetime(2026, 3, 15, tzinfo=UTC)


def _judge(pki: Pki, not_before: datetime, days: float, *, public: bool = True) -> dict[FindingCode, Severity]:
    leaf = make_cert(
        "life.test", issuer=pki.intermediate, not_before=not_before, not_after=not_before + timedelta(days=days)
    )
    trust = TrustStore([pki.root.cert]) if public else TrustStore([], [pki.root.cert])
    analysis = analyze_chain(
        [leaf.der, pki.intermediate.der],
        name="life.test",
        now=not_before + timedelta(days=1),
        trust=trust,
        policy=CheckPolicy(warn_days=0, critical_days=0),
    )
    assert analysis.publicly_trusted is public
    return {f.code: f.severity for f in analysis.findings}


@pytest.mark.parametrize(
    ("not_before", "days", "exceeds"),
    [
        (STEP_200 + timedelta(days=10), 199, False),
        (STEP_200 + timedelta(days=10), 200, False),
        (STEP_200 + timedelta(days=10), 201, True),
        (STEP_200 - timedelta(days=10), 398, False),
        (STEP_200 - timedelta(days=10), 399, True),
        (STEP_200 - timedelta(seconds=1), 300, False),  # issued the second before the step: 398 days still
        (STEP_200, 300, True),
        (datetime(2027, 3, 15, tzinfo=UTC), 101, True),
        (datetime(2027, 3, 15, tzinfo=UTC), 100, False),
        (datetime(2029, 3, 15, tzinfo=UTC), 48, True),
        (datetime(2029, 3, 15, tzinfo=UTC), 47, False),
    ],
)
def test_a_public_leaf_is_judged_by_the_limit_in_force_on_its_not_before(
    pki: Pki, not_before: datetime, days: int, exceeds: bool
) -> None:
    found = _judge(pki, not_before, days)
    assert (FindingCode.LIFETIME_EXCEEDS_POLICY in found) is exceeds
    if exceeds:
        assert found[FindingCode.LIFETIME_EXCEEDS_POLICY] is Severity.CRITICAL


def test_the_finding_says_how_long_and_what_is_allowed(pki: Pki) -> None:
    leaf = make_cert(
        "life.test",
        issuer=pki.intermediate,
        not_before=STEP_200 + timedelta(days=10),
        not_after=STEP_200 + timedelta(days=211),
    )
    analysis = analyze_chain(
        [leaf.der, pki.intermediate.der],
        name="life.test",
        now=STEP_200 + timedelta(days=11),
        trust=TrustStore([pki.root.cert]),
        policy=CheckPolicy(),
    )
    (finding,) = [f for f in analysis.findings if f.code is FindingCode.LIFETIME_EXCEEDS_POLICY]
    assert "valid for 201 days, longer than the 200 days public CAs may issue since 2026-03-15" in finding.message


def test_a_private_anchor_is_never_held_to_the_public_limits(pki: Pki) -> None:
    assert FindingCode.LIFETIME_EXCEEDS_POLICY not in _judge(pki, STEP_200 + timedelta(days=10), 825, public=False)


def test_the_schedule_and_its_next_step() -> None:
    assert max_lifetime_days(datetime(2026, 3, 14, tzinfo=UTC)) == 398
    assert max_lifetime_days(STEP_200) == 200
    assert max_lifetime_days(datetime(2028, 1, 1, tzinfo=UTC)) == 100
    assert max_lifetime_days(datetime(2030, 1, 1, tzinfo=UTC)) == 47
    assert max_lifetime_days(datetime(2019, 1, 1, tzinfo=UTC)) is None
    step = next_step(datetime(2026, 11, 27, tzinfo=UTC))
    assert step is not None
    assert (step.since, step.max_days) == (datetime(2027, 3, 15, tzinfo=UTC), 100)
    assert next_step(datetime(2030, 1, 1, tzinfo=UTC)) is None
