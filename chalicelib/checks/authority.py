"""Asking the certificate's CA: revocation (CRL, OCSP) and ACME renewal information, as switched on.

Both fetch through one guarded fetcher, because the URLs they fetch come from served
certificates: any server names them.
"""

from __future__ import annotations

from chalicelib.checks.fetcher import UrlFetcher
from chalicelib.checks.renewalinfo import RenewalInfoChecker
from chalicelib.checks.resolver import SystemResolver
from chalicelib.checks.revocation import RevocationChecker, RevocationLimits
from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.renewalinfo import directory_table
from chalicelib.errors import ConfigurationError


def ca_checks(
    resolver: SystemResolver,
    address_policy: AddressPolicy,
    *,
    revocation: bool,
    ari: bool,
    ari_directories: str,
    fetch_timeout: float,
    crl_max_bytes: int,
) -> tuple[RevocationChecker | None, RenewalInfoChecker | None]:
    """The engine's revocation and renewal-information checkers (None where switched off)."""
    if not (revocation or ari):
        return None, None
    try:
        directories = directory_table(ari_directories)
    except ValueError as exc:
        raise ConfigurationError(f"CERTWATCH_ARI_DIRECTORIES: {exc}") from exc
    fetcher = UrlFetcher(resolver=resolver, address_policy=address_policy, timeout=fetch_timeout)
    return (
        RevocationChecker(fetcher, RevocationLimits(crl_max_bytes=crl_max_bytes)) if revocation else None,
        RenewalInfoChecker(fetcher, directories) if ari else None,
    )
