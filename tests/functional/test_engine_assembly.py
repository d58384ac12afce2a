"""The one engine factory (checks/assembly.py): what the settings say, and who guards what."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.checks.assembly import check_engine
from chalicelib.checks.engine import CheckEngine
from chalicelib.checks.resolver import SystemResolver
from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.endpoints import parse_target
from chalicelib.errors import ConfigurationError
from chalicelib.settings import Settings
from tests.functional.helpers import TIMEOUT, reason
from tests.support.net import closed_port, no_dns
from tests.support.pki import Pki

QUICK = Settings(check_timeout=TIMEOUT, revocation=False, ari=False)


@pytest.fixture
def built() -> Iterator[list[CheckEngine]]:
    engines: list[CheckEngine] = []
    yield engines
    for engine in engines:
        engine.close()


def test_the_functions_engine_guards_the_addresses_it_checks_and_the_clis_does_not(
    pki: Pki, built: list[CheckEngine]
) -> None:
    guarded = check_engine(QUICK, trust=pki.trust, resolver=SystemResolver(lookup=no_dns))
    operators = check_engine(QUICK, trust=pki.trust, resolver=SystemResolver(lookup=no_dns), guard_targets=False)
    built += [guarded, operators]

    with closed_port() as port:
        target = parse_target(f"127.0.0.1:{port}")
        assert reason(guarded.check(target)) == "forbidden"
        assert reason(operators.check(target)) == "refused"


def test_the_settings_allow_cidrs_are_the_guard_unless_a_policy_is_given(pki: Pki, built: list[CheckEngine]) -> None:
    allowed = Settings(check_timeout=TIMEOUT, revocation=False, ari=False, allow_cidrs="127.0.0.0/8")
    by_settings = check_engine(allowed, trust=pki.trust, resolver=SystemResolver(lookup=no_dns))
    by_policy = check_engine(
        allowed, trust=pki.trust, resolver=SystemResolver(lookup=no_dns), address_policy=AddressPolicy()
    )
    built += [by_settings, by_policy]

    with closed_port() as port:
        target = parse_target(f"127.0.0.1:{port}")
        assert reason(by_settings.check(target)) == "refused"
        assert reason(by_policy.check(target)) == "forbidden"


def test_unreadable_ari_directories_stop_the_build_only_when_a_ca_is_to_be_asked(
    pki: Pki, built: list[CheckEngine]
) -> None:
    unreadable = Settings(ari_directories="{not json")

    with pytest.raises(ConfigurationError, match="CERTWATCH_ARI_DIRECTORIES"):
        check_engine(unreadable, trust=pki.trust, resolver=SystemResolver(lookup=no_dns))
    built.append(
        check_engine(
            Settings(ari_directories="{not json", revocation=False, ari=False),
            trust=pki.trust,
            resolver=SystemResolver(lookup=no_dns),
        )
    )
