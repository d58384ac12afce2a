"""Fetching an ACME CA's renewal window for a certificate (RFC 9773), through the guarded fetcher.

The directory (which names the ``renewalInfo`` URL) is kept a day; each certificate's window
is kept until the CA's Retry-After. A CA that does not answer costs nothing but a debug line:
no finding is better than a wrong one, and its next answer is asked for a quarter hour later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime, timedelta

from cryptography import x509

from chalicelib.checks.caching import ExpiringCache
from chalicelib.checks.fetcher import UrlFetcher
from chalicelib.domain.models import CheckPolicy, Finding, RenewalWindow
from chalicelib.domain.renewalinfo import (
    cert_id,
    directory_for,
    parse_window,
    renewal_finding,
    renewal_info_url,
    retry_after,
)
from chalicelib.errors import FetchError

logger = logging.getLogger(__name__)

DIRECTORY_AGE = timedelta(days=1)
FAILURE_AGE = timedelta(minutes=15)
MAX_BYTES = 64 * 1024


class RenewalInfoChecker:
    """Asks the ACME CA of a leaf, when the table knows one, for the leaf's suggested renewal window."""

    def __init__(self, fetcher: UrlFetcher, directories: Mapping[str, str]) -> None:
        self._fetcher = fetcher
        self._directories = dict(directories)
        self._renewal_urls: ExpiringCache[str, str | None] = ExpiringCache(max_entries=64)
        self._windows: ExpiringCache[tuple[str, str], RenewalWindow | None] = ExpiringCache()

    def check(self, leaf: x509.Certificate, now: datetime, policy: CheckPolicy) -> tuple[Finding, ...]:
        """RENEWAL_REQUESTED when the CA's window has started; nothing otherwise; never raises."""
        return self.judge(leaf, now, policy)[0]

    def judge(
        self, leaf: x509.Certificate, now: datetime, policy: CheckPolicy
    ) -> tuple[tuple[Finding, ...], RenewalWindow | None]:
        """The finding ``check`` gives, and the CA's window itself (None when none was had); never raises."""
        try:
            directory = directory_for(leaf.issuer, self._directories)
            identifier = cert_id(leaf) if directory else None
            if directory is None or identifier is None:
                return (), None
            deadline = time.monotonic() + self._fetcher.timeout
            base = self._renewal_urls.get(directory, now, lambda: self._directory(directory, now, deadline))
            if base is None:
                return (), None
            window = self._windows.get((base, identifier), now, lambda: self._window(base, identifier, now, deadline))
            if window is None:
                return (), None
            finding = renewal_finding(window, leaf.not_valid_before_utc, leaf.not_valid_after_utc, now, policy)
        except Exception:  # a bug costs this finding, never the check
            logger.exception("renewal information checking failed")
            return (), None
        return () if finding is None else (finding,), window

    def _directory(self, url: str, now: datetime, deadline: float) -> tuple[str | None, datetime]:
        try:
            fetched = self._fetcher.get(url, max_bytes=MAX_BYTES, deadline=deadline, accept="application/json")
        except FetchError as exc:
            logger.debug("ACME directory not read: %s", exc)
            return None, now + FAILURE_AGE
        return renewal_info_url(fetched.body), now + DIRECTORY_AGE

    def _window(
        self, base: str, identifier: str, now: datetime, deadline: float
    ) -> tuple[RenewalWindow | None, datetime]:
        url = f"{base.rstrip('/')}/{identifier}"
        try:
            fetched = self._fetcher.get(url, max_bytes=MAX_BYTES, deadline=deadline, accept="application/json")
            window = parse_window(fetched.body)
        except FetchError as exc:
            logger.debug("renewal information not read: %s", exc)
            return None, now + FAILURE_AGE
        except (ValueError, TypeError, AttributeError) as exc:
            logger.debug("renewal information not understood from %s: %s", url, exc)
            return None, now + FAILURE_AGE
        return window, retry_after(fetched.headers.get("retry-after"), now)
