"""The verified chain a result keeps: the path a client verifying the checked name accepts, or nothing.

It is what blackbox_exporter's probe_ssl_last_chain_expiry_timestamp_seconds and ssl_exporter's
ssl_verified_cert_* read (Go's VerifiedChains): leaf first, the trust anchor last, and empty
whenever a verifying client refuses the chain (expired, another name, untrusted, incomplete).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chalicelib.domain.analysis import analyze_chain
from chalicelib.domain.models import CheckPolicy, CheckResult
from lab.certs import Issued, make_ca, make_cert
from tests.support.pki import Pki

NAME = "www.example.com"
DAY = timedelta(days=1)


def _result(served: list[Issued], pki: Pki, now: datetime, name: str | None = NAME) -> CheckResult:
    ders = [issued.der for issued in served]
    return analyze_chain(ders, name=name, now=now, trust=pki.trust, policy=CheckPolicy()).result(now)


def test_a_chain_a_client_accepts_is_kept_leaf_first_with_its_anchor_last(pki: Pki, now: datetime) -> None:
    leaf = make_cert(NAME, issuer=pki.intermediate, now=now)

    result = _result([leaf, pki.intermediate], pki, now)

    assert [c.subject for c in result.verified_chain] == [
        f"CN={NAME}",
        "CN=certwatch Test Intermediate",
        "CN=certwatch Test Root",
    ]
    assert result.verified_chain[0] == result.leaf
    assert result.verified_chain[1] == result.chain[0]


def test_a_certificate_sent_that_the_path_does_not_use_stays_out_of_it(pki: Pki, now: datetime) -> None:
    leaf = make_cert(NAME, issuer=pki.intermediate, now=now)
    stray = make_ca("certwatch Stray CA", now=now)

    result = _result([leaf, pki.intermediate, stray], pki, now)

    assert [c.subject for c in result.verified_chain][-1] == "CN=certwatch Test Root"
    assert "CN=certwatch Stray CA" not in [c.subject for c in result.verified_chain]
    assert "CN=certwatch Stray CA" in [c.subject for c in result.chain]


@pytest.mark.parametrize("case", ["expired", "not yet valid", "another name", "untrusted", "no intermediate"])
def test_a_chain_a_client_refuses_keeps_no_verified_chain(pki: Pki, now: datetime, case: str) -> None:
    foreign_root = make_ca("Foreign Root", now=now)
    foreign = make_ca("Foreign Intermediate", issuer=foreign_root, now=now)
    chains = {
        "expired": [make_cert(NAME, issuer=pki.intermediate, not_before=now - 90 * DAY, not_after=now - DAY)],
        "not yet valid": [make_cert(NAME, issuer=pki.intermediate, not_before=now + DAY, not_after=now + 90 * DAY)],
        "another name": [make_cert("other.example.com", issuer=pki.intermediate, now=now)],
        "untrusted": [make_cert(NAME, issuer=foreign, now=now), foreign],
        "no intermediate": [make_cert(NAME, issuer=pki.intermediate, now=now)],
    }
    served = chains[case]
    if case in {"expired", "not yet valid", "another name"}:
        served = [*served, pki.intermediate]

    result = _result(served, pki, now)

    assert result.leaf is not None  # the certificate was read all the same
    assert result.verified_chain == ()


def test_without_a_name_the_path_alone_is_judged(pki: Pki, now: datetime) -> None:
    leaf = make_cert(NAME, issuer=pki.intermediate, now=now)

    result = _result([leaf, pki.intermediate], pki, now, name=None)

    assert len(result.verified_chain) == 3
