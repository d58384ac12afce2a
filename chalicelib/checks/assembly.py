"""The one way a CheckEngine is built: from the settings, for the functions, the CLI and the benchmarks.

Asking the certificate's CA (revocation by CRL and OCSP, ACME renewal information) fetches
through one guarded fetcher, because the URLs it fetches come from served certificates: any
server names them.
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.checks.engine import CheckEngine
from chalicelib.checks.fetcher import UrlFetcher
from chalicelib.checks.renewalinfo import RenewalInfoChecker
from chalicelib.checks.resolver import SystemResolver
from chalicelib.checks.revocation import RevocationChecker, RevocationLimits
from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.clock import Clock, utc_now
from chalicelib.domain.renewalinfo import directory_table
from chalicelib.domain.truststore import TrustStore
from chalicelib.errors import ConfigurationError


class EngineSettings(Protocol):
    """The fields of ``chalicelib.settings.Settings`` an engine is built from (checks/ imports no settings)."""

    @property
    def check_timeout(self) -> float: ...
    @property
    def check_concurrency(self) -> int: ...
    @property
    def allow_cidrs(self) -> str: ...
    @property
    def revocation(self) -> bool: ...
    @property
    def ari(self) -> bool: ...
    @property
    def ari_directories(self) -> str: ...
    @property
    def fetch_timeout(self) -> float: ...
    @property
    def crl_max_bytes(self) -> int: ...
    @property
    def legacy_tls_probe(self) -> bool: ...


def check_engine(
    settings: EngineSettings,
    *,
    trust: TrustStore,
    resolver: SystemResolver,
    clock: Clock = utc_now,
    address_policy: AddressPolicy | None = None,
    guard_targets: bool = True,
    all_addresses: bool = True,
    fetcher: UrlFetcher | None = None,
) -> CheckEngine:
    """The engine ``settings`` describe: its timeout and concurrency, and the CA checks switched on.

    ``address_policy`` (by default the settings' ``allow_cidrs``) bounds every URL a certificate
    names; with ``guard_targets`` it bounds the addresses checked too (a team's targets are not
    the operator's choice; those named on the command line are). ``fetcher`` replaces the one
    the CA checks share (a benchmark counts its requests).
    """
    policy = address_policy if address_policy is not None else _address_policy(settings.allow_cidrs)
    revocation, renewal_info = _ca_checks(settings, resolver, policy, fetcher)
    return CheckEngine(
        trust=trust,
        resolver=resolver,
        clock=clock,
        timeout=settings.check_timeout,
        all_addresses=all_addresses,
        concurrency=settings.check_concurrency,
        address_policy=policy if guard_targets else None,
        revocation=revocation,
        renewal_info=renewal_info,
        legacy_tls=settings.legacy_tls_probe,
    )


def _ca_checks(
    settings: EngineSettings, resolver: SystemResolver, policy: AddressPolicy, fetcher: UrlFetcher | None
) -> tuple[RevocationChecker | None, RenewalInfoChecker | None]:
    """The engine's revocation and renewal-information checkers (None where switched off), on one fetcher."""
    if not (settings.revocation or settings.ari):
        return None, None
    try:
        directories = directory_table(settings.ari_directories)
    except ValueError as exc:
        raise ConfigurationError(f"CERTWATCH_ARI_DIRECTORIES: {exc}") from exc
    if fetcher is None:
        fetcher = UrlFetcher(resolver=resolver, address_policy=policy, timeout=settings.fetch_timeout)
    limits = RevocationLimits(crl_max_bytes=settings.crl_max_bytes)
    return (
        RevocationChecker(fetcher, limits) if settings.revocation else None,
        RenewalInfoChecker(fetcher, directories) if settings.ari else None,
    )


def _address_policy(allow_cidrs: str) -> AddressPolicy:
    try:
        return AddressPolicy.from_text(allow_cidrs)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
